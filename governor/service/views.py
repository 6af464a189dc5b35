"""The JSON shapes the gate answers with: a session, a project's budget, a usage period, a UTC time."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from governor.model import LedgerEntry, LedgerState, Period, ProjectPolicy, Session, SessionStatus, Usage, cost_of
from governor.policy import gate as rules
from governor.timespan import format_timespan


def budget_view(policy: ProjectPolicy, usage: Mapping[Period, Usage]) -> dict:
    return {
        "currency": policy.currency,
        "remainingBudget": rules.money(rules.tightest_remaining(usage)),
        "budget": {u.period.value: usage_view(u) for u in usage.values()},
    }


def session_view(policy: ProjectPolicy, entry: LedgerEntry, session: Session | None, usage) -> dict:
    elapsed = elapsed_of(entry, session)
    spent = max(entry.charged, cost_of(entry.rate, rules.minutes(elapsed)))
    if session is not None:
        status = session.status.value
    elif entry.state is LedgerState.CLOSED:
        status = (entry.final_status or SessionStatus.STOPPED).value
    else:
        status = SessionStatus.STARTING.value if entry.state is LedgerState.PENDING else "Unknown"
    view = {
        "sessionId": entry.session_id,
        "project": entry.project,
        "size": entry.size.value,
        "status": status,
        "state": entry.state.value,
        "requestedAt": iso(entry.requested_at),
        "leaseMinutes": rules.minutes(entry.lease),
        "lease": format_timespan(entry.lease),
        "elapsedMinutes": rules.minutes(elapsed),
        "remainingLeaseMinutes": rules.minutes(max(entry.lease - elapsed, timedelta(0))),
        "costSoFar": rules.money(spent),
        "reservedCost": rules.money(entry.reserved),
        "extensions": entry.extensions,
        "lastHeartbeat": iso(entry.last_heartbeat),
        **budget_view(policy, usage),
    }
    if session is not None and session.hostname:
        view.update(
            hostname=session.hostname,
            arrInspectorPort=session.arr_inspector_port,
            handshakePort=session.handshake_port,
        )
    return view


def elapsed_of(entry: LedgerEntry, session: Session | None) -> timedelta:
    if session is not None:
        return session.elapsed
    return timedelta(minutes=entry.charged_minutes)


def usage_view(usage: Usage) -> dict:
    return {
        "period": usage.period.value,
        "key": usage.key,
        "budget": rules.money(usage.budget),
        "spent": rules.money(usage.spent),
        "reserved": rules.money(usage.reserved),
        "remaining": rules.money(usage.remaining),
    }


def iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")
