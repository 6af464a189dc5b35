"""The JSON shapes the gate answers with: a session, a project's budget, a usage period, a UTC time."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import timedelta

from governor.core.model import (
    CallerKey,
    CallerLimits,
    ConnectTarget,
    ConnectToken,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Session,
    SessionStatus,
    Usage,
    cost_of,
    money_text,
    utc_text,
    whole_minutes,
)
from governor.core.policy import gate as rules
from governor.core.policy.document import limits_to_document
from governor.core.timespan import format_timespan


def budget_view(policy: ProjectPolicy, usage: Mapping[Period, Usage]) -> dict:
    return {
        "currency": policy.currency,
        "remainingBudget": money_text(rules.tightest_remaining(usage)),
        "budget": {u.period.value: usage_view(u) for u in usage.values()},
    }


def session_view(policy: ProjectPolicy, entry: LedgerEntry, session: Session | None, usage) -> dict:
    elapsed = elapsed_of(entry, session)
    spent = max(entry.charged, cost_of(entry.rate, whole_minutes(elapsed)))
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
        "account": entry.account,
        "status": status,
        "state": state_of(entry, session).value,
        "requestedAt": iso(entry.requested_at),
        "leaseMinutes": whole_minutes(entry.lease),
        "lease": format_timespan(entry.lease),
        "elapsedMinutes": whole_minutes(elapsed),
        "remainingLeaseMinutes": whole_minutes(max(entry.lease - elapsed, timedelta(0))),
        "costSoFar": money_text(spent),
        "reservedCost": money_text(entry.reserved),
        "extensions": entry.extensions,
        "lastHeartbeat": iso(entry.last_heartbeat),
        "caller": entry.caller,
        **budget_view(policy, usage),
    }
    if session is not None and session.hostname:
        view.update(
            hostname=session.hostname,
            arrInspectorPort=session.arr_inspector_port,
            handshakePort=session.handshake_port,
        )
    return view


def state_of(entry: LedgerEntry, session: Session | None) -> LedgerState:
    """A pending row whose session ARR reports is active: the create happened, and the write that
    says so rides the project's next transaction (or the sweep's)."""
    if entry.state is LedgerState.PENDING and session is not None:
        return LedgerState.ACTIVE
    return entry.state


def elapsed_of(entry: LedgerEntry, session: Session | None) -> timedelta:
    if session is not None:
        return session.elapsed
    return timedelta(minutes=entry.charged_minutes)


def usage_view(usage: Usage) -> dict:
    return {
        "period": usage.period.value,
        "key": usage.key,
        "budget": money_text(usage.budget),
        "spent": money_text(usage.spent),
        "reserved": money_text(usage.reserved),
        "remaining": money_text(usage.remaining),
        "saved": money_text(usage.saved),
    }


iso = utc_text


def key_view(key: CallerKey) -> dict:
    """A named key as listed: never its secret or hash."""
    return {
        "name": key.name,
        "createdAt": iso(key.created_at),
        "expiresAt": iso(key.expires_at),
        "lastUsedAt": iso(key.last_used),
        "limits": limits_to_document(key.limits),
    }


def callers_view(entries, spent: Mapping[Period, Mapping[str, int]], limits: Mapping[str, CallerLimits]) -> list[dict]:
    """Usage by caller: every known key or limited principal, and any caller that spent or holds money."""
    open_entries = [e for e in entries if e.state is not LedgerState.CLOSED]
    names = set(limits) | {e.caller for e in open_entries} | {n for by in spent.values() for n in by}
    rows = []
    for name in sorted(names, key=lambda n: (n is None, n or "")):
        mine = [e for e in open_entries if e.caller == name]
        rows.append(
            {
                "caller": name,
                "openSessions": len(mine),
                "reserved": money_text(sum(e.reserved for e in mine)),
                "spent": {period.value: money_text(by.get(name, 0)) for period, by in spent.items()},
                "limits": limits_to_document(limits.get(name, CallerLimits())),
            }
        )
    return rows


def placement_usage_view(day: str, entries, failures) -> dict:
    """One day's placement: sessions per account (attempts that made a session), and the attempts ARR
    ended for want of servers, per account and size."""
    failed_ids = {f.session_id for f in failures}
    ran = Counter(e.account for e in entries if not e.released and e.session_id not in failed_ids)
    failed = Counter((f.account, f.size.value) for f in failures)
    return {
        "day": day,
        "sessionsByAccount": dict(sorted(ran.items())),
        "capacityFailures": [
            {"account": account, "size": size, "count": count} for (account, size), count in sorted(failed.items())
        ],
    }


def connect_view(target: ConnectTarget, session: Session, token: ConnectToken | None) -> dict:
    """The connect answer: ARR's SessionConfiguration values, under our names and ARR's own."""
    view: dict = {
        "sessionId": session.id,
        "accountId": target.account_id,
        "accountDomain": target.account_domain,
        "remoteRenderingDomain": target.remote_rendering_domain,
        "hostname": session.hostname,
        "handshakePort": session.handshake_port,
        "arrInspectorPort": session.arr_inspector_port,
        "connectAuth": target.auth,
        "canStartSessions": target.can_start_sessions,
    }
    configuration = {
        "AccountId": target.account_id,
        "AccountDomain": target.account_domain,
        "RemoteRenderingDomain": target.remote_rendering_domain,
    }
    if token is not None:
        view["accessToken"] = configuration["AccessToken"] = token.token
        view["accessTokenExpiresOn"] = iso(token.expires_on)
    return {**view, "sessionConfiguration": configuration}
