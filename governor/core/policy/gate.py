"""The gate's rules as pure functions: body validation, admission, the heartbeat's extension outlook
(the extension itself is `policy.extension`'s rule, shared with the sweep).

Every "no" is a `Refusal` with a stable reason code, which the HTTP layer renders as
problem+json. Nothing here does I/O or reads a clock: callers pass `now` and the figures.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import replace as _replace
from datetime import datetime, timedelta
from typing import Any

from governor.core.errors import Refusal
from governor.core.model import (
    AdmissionSnapshot,
    LedgerEntry,
    Period,
    ProjectPolicy,
    Usage,
    VmSize,
    cost_of,
    format_money,
    money_text,
    whole_minutes,
)
from governor.core.policy.callers import admit_caller
from governor.core.policy.closing import until_closing
from governor.core.policy.extension import decide_extension, tightest_remaining
from governor.core.policy.limits import (
    ACCOUNT_NAME,
    ARR_MAX_CREATE_LEASE,
    IDEMPOTENCY_KEY,
    MAX_MODELS,
    MAX_PLACEMENT,
    MAX_URL_LENGTH,
    PROJECT_NAME,
    SESSION_ID,
    VM_SIZE,
)
from governor.core.timespan import TimeSpanError, parse_timespan

MODEL_SCHEMES = ("https://", "http://", "builtin://")

# ARR throttles calls closer than about 5 s, and a session starts in minutes: no need to ask sooner.
NOT_READY_RETRY_SECONDS = 5
# A repeat of a request still in flight: its create takes seconds, its retries a few more.
IN_FLIGHT_RETRY_SECONDS = 5
# How long a gate request may still be working on its pending row: longer than its ARR create and
# read-back take with the default ARR_HTTP_TIMEOUT_SECONDS and ARR_RETRY_TOTAL_SECONDS. A repeat
# after that resumes the row; should the first still be at work, ARR answers a second PUT of the
# same id and settings as the same session, so the window decides only 409 or resume, not money.
IN_FLIGHT_WINDOW = timedelta(seconds=60)

# A client heartbeats often enough that missing two still leaves it inside the idle timeout,
# and at least once a minute.
MAX_HEARTBEAT_INTERVAL = timedelta(minutes=1)
MIN_HEARTBEAT_SECONDS = 1.0


def heartbeat_interval(idle_timeout: timedelta, arr_time_scale: float = 1.0) -> float:
    """Real seconds between a client's heartbeats; idleness is judged on ARR's clock, which runs
    `arr_time_scale` times real time (1 against ARR itself)."""
    interval = min(MAX_HEARTBEAT_INTERVAL.total_seconds(), idle_timeout.total_seconds() / 3 / arr_time_scale)
    return round(max(MIN_HEARTBEAT_SECONDS, interval), 1)


REQUEST_FIELDS = ("size", "maxLeaseTime", "models", "regions", "autoRetry")
EXTEND_FIELDS = ("maxLeaseTime",)


def bad_request(field: str, detail: str) -> Refusal:
    return Refusal("bad-request", f"{field}: {detail}", {"field": field})


FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


def parse_flag(field: str, value: str | None) -> bool:
    """A boolean query parameter: absent is false; a value that is neither is refused, not taken as false."""
    if value is None or value == "":
        return False
    if value.lower() not in FLAGS:
        raise bad_request(field, "must be true or false")
    return FLAGS[value.lower()]


@dataclass(frozen=True)
class SessionRequest:
    size: VmSize
    lease: timedelta  # whole minutes
    models: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()  # accounts of the project's placement, preferred order (policy.placement)
    auto_retry: bool = False  # after a capacity failure the governor starts the next attempt itself

    def fingerprint(self) -> str:
        """What a request asks for, so a repeat under its Idempotency-Key can be told from a different
        request reusing the key: the same size, lease, models (and regions, autoRetry) however they
        were spelled. A request without the placement fields keeps the fingerprint it always had."""
        asked: list = [self.size.value, whole_minutes(self.lease), list(self.models)]
        if self.regions or self.auto_retry:
            asked += [list(self.regions), self.auto_retry]
        canonical = json.dumps(asked, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()[:32]


def check_same_request(entry_fingerprint: str | None, request: SessionRequest) -> None:
    """The IETF Idempotency-Key draft: a key reused for another payload is a 422, not a replay.
    Rows written before fingerprints were kept have none, and replay as before."""
    if entry_fingerprint and entry_fingerprint != request.fingerprint():
        raise Refusal(
            "idempotency-key-reused",
            "this Idempotency-Key was used for a different request (size, lease or models); use a new key",
            {"field": "Idempotency-Key"},
        )


def key_archived(session_id: str) -> Refusal:
    return Refusal(
        "conflict",
        "the session this Idempotency-Key made has ended and its record is archived; use a new key",
        {"field": "Idempotency-Key", "sessionId": session_id},
    )


def check_project_name(name: Any) -> str:
    if not PROJECT_NAME.accepts(name):
        raise bad_request("project", PROJECT_NAME.hint)
    return name


_IDEMPOTENCY_NAMESPACE = uuid.UUID("5b0e2a52-6f1c-4d0e-9a57-0c8e4a1f3d21")


def check_idempotency_key(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not IDEMPOTENCY_KEY.accepts(value):
        raise bad_request("Idempotency-Key", IDEMPOTENCY_KEY.hint)
    return value


def still_working(working_since: datetime | None, now: datetime) -> bool:
    """Whether a request may still be working on a pending row it marked at `working_since`
    (None: it answered, or none marked it): a repeat then gets a 409, never a second create."""
    return working_since is not None and now - working_since < IN_FLIGHT_WINDOW


MAX_ATTEMPTS = 8  # fresh attempts under one Idempotency-Key after attempts that made nothing


def session_id_for(project: str, idempotency_key: str, attempt: int = 0) -> str:
    """The session id the `attempt`-th try of a request with this key gets: a retry finds the
    first session; an attempt that made nothing is followed by the next id, never reused (a
    stopped ARR session keeps its id)."""
    name = f"{project}/{idempotency_key}" + (f"#{attempt}" if attempt else "")
    return str(uuid.uuid5(_IDEMPOTENCY_NAMESPACE, name))


def check_session_id(session_id: Any) -> str:
    if not SESSION_ID.accepts(session_id):
        raise bad_request("sessionId", SESSION_ID.hint)
    return session_id


def _object(body: Any, allowed: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    for name in body:
        if name not in allowed:
            raise bad_request(str(name)[:64], f"unknown field (allowed: {', '.join(allowed)})")
    return body


def parse_lease(value: Any, field: str = "maxLeaseTime") -> timedelta:
    """Minutes as a whole number, or a .NET TimeSpan string of whole minutes; 1 minute up to the
    longest lease ARR creates a session with."""
    too_long = f"must be at most {whole_minutes(ARR_MAX_CREATE_LEASE)} minutes (ARR's longest lease)"
    if isinstance(value, bool) or value is None:
        raise bad_request(field, "must be minutes (a number) or a TimeSpan string such as '01:30:00'")
    if isinstance(value, int | float):
        # math.isfinite would overflow on a JSON integer of hundreds of digits; an int is whole
        if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
            raise bad_request(field, "must be a whole number of minutes")
        if value < 1:
            raise bad_request(field, "must be at least 1 minute")
        if value > whole_minutes(ARR_MAX_CREATE_LEASE):  # before timedelta() can overflow
            raise bad_request(field, too_long)
        lease = timedelta(minutes=int(value))
    elif isinstance(value, str):
        try:
            lease = parse_timespan(value)
        except TimeSpanError as exc:
            raise bad_request(field, str(exc)[:200]) from None
        if lease % timedelta(minutes=1):
            raise bad_request(field, "must be a whole number of minutes")
    else:
        raise bad_request(field, "must be minutes (a number) or a TimeSpan string such as '01:30:00'")
    if lease < timedelta(minutes=1):
        raise bad_request(field, "must be at least 1 minute")
    if lease > ARR_MAX_CREATE_LEASE:
        raise bad_request(field, too_long)
    return lease


def _models(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise bad_request("models", "must be a list of URLs")
    if len(value) > MAX_MODELS:
        raise bad_request("models", f"at most {MAX_MODELS} models")
    for index, url in enumerate(value):
        if not isinstance(url, str) or not url.startswith(MODEL_SCHEMES) or len(url) > MAX_URL_LENGTH:
            raise bad_request(
                f"models[{index}]", f"must be an {', '.join(MODEL_SCHEMES)} URL of at most {MAX_URL_LENGTH} chars"
            )
        if any(ch.isspace() or ord(ch) < 32 for ch in url):
            raise bad_request(f"models[{index}]", "must not contain spaces or control characters")
    return tuple(value)


def parse_session_request(body: Any) -> SessionRequest:
    body = _object(body, REQUEST_FIELDS)
    if "size" not in body:
        raise bad_request("size", "is required (Standard or Premium)")
    if "maxLeaseTime" not in body:
        raise bad_request("maxLeaseTime", "is required")
    if not VM_SIZE.accepts(body["size"]):  # exact: "Standard\n" is no size
        raise bad_request("size", VM_SIZE.hint)
    size = VmSize.parse(body["size"])
    auto_retry = body.get("autoRetry", False)
    if not isinstance(auto_retry, bool):
        raise bad_request("autoRetry", "must be true or false")
    return SessionRequest(
        size=size,
        lease=parse_lease(body["maxLeaseTime"]),
        models=_models(body.get("models")),
        regions=_regions(body.get("regions")),
        auto_retry=auto_retry,
    )


def _regions(value: Any) -> tuple[str, ...]:
    """The shape only; which names the project allows is `placement.candidates`' rule."""
    if value is None:
        return ()
    if not isinstance(value, list) or not value or len(value) > MAX_PLACEMENT:
        raise bad_request("regions", f"must be a list of 1-{MAX_PLACEMENT} account names of the project's placement")
    for index, name in enumerate(value):
        if not ACCOUNT_NAME.accepts(name):
            raise bad_request(f"regions[{index}]", ACCOUNT_NAME.hint)
        if name in value[:index]:
            raise bad_request(f"regions[{index}]", f"{name!r} is listed twice")
    return tuple(value)


def parse_extend_request(body: Any) -> timedelta | None:
    """The requested total lease since start, or None for "one extension step"."""
    if body is None:
        return None
    body = _object(body, EXTEND_FIELDS)
    return parse_lease(body["maxLeaseTime"]) if "maxLeaseTime" in body else None


# ---------------------------------------------------------------- admission
def max_lease(policy: ProjectPolicy) -> timedelta:
    return min(policy.max_lease, policy.hard_max_duration, ARR_MAX_CREATE_LEASE)


def check_request(policy: ProjectPolicy, request: SessionRequest) -> None:
    """The checks that need only the policy: size, then lease."""
    if request.size not in policy.allowed_sizes:
        allowed = sorted(size.value for size in policy.allowed_sizes)
        raise Refusal(
            "size-not-allowed",
            f"size {request.size.value} is not allowed for this project",
            {"size": request.size.value, "allowedSizes": allowed},
        )
    limit = max_lease(policy)
    if request.lease > limit:
        raise Refusal(
            "lease-too-long",
            f"maxLeaseTime {whole_minutes(request.lease)} min exceeds the project's {whole_minutes(limit)} min",
            {"requestedMinutes": whole_minutes(request.lease), "maxLeaseMinutes": whole_minutes(limit)},
        )


def cap_at_closing(policy: ProjectPolicy, request: SessionRequest, now: datetime) -> tuple[SessionRequest, bool]:
    """The request with its lease cut to end at closing time (whole minutes); True when cut."""
    left = until_closing(policy, now)
    if left is None or request.lease <= left:
        return request, False
    return _replace(request, lease=timedelta(minutes=whole_minutes(left))), True


def budgets(policy: ProjectPolicy) -> dict[Period, int | None]:
    return {Period.DAY: policy.daily_budget, Period.MONTH: policy.monthly_budget}


def admit(request: SessionRequest, snapshot: AdmissionSnapshot) -> int:
    """The admission decision the store runs atomically: the project's limits, then the caller's
    (`snapshot.caller_limits`, against `snapshot.caller`). Returns the micros to reserve."""
    policy = snapshot.policy
    if not policy.enabled:
        raise Refusal("forbidden", "project is disabled")
    check_request(policy, request)
    if snapshot.active_sessions >= policy.max_concurrent:
        raise Refusal(
            "concurrency-limit",
            f"the project already runs {snapshot.active_sessions} of {policy.max_concurrent} sessions",
            {"activeSessions": snapshot.active_sessions, "maxConcurrent": policy.max_concurrent},
        )
    cost = cost_of(policy.rate(request.size), whole_minutes(request.lease))
    remaining = tightest_remaining(snapshot.usage)
    if remaining is not None and remaining < cost:
        raise Refusal(
            "budget-exhausted",
            f"the lease costs {format_money(cost, policy.currency)}; "
            f"{format_money(max(remaining, 0), policy.currency)} remain",
            {"cost": money_text(cost), "remainingBudget": money_text(remaining), "currency": policy.currency},
        )
    admit_caller(snapshot.caller_limits, snapshot.caller, cost, policy.currency)
    return cost


# ---------------------------------------------------------------- extension
def extension_outlook(
    policy: ProjectPolicy,
    entry: LedgerEntry,
    elapsed: timedelta,
    usage: Mapping[Period, Usage],
    now: datetime | None = None,
) -> dict:
    """What the heartbeat tells the app: would one extension step be granted, and should it ask now."""
    remaining_lease = max(entry.lease - elapsed, timedelta(0))
    # Judge the step the app would get when prompted (at the threshold), so a young session
    # hears about budget and cap now rather than "your lease already covers it".
    due = max(elapsed, entry.lease - policy.extension_threshold)
    try:
        at = None if now is None else now + (due - elapsed)
        extension = decide_extension(policy, entry, due, usage, now=at)
    except Refusal as refusal:
        return {"wouldGrant": False, "reason": refusal.reason, "detail": refusal.detail, "suggest": False}
    return {
        "wouldGrant": True,
        "leaseMinutes": whole_minutes(extension.lease),
        "extraCost": money_text(extension.extra_cost),
        "partial": extension.partial,
        "suggest": remaining_lease <= policy.extension_threshold,
    }
