"""Examples of every answer in the OpenAPI document, for `openapi_doc`.

Made by the code that makes the real answers wherever it is pure: session, usage, key and connect
views from `governor.service.gate.views`, project documents from `policy_to_document`, refusals from
the gate's rules, and every problem body from `http.problem`. So an example shows the fields, the
money format and the reason codes the governor really sends, for one sample project ("demo").
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import azure.functions as func

from governor import __version__
from governor.core.errors import Refusal, Unavailable
from governor.core.model import (
    MICROS,
    AdmissionSnapshot,
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
    VmSize,
    cost_of,
    money_text,
    utc_text,
    whole_minutes,
)
from governor.core.policy import gate as rules
from governor.core.policy.callers import parse_new_key
from governor.core.policy.document import PolicyError, policy_from_document, policy_to_document, schedule_from_document
from governor.functions import http
from governor.functions.dashboard import refresh_of
from governor.service.gate.views import budget_view, callers_view, connect_view, key_view, session_view, usage_view
from governor.settings import SETTINGS

Example = dict  # {"summary": ..., "value": ...}

SESSION_ID = "6f1c9a2e-3b7d-4e0a-9c55-2d8f4b1a7e30"
PATH_VALUES = {"project": "demo", "sessionId": SESSION_ID, "keyName": "lobby-kiosk"}
REQUESTED = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)  # a Thursday, 10:00 in Berlin
NOW = REQUESTED + timedelta(minutes=12, seconds=30)
NIGHT = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)  # 21:00 in Berlin: closed

SCHEDULE = schedule_from_document(
    {
        "timeZone": "Europe/Berlin",
        "hours": {day: "08:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
        "holidays": ["2026-12-24", "2026-12-25"],
        "closing": "finish",
        "warnBeforeMinutes": 15,
    }
)
POLICY = ProjectPolicy(
    name="demo",
    rates={VmSize.STANDARD: 3 * MICROS},
    currency="USD",
    daily_budget=50 * MICROS,
    monthly_budget=800 * MICROS,
    max_concurrent=2,
    schedule=SCHEDULE,
)
LEASE = timedelta(hours=1)
RESERVED = cost_of(POLICY.rate(VmSize.STANDARD), whole_minutes(LEASE))
USAGE = {
    Period.DAY: Usage("demo", Period.DAY, "2026-11-26", POLICY.daily_budget, 1_200_000, RESERVED),
    Period.MONTH: Usage("demo", Period.MONTH, "2026-11", POLICY.monthly_budget, 9_800_000, RESERVED, 1_500_000),
}
STARTING = LedgerEntry(
    project="demo",
    session_id=SESSION_ID,
    account="default",
    size=VmSize.STANDARD,
    state=LedgerState.PENDING,
    requested_at=REQUESTED,
    lease=LEASE,
    rate=POLICY.rate(VmSize.STANDARD),
    reserved=RESERVED,
    caller="lobby-kiosk",
)
ACTIVE = replace(STARTING, state=LedgerState.ACTIVE, last_heartbeat=NOW)
READY = Session(
    id=SESSION_ID,
    account="default",
    status=SessionStatus.READY,
    size=VmSize.STANDARD,
    elapsed=timedelta(minutes=12),
    max_lease=LEASE,
    hostname="arrstandard5d41402a.westeurope.remoterendering.vm.mixedreality.azure.com",
    arr_inspector_port=50505,
    handshake_port=50051,
)
KEY = "gk_" + "q7Hc2Vn0aZ4xR8mT1bYw6Kf3Lp9Ds5Ge" + "Uj2Nh7Xo4Wc"  # the shape of a caller key, not a real one
TARGET = ConnectTarget(
    account_id="b3c5e7a9-1d2f-4a6b-8c0d-2e4f6a8b0c1d",
    account_domain="westeurope.mixedreality.azure.com",
    remote_rendering_domain="westeurope.mixedreality.azure.com",
    auth="entra",
    can_start_sessions=False,
)
TOKEN = ConnectToken("eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJodHRwczovL3N0cy4uLiJ9.c2lnbmF0dXJl", NOW + LEASE)


def _example(summary: str, value) -> Example:
    return {"summary": summary, "value": value}


def _session(entry: LedgerEntry, session: Session | None, **extra) -> dict:
    interval = rules.heartbeat_interval(POLICY.idle_timeout)
    return {**session_view(POLICY, entry, session, USAGE), "heartbeatIntervalSeconds": interval, **extra}


def _extended() -> dict:
    late = replace(READY, elapsed=timedelta(minutes=50))  # the lease ends in 10 minutes
    extension = rules.decide_extension(POLICY, ACTIVE, late.elapsed, USAGE, None, REQUESTED + late.elapsed)
    extra = extension.extra_cost
    entry = replace(ACTIVE, lease=extension.lease, reserved=ACTIVE.reserved + extra, extensions=1)
    session = replace(late, max_lease=extension.lease)
    return _session(entry, session, extraCost=money_text(extra), partial=extension.partial)


def _stopped() -> dict:
    minutes = whole_minutes(READY.elapsed)
    charged = cost_of(ACTIVE.rate, minutes)
    entry = replace(
        ACTIVE,
        state=LedgerState.CLOSED,
        charged_minutes=minutes,
        charged=charged,
        reserved=0,
        final_status=SessionStatus.STOPPED,
    )
    return _session(entry, None)


def _keys() -> list[CallerKey]:
    created = datetime(2026, 11, 2, 8, 30, tzinfo=UTC)
    return [
        CallerKey("default", created, last_used=NOW),
        CallerKey("lobby-kiosk", created, NOW + timedelta(days=90), CallerLimits(1, 10 * MICROS), NOW),
    ]


def _usage() -> dict:
    earlier = replace(ACTIVE, session_id="0d9e8f7a-6b5c-4d3e-2f1a-0b9c8d7e6f5a", caller="default")
    entries = [ACTIVE, replace(earlier, state=LedgerState.CLOSED)]
    spent = {Period.DAY: {"default": 1_200_000}, Period.MONTH: {"default": 9_800_000}}
    return {
        "project": "demo",
        "currency": POLICY.currency,
        "periods": [usage_view(usage) for usage in USAGE.values()],
        "sessions": {"open": 1, "day": 2, "month": 14},
        **budget_view(POLICY, USAGE),
        "callers": callers_view(entries, spent, {k.name: k.limits for k in _keys()}),
    }


def _health(healthy: bool) -> dict:
    swept = NOW - (timedelta(seconds=20) if healthy else timedelta(minutes=7))
    return {
        "version": __version__,
        "time": utc_text(NOW),
        "storage": "reachable",
        "arr": {"default": "reachable" if healthy else "unreachable (no answer within 3 s)"},
        "connect": {"default": {"auth": TARGET.auth, "canStartSessions": TARGET.can_start_sessions}},
        "lastSweep": {"at": utc_text(swept), "outcome": "ok", "stale": not healthy, "staleAfterSeconds": 180},
        "status": "healthy" if healthy else "unhealthy",
    }


def success(name: str) -> dict[int, dict[str, Example]]:
    """The examples of an operation's success answers, by status."""
    project = policy_to_document(POLICY)
    key = next(k for k in _keys() if k.name == "lobby-kiosk")
    by_name: dict[str, Callable[[], dict[int, dict[str, Example]]]] = {
        "request_session": lambda: {
            202: {
                "admitted": _example(
                    "Admitted: ARR is starting the session",
                    _session(STARTING, replace(READY, status=SessionStatus.STARTING, elapsed=timedelta(0)))
                    | {"reservedCost": money_text(RESERVED), "partial": False},
                )
            }
        },
        "list_sessions": lambda: {
            200: {
                "sessions": _example(
                    "One running session",
                    {
                        "project": "demo",
                        "sessions": [_session(ACTIVE, READY, arrViewAgeSeconds=1.4)],
                        **budget_view(POLICY, USAGE),
                    },
                )
            }
        },
        "get_session": lambda: {200: {"ready": _example("Ready", _session(ACTIVE, READY, arrViewAgeSeconds=1.4))}},
        "heartbeat_session": lambda: {
            200: {
                "recorded": _example(
                    "Recorded; one more step would be granted",
                    _session(ACTIVE, READY)
                    | {"extension": rules.extension_outlook(POLICY, ACTIVE, READY.elapsed, USAGE, NOW)},
                )
            }
        },
        "connect_session": lambda: {
            200: {
                "entra": _example("A token of the connect identity", connect_view(TARGET, READY, TOKEN)),
                "none": _example(
                    "No token (connectAuth none): the app signs its user in",
                    connect_view(replace(TARGET, auth="none"), READY, None),
                ),
            }
        },
        "extend_session": lambda: {200: {"extended": _example("Extended by one step", _extended())}},
        "stop_session": lambda: {200: {"stopped": _example("Stopped and settled", _stopped())}},
        "project_usage": lambda: {200: {"byKey": _example("This month and day, by key (?by=key)", _usage())}},
        "manage_put_project": lambda: {
            200: {"replaced": _example("Replaced", project)},
            201: {"created": _example("Created", project)},
        },
        "manage_get_project": lambda: {200: {"project": _example("The stored document", project)}},
        "manage_list_projects": lambda: {200: {"projects": _example("Every project", {"projects": [project]})}},
        "manage_rotate_key": lambda: {
            201: {
                "added": _example(
                    "A named key added (with a body)",
                    {"project": "demo", **key_view(replace(key, last_used=None)), "key": KEY},
                ),
                "rotated": _example(
                    "Every key revoked, one named default added (without a body)",
                    {"project": "demo", "name": "default", "key": KEY},
                ),
            }
        },
        "manage_list_keys": lambda: {
            200: {"keys": _example("Names, dates, limits", {"project": "demo", "keys": [key_view(k) for k in _keys()]})}
        },
        "manage_rotate_named_key": lambda: {
            201: {"rotated": _example("A new secret", {"project": "demo", "name": "lobby-kiosk", "key": KEY})}
        },
        "dashboard": lambda: {200: {"page": _example("The page", "<!doctype html><html lang=en>…</html>")}},
        "project_dashboard": lambda: {200: {"page": _example("The page", "<!doctype html><html lang=en>…</html>")}},
        "health": lambda: {
            200: {"healthy": _example("Healthy", _health(True))},
            503: {"unhealthy": _example("The sweep is stale and ARR does not answer", _health(False))},
        },
        "openapi": lambda: {
            200: {
                "document": _example(
                    "This document (abridged)",
                    {"openapi": "3.1.0", "info": {"title": "ARR lease governor", "version": __version__}, "paths": {}},
                )
            }
        },
    }
    make = by_name.get(name)
    return make() if make else {}


def request(name: str) -> dict[str, Example]:
    """Examples of an operation's request body."""
    if name == "request_session":
        return {
            "minutes": _example("Standard, one hour", {"size": "Standard", "maxLeaseTime": 60}),
            "timespan": _example(
                "A TimeSpan lease and a model",
                {"size": "Standard", "maxLeaseTime": "01:30:00", "models": ["builtin://Engine"]},
            ),
            "placed": _example(
                "Nearest regions first; the governor retries elsewhere when one has no servers",
                {"size": "Standard", "maxLeaseTime": 60, "regions": ["westeurope", "default"], "autoRetry": True},
            ),
        }
    if name == "extend_session":
        return {
            "step": _example("One extension step", {}),
            "total": _example("Two hours in all since start", {"maxLeaseTime": 120}),
        }
    if name == "manage_put_project":
        document = {key: value for key, value in policy_to_document(POLICY).items() if key != "name"}
        return {"project": _example("A project with working hours", document)}
    if name == "manage_rotate_key":
        body = {"name": "lobby-kiosk", "maxConcurrent": 1, "dailyBudget": "10"}
        return {"named": _example("A named key with its own limits", body)}
    return {}


# ---------------------------------------------------------------- refusals
def _refused(call: Callable[[], object]) -> Refusal:
    try:
        call()
    except Refusal as refusal:
        return refusal
    raise AssertionError(f"{call} refused nothing")  # the sample no longer breaks the rule


def _request(minutes: int, size: VmSize = VmSize.STANDARD) -> rules.SessionRequest:
    return rules.SessionRequest(size, timedelta(minutes=minutes))


def _snapshot(active: int, left_today: int | None = None) -> AdmissionSnapshot:
    """The project running `active` sessions, with `left_today` micros of its daily budget left."""
    day = USAGE[Period.DAY]
    if left_today is not None:
        assert day.budget is not None  # POLICY has a daily budget
        day = replace(day, spent=day.budget - day.reserved - left_today)
    return AdmissionSnapshot(POLICY, active, {**USAGE, Period.DAY: day})


_BODY_REFUSALS: dict[str, Callable[[], object]] = {
    "request_session": lambda: rules.parse_session_request({"size": "Standard", "maxLeaseTime": 1441}),
    "extend_session": lambda: rules.parse_extend_request({"maxLeaseTime": "2h"}),
    "manage_put_project": lambda: _policy_refusal({"rates": {"Standard": "three"}}),
    "manage_rotate_key": lambda: parse_new_key({"name": "-kiosk"}, POLICY, NOW),
    "dashboard": lambda: refresh_of(func.HttpRequest("GET", "/api/dashboard", params={"refresh": "1"}, body=b"")),
}


def _policy_refusal(document: dict):
    try:
        policy_from_document(document, "demo")
    except PolicyError as exc:
        raise Refusal("bad-request", str(exc), {"field": exc.field}) from None


def _raise(reason: str, detail: str, figures: dict | None = None):
    raise Refusal(reason, detail, figures or {})


def _refusal(reason: str, operation: str) -> Refusal:
    max_body = int(next(s for s in SETTINGS if s.name == "GOVERNOR_MAX_BODY_BYTES").default or 0)
    makers: dict[str, Callable[[], object]] = {
        "bad-request": _BODY_REFUSALS.get(operation, lambda: rules.check_project_name("-demo")),
        "size-not-allowed": lambda: rules.check_request(POLICY, _request(60, VmSize.PREMIUM)),
        "idempotency-key-reused": lambda: rules.check_same_request(_request(30).fingerprint(), _request(60)),
        "lease-too-long": lambda: rules.check_request(POLICY, _request(300)),
        "concurrency-limit": lambda: rules.admit(_request(60), _snapshot(active=2)),
        "budget-exhausted": lambda: rules.admit(_request(60), _snapshot(active=0, left_today=RESERVED - MICROS // 2)),
        "outside-hours": lambda: rules.until_closing(POLICY, NIGHT),
        "extension-denied": lambda: rules.decide_extension(
            POLICY, ACTIVE, READY.elapsed, USAGE, timedelta(minutes=45), NOW
        ),
        "unauthorized": lambda: _raise("unauthorized", "send the project's caller key in the X-Api-Key header"),
        "forbidden": lambda: _raise(
            "forbidden", "the caller key is not valid for this project (unknown, revoked or expired)"
        ),
        "unknown-project": lambda: _raise("unknown-project", "no project named 'demo'"),
        "not-found": lambda: _raise(
            "not-found",
            "the project has no key named 'lobby-kiosk'"
            if operation.startswith("manage_")
            else f"no session {SESSION_ID!r} in this project",
        ),
        "conflict": lambda: _raise(
            "conflict",
            "the project already has a key named 'lobby-kiosk'"
            if operation.startswith("manage_")
            else "the first request with this Idempotency-Key is still in progress",
        ),
        "payload-too-large": lambda: _raise(
            "payload-too-large", f"the body exceeds {max_body} bytes", {"limit": max_body}
        ),
        "not-ready": lambda: _raise(
            "not-ready",
            "the session is Starting; connect once it is Ready",
            {"sessionStatus": SessionStatus.STARTING.value, "retryAfter": rules.NOT_READY_RETRY_SECONDS},
        ),
        "session-ended": lambda: _raise(
            "session-ended", "the session is Stopped", {"sessionStatus": SessionStatus.STOPPED.value}
        ),
        "upstream-unavailable": lambda: _raise("upstream-unavailable", Unavailable.public, {"retryAfter": 30}),
        "internal-error": lambda: _raise(
            "internal-error", "unexpected error (incident 3f2a9c0e5b7d4e1a8c6f0b2d4e6a8c0e)"
        ),
    }
    return _refused(makers[reason])


def problem(reason: str, operation: str, path: str) -> tuple[Example, str | None]:
    """The problem body a refusal of `operation` for `reason` answers with, as `http.problem` renders
    it, and its Retry-After header (None: none)."""
    refusal = _refusal(reason, operation)
    instance = path.format(**PATH_VALUES)
    response = http.problem(refusal.reason, refusal.detail, instance, refusal.figures)
    body = json.loads(response.get_body())
    return _example(body["title"], body), response.headers.get("Retry-After")
