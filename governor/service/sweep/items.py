"""What one sweep decided about one session, shared by the sweep's steps."""

from __future__ import annotations

from dataclasses import dataclass

from governor.core.model import LedgerEntry, ProjectPolicy, Session
from governor.core.policy.sweep import Decision


@dataclass
class Item:
    """One thing the sweep decided about, and what happened when it acted."""

    project: str
    session_id: str
    account: str
    decision: Decision
    session: Session | None = None
    entry: LedgerEntry | None = None
    policy: ProjectPolicy | None = None
    outcome: str = "ok"
    error: str | None = None
    ms_cv: str | None = None
    claim: LedgerEntry | None = None  # the v1 claim this session was matched to: charged to its project
    audit_key: str | None = None  # the audit row written before acting, completed after


def item_for(entry, decision, session=None, policy=None) -> Item:
    return Item(entry.project, entry.session_id, entry.account, decision, session, entry, policy)
