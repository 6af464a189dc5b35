"""Timeline text: the governor's audit rows (what the sweep decided, why, with which figures; where
the gate or the sweep placed an attempt, and which ran out of servers) and the projects' policies,
as one readable line each."""

from __future__ import annotations

from collections.abc import Iterable

from governor.core.model import UNKNOWN, format_money, to_micros
from governor.core.policy.placement import CAPACITY, EVENTS, PLACED


def money(value) -> str:
    """Money as the API answers it (a decimal string in cost units), for people."""
    return format_money(None if value is None else to_micros(value))


def _num(value) -> str:
    return "?" if value is None else f"{float(value):g}"


def _ago(minutes) -> str:
    """A heartbeat age given in minutes (ARR's clock); under a minute it reads better in seconds."""
    if minutes is None:
        return "never"
    return f"{float(minutes) * 60:.0f} s ago" if float(minutes) < 1 else f"{_num(minutes)} min ago"


def policy_figures(document: dict) -> str:
    currency = document.get("currency", "")
    rates = ", ".join(f"{size} {money(rate)}/h" for size, rate in document["rates"].items())
    budget = document.get("budget", {})
    money_left = " + ".join(f"{money(budget[k])} {k}" for k in ("daily", "monthly") if k in budget)
    placement = f"; placement {' > '.join(document['placement'])}" if document.get("placement") else ""
    return (
        f"{rates}; budget {money_left} {currency}; idle {document['idleTimeoutMinutes']} min; "
        f"+{document['extensionStepMinutes']} min when < {document['extensionThresholdMinutes']} min left{placement}"
    )


def new_records(store, projects: Iterable[str], session_ids: Iterable[str], seen: set) -> list:
    """The audit rows about the demo's sessions not shown yet, oldest first: the sweep's, and the
    placement and capacity rows of whoever wrote them (a client's poll through the gate, or the sweep)."""
    wanted = set(session_ids)
    fresh = []
    for project in projects:
        for record in store.recent_audit(200, project):
            key = (record.at, record.session_id, record.action, record.reason)
            told = record.source == "sweep" or record.action in EVENTS
            if not told or record.session_id not in wanted or key in seen:
                continue
            if record.outcome == UNKNOWN:  # written before ARR was asked: shown once its outcome is in
                continue
            seen.add(key)
            fresh.append(record)
    return sorted(fresh, key=lambda r: r.at)


def describe(record, label: str) -> tuple[str, str, str]:
    """(actor, event, figures) of one audit row."""
    f, action, reason = record.figures, record.action, record.reason
    elapsed = f"elapsed {_num(f.get('elapsed_minutes'))} min"
    failed = "" if record.outcome == "ok" else f" ({record.outcome})"
    if action == "extend":
        figures = (
            f"{_num(f.get('remaining_lease_minutes'))} min left < {_num(f.get('extension_threshold_minutes'))}, "
            f"last heartbeat {_ago(f.get('idle_minutes'))}; +{format_money(f.get('extra_cost'))} reserved"
        )
        event = f"extends {label}: lease {_num(f.get('lease_minutes'))} -> {_num(f.get('new_lease_minutes'))} min"
        return "sweep", event + failed, figures
    if action == "stop" and reason == "idle":
        heard = f.get("idle_minutes")
        last = "never sent a heartbeat" if heard is None else f"last heartbeat {_ago(heard)}"
        return (
            "sweep",
            f"stops {label}: idle{failed}",
            f"{elapsed}, {last}, timeout {_num(f.get('idle_timeout_minutes'))} min",
        )
    if action == "stop" and reason == "budget-exhausted":
        period = f.get("period", "day")
        spent, budget = format_money(f.get(f"{period}_spent")), format_money(f.get(f"{period}_budget"))
        return (
            "sweep",
            f"stops {label}: {record.project}'s {period} budget is used up{failed}",
            f"{elapsed}, spent {spent} of {budget}",
        )
    if action == "stop" and reason == "closed-hours":
        return (
            "sweep",
            f"stops {label}: {record.project} is closed{failed}",
            f"{elapsed}, opens again {f.get('opens_at') or 'never'}",
        )
    if action == "warn" and reason == "closing-soon":
        left = f.get("minutes_to_closing")
        return "sweep", f"warns {record.project}: closing time is near", f"in {_num(left)} min (governor's clock)"
    if action == "close" and reason.endswith("ended-error"):
        minutes = f"{_num(f.get('final_minutes'))} min"
        return "sweep", f"closes {label}'s attempt: ARR ended it in Error{failed}", minutes
    if action == CAPACITY:
        following = f.get("next") or {}
        return (
            record.source,
            f"{label}'s attempt in {f.get('account')} ends in Error: no {f.get('size')} server free there",
            f"{_num(f.get('minutes'))} min, charged {format_money(f.get('charged'))}; "
            f"next attempt: {following.get('account', 'none')} {following.get('size', '')}".rstrip(),
        )
    if action == PLACED:
        preferred = (f.get("preferred") or {}).get("account")
        attempt = f.get("attempt")
        event = f"starts {label}'s next attempt in" if attempt else f"places {label} in"
        tried = f"retry {_num(attempt)}" if attempt else "its first attempt"
        return (
            record.source,
            f"{event} {f.get('account')}, not {preferred}: {reason}",
            f"{f.get('size')} at {format_money(f.get('rate'))}/h, {tried}",
        )
    if action == "adopt":
        event = f"finds {label}, unknown to the gate, and adopts it into {record.project}{failed}"
        return "sweep", event, f"{elapsed}, lease {_num(f.get('lease_minutes'))} min, charged from its start"
    if action == "report":
        return "sweep", f"finds {label}, unknown to the gate, and reports it (mode {f.get('mode')})", elapsed
    if action == "warn" and reason == "budget-stop-soon":
        return (
            "sweep",
            f"warns {record.project}: budget runs out soon",
            f"in {_num(f.get('minutes_to_budget_stop'))} min",
        )
    if action == "warn" and reason == "extension-refused-budget":
        return "sweep", f"warns {record.project}: no money to extend {label}", elapsed
    if action == "warn" and reason == "hard-cap-soon":
        return (
            "sweep",
            f"warns {record.project}: {label} reaches its hard cap soon",
            f"in {_num(f.get('minutes_to_hard_cap'))} min, cap {_num(f.get('hard_cap_minutes'))} min",
        )
    if action == "warn" and reason == "extension-refused-cap":
        return (
            "sweep",
            f"refuses to extend {label}: the hard cap leaves no room",
            f"{_num(f.get('remaining_lease_minutes'))} min left, cap {_num(f.get('hard_cap_minutes'))} min",
        )
    return "sweep", f"{action} {label}: {reason}{failed}", elapsed
