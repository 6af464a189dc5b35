"""Domain values shared by the core, the adapters and the entrypoints. Pure: no I/O.

Money is an int of micro cost units (1 cost unit = 1_000_000), so sums are exact and
fit Table Storage's Int64. Cost of a session is always computed from its cumulative
minutes (`cost_of`), never by adding rounded deltas, so metering is exact and repeatable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Self

MICROS = 1_000_000


def utcnow() -> datetime:
    return datetime.now(UTC)


def utc_text(value: datetime | None) -> str | None:
    """An instant as ISO 8601 in UTC with a Z, the one way times leave the governor."""
    return None if value is None else value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def to_micros(amount: Decimal | float | int | str) -> int:
    return int((Decimal(str(amount)) * MICROS).to_integral_value())


def from_micros(amount: int) -> Decimal:
    return (Decimal(amount) / MICROS).quantize(Decimal("0.000001"))


def money_text(micros: int | None) -> str | None:
    """Money for machines (API answers, audit-free figures, policy documents): decimal cost units
    with six places, exact, as a string because JSON numbers would round. None stays None."""
    return None if micros is None else str(from_micros(micros))


def format_money(micros: int | None, currency: str = "") -> str:
    """Money for people: "1,234.50 EUR". Two decimals unless the amount needs more (at most six,
    so it stays exact): 0.0525 -> "0.0525". None (no budget set) reads "no budget"."""
    if micros is None:
        return "no budget"
    amount = from_micros(micros)
    exponent = amount.normalize().as_tuple().exponent
    assert isinstance(exponent, int)  # from_micros of an int is finite, never NaN ('n') or Infinity ('F')
    places = max(2, -exponent)
    return f"{amount:,.{places}f} {currency}".strip()


def cost_of(rate_per_hour: int, minutes: int) -> int:
    """Cost in micros of `minutes` at `rate_per_hour` micros, rounded up to a whole micro."""
    return -(-rate_per_hour * max(minutes, 0) // 60)  # integer ceiling: floats lose micros past 2**53


# Minutes of a duration, three ways, each for one purpose:
def whole_minutes(duration: timedelta) -> int:
    """Completed minutes, never negative: what ARR reports and bills, leases in the API."""
    return max(int(duration.total_seconds() // 60), 0)


def minutes_since_midnight(now: datetime, arr_time_scale: float = 1.0) -> tuple[datetime, int]:
    """`now`'s UTC midnight, and ARR's whole minutes since it (ARR's clock runs `arr_time_scale`
    times the governor's): of a count ARR reports at `now`, the last that many minutes are `now`'s
    day's and the ones before are the day before's."""
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight, whole_minutes((now - midnight) * arr_time_scale)


def counted_before_midnight(
    elapsed: int, started: datetime | None, now: datetime, arr_time_scale: float = 1.0
) -> tuple[datetime, int]:
    """`now`'s UTC midnight, and how many of the `elapsed` minutes ARR reports at `now` it counted
    before it: those beyond its minutes since midnight (`minutes_since_midnight`), but never more
    than the session can have run before midnight since it was requested (`started`, on the
    governor's clock; None when that is not known: `LedgerEntry.requested_by_us`). An ARR clock
    ahead of the governor's (the emulator's virtual clock, a GOVERNOR_ARR_TIME_SCALE that is not
    ARR's) then cannot put minutes on a day the session did not exist in."""
    midnight, today = minutes_since_midnight(now, arr_time_scale)
    before = max(elapsed - today, 0)
    if started is None:
        return midnight, before
    existed = whole_minutes((midnight - started) * arr_time_scale)  # 0 for a session requested after it
    return midnight, min(before, existed)


def ceil_minutes(duration: timedelta) -> int:
    """Started minutes, never negative: a lease asked of ARR in whole minutes covers `duration`."""
    return max(math.ceil(duration.total_seconds() / 60 - 1e-9), 0)


@lru_cache(maxsize=4096)  # a sweep formats the same few durations thousands of times
def minutes_figure(duration: timedelta) -> float:
    """Minutes for audit figures: whole when whole, else to three decimals (12.5 min idle)."""
    seconds = duration.total_seconds()
    return seconds // 60 if seconds % 60 == 0 else round(seconds / 60, 3)


class SavingKind(StrEnum):
    """What the governor avoided for one session; each kind is recorded at most once per session."""

    LEASE = "lease"  # it stopped the session: the reserved lease left unused, at the session's rate
    EXTENSION = "extension"  # it refused an extension: the denied step, at the session's rate


def lease_saving(rate: int, lease: timedelta, final_minutes: int) -> int:
    """A governor stop at `final_minutes` avoided the rest of the granted lease."""
    return max(cost_of(rate, whole_minutes(lease)) - cost_of(rate, final_minutes), 0)


def extension_saving(rate: int, step: timedelta) -> int:
    """A refused extension avoided one step."""
    return cost_of(rate, whole_minutes(step))


class _CaseInsensitiveEnum(StrEnum):
    @classmethod
    def parse(cls, text: str) -> Self:
        if isinstance(text, cls):
            return text
        if isinstance(text, str):
            for member in cls:
                if member.value.lower() == text.strip().lower():
                    return member
        raise ValueError(f"{text!r} is not one of {', '.join(m.value for m in cls)}")


class SessionStatus(_CaseInsensitiveEnum):
    STARTING = "Starting"
    READY = "Ready"
    STOPPING = "Stopping"
    STOPPED = "Stopped"
    EXPIRED = "Expired"
    ERROR = "Error"

    @property
    def active(self) -> bool:
        return self in (SessionStatus.STARTING, SessionStatus.READY)

    @property
    def terminal(self) -> bool:
        return self in (SessionStatus.STOPPED, SessionStatus.EXPIRED, SessionStatus.ERROR)


class VmSize(_CaseInsensitiveEnum):
    STANDARD = "Standard"
    PREMIUM = "Premium"


@dataclass(frozen=True)
class Session:
    """One ARR rendering session, the same whichever API generation reported it.

    `elapsed` is ARR's own clock (time in Ready), `max_lease` the total lease since start.
    """

    id: str
    account: str
    status: SessionStatus
    size: VmSize | None
    elapsed: timedelta
    max_lease: timedelta
    hostname: str | None = None
    arr_inspector_port: int | None = None
    handshake_port: int | None = None
    created: datetime | None = None
    teraflops: float | None = None
    message: str | None = None
    error_code: str | None = None

    @property
    def remaining_lease(self) -> timedelta:
        return max(self.max_lease - self.elapsed, timedelta(0))


# What the connect route may hand client apps: the connect identity's token, an account-key token
# (development: it can start sessions), or none.
CONNECT_MODES = ("entra", "key", "none")


@dataclass(frozen=True)
class ConnectTarget:
    """What a client app needs, besides a session and a token, to connect to an account's sessions
    (ARR's SessionConfiguration), and which token the governor hands out for it."""

    account_id: str
    account_domain: str
    remote_rendering_domain: str
    auth: str  # none, key or entra
    can_start_sessions: bool  # a key-minted token can start sessions around the gate


@dataclass(frozen=True)
class ConnectToken:
    token: str = field(repr=False)
    expires_on: datetime


class SizeFallback(_CaseInsensitiveEnum):
    NONE = "none"
    PREMIUM = "premium"  # when Standard has no capacity anywhere in the placement: Premium, if the budget pays


@dataclass(frozen=True)
class PlacementAccount:
    """One ARR account a project may start sessions in, with its own rates (empty: the project's)."""

    account: str
    rates: dict[VmSize, int] = field(default_factory=dict)


@dataclass(frozen=True)
class RetryPlan:
    """What a request asked of placement, kept on its attempt's ledger row so that whoever sees the
    attempt fail for capacity (a poll, the sweep) can name and start the next attempt."""

    size: VmSize  # the size asked for; an attempt may run Premium under `sizeFallback`
    regions: tuple[str, ...] = ()  # the client's preferred accounts, in order (empty: the project's placement)
    auto_retry: bool = False
    models: tuple[str, ...] = ()  # kept only with auto_retry: the next attempt loads them too
    idempotency_key: str | None = None
    attempt: int = 0  # this attempt's index: under the key's ids, or along the chain from `first`
    first: str = ""  # the session id of the chain's first attempt (a request without a key)
    stopped: bool = False  # its caller stopped the request: no attempt follows this one (policy.placement)


@dataclass(frozen=True)
class CapacityFailure:
    """One attempt ARR ended in Error, before Ready, for want of a server of its size in its account."""

    project: str
    session_id: str
    account: str
    size: VmSize
    at: datetime


class UnmanagedMode(_CaseInsensitiveEnum):
    REPORT = "report"
    STOP = "stop"
    ADOPT = "adopt"


@dataclass(frozen=True)
class Window:
    """One opening window of a weekday, in minutes after local midnight. `end <= start` runs over
    midnight into the next day; `end` 1440 is "24:00"."""

    start: int
    end: int

    @property
    def overnight(self) -> bool:
        return self.end <= self.start


class Closing(_CaseInsensitiveEnum):
    STOP = "stop"  # at closing time the sweep stops running sessions
    FINISH = "finish"  # sessions run out their lease, never extended past closing


@dataclass(frozen=True)
class Schedule:
    """A project's working hours (see governor.core.policy.schedule). `hours[0]` is Monday."""

    time_zone: str
    hours: tuple[tuple[Window, ...], ...] = ((),) * 7
    holidays: frozenset[date] = frozenset()
    closing: Closing = Closing.STOP
    warn_before: timedelta | None = None  # None: the sweep's GOVERNOR_WARN_BEFORE_MINUTES


@dataclass(frozen=True)
class CallerLimits:
    """Limits of one caller (a named key or a principal) within its project. None: only the project's."""

    max_concurrent: int | None = None
    daily_budget: int | None = None
    monthly_budget: int | None = None

    def budget(self, period: Period) -> int | None:
        return self.daily_budget if period is Period.DAY else self.monthly_budget

    @property
    def empty(self) -> bool:
        return self.max_concurrent is None and self.daily_budget is None and self.monthly_budget is None


@dataclass(frozen=True)
class CallerFigures:
    """What one caller holds in its project, read in the admission's round: open sessions, money
    reserved by them, and money charged to it per current period."""

    name: str
    active: int = 0
    reserved: int = 0
    spent: dict[Period, int] = field(default_factory=dict)


@dataclass(frozen=True)
class CallerKey:
    """A named caller key as stored, without its secret or hash."""

    name: str
    created_at: datetime | None
    expires_at: datetime | None = None
    limits: CallerLimits = field(default_factory=CallerLimits)
    last_used: datetime | None = None
    scope: str = "own"  # "own": acts only on sessions it started; "project": on every session of the project
    key_id: str | None = None  # the id a key of the `gk_<keyId>_<secret>` format carries; None: issued before ids

    def expired(self, now: datetime) -> bool:
        return self.expires_at is not None and now >= self.expires_at


@dataclass(frozen=True)
class CallerRef:
    """The caller an admission is for, by name. `presented`: the request itself authenticated as it,
    with the key of id `key_id` (None: a principal, or a key issued before ids), so the admission's
    round checks the project row still lets it act; otherwise the governor acts on its behalf (the
    next attempt of its request) and only its limits are read."""

    name: str
    key_id: str | None = None
    presented: bool = False


@dataclass(frozen=True)
class ProjectPolicy:
    """A project's rules and budget. Rates and budgets are micros; durations are timedeltas."""

    name: str
    enabled: bool = True
    account: str = "default"
    allowed_sizes: frozenset[VmSize] = frozenset({VmSize.STANDARD})
    rates: dict[VmSize, int] = field(default_factory=dict)
    currency: str = "USD"
    daily_budget: int | None = None
    monthly_budget: int | None = None
    max_concurrent: int = 1
    max_lease: timedelta = timedelta(hours=4)
    hard_max_duration: timedelta = timedelta(hours=8)
    extension_step: timedelta = timedelta(minutes=30)
    extension_threshold: timedelta = timedelta(minutes=10)
    idle_timeout: timedelta = timedelta(minutes=15)
    dry_run: bool = False
    webhook_url: str | None = None
    principals: frozenset[str] = frozenset()
    schedule: Schedule | None = None
    principal_limits: dict[str, CallerLimits] = field(default_factory=dict)  # by lower-case principal id
    placement: tuple[PlacementAccount, ...] = ()  # accounts sessions may start in, in order; () = (account,)
    size_fallback: SizeFallback = SizeFallback.NONE

    @property
    def accounts(self) -> tuple[str, ...]:
        return tuple(place.account for place in self.placement) or (self.account,)

    def rate(self, size: VmSize, account: str | None = None) -> int:
        """The rate of `size`, in `account` when its placement entry has one of its own."""
        for place in self.placement:
            if place.account == account and size in place.rates:
                return place.rates[size]
        return self.rates.get(size, 0)


class Period(_CaseInsensitiveEnum):
    DAY = "day"
    MONTH = "month"

    def key(self, at: datetime) -> str:
        at = at.astimezone(UTC)
        return at.strftime("%Y-%m-%d") if self is Period.DAY else at.strftime("%Y-%m")


@dataclass(frozen=True)
class Usage:
    """Money of one project in one period: spent (metered) and reserved (held for leases)."""

    project: str
    period: Period
    key: str
    budget: int | None
    spent: int = 0
    reserved: int = 0
    saved: int = 0  # what the governor's stops and refused extensions avoided (see SavingKind)

    @property
    def remaining(self) -> int | None:
        if self.budget is None:
            return None
        return self.budget - self.spent - self.reserved


class LedgerState(_CaseInsensitiveEnum):
    PENDING = "pending"  # budget reserved, ARR create not yet confirmed
    ACTIVE = "active"
    CLOSED = "closed"


# A gate admission is given this long to confirm its ARR create: until then its pending row (and its
# audit rows left "unknown") are the gate's own, and the sweep leaves them alone.
PENDING_GRACE = timedelta(minutes=5)
CLOCK_SKEW = timedelta(minutes=2)  # how far the governor's clock and ARR's may disagree


@dataclass(frozen=True)
class LedgerEntry:
    """The governor's record of one session it manages.

    `charged_minutes` is the metering checkpoint: ARR elapsed minutes already charged.
    `reserved` is budget held for the rest of the granted lease.
    `heartbeat_elapsed` is ARR's elapsed time read at `last_heartbeat` (None when unknown), so
    idleness is measured on ARR's clock.
    """

    project: str
    session_id: str
    account: str
    size: VmSize
    state: LedgerState
    requested_at: datetime
    lease: timedelta
    rate: int = 0  # micros per hour, fixed at admission so later policy edits do not re-price a running session
    reserved: int = 0
    charged_minutes: int = 0
    charged: int = 0
    last_heartbeat: datetime | None = None
    heartbeat_elapsed: timedelta | None = None
    extensions: int = 0
    adopted: bool = False
    final_status: SessionStatus | None = None
    caller: str | None = None  # the key name (or "principal:<id>") that asked for it; never the key
    saved_lease: int = 0  # recorded saving of a governor stop: the lease it cut short
    saved_extension: int = 0  # recorded saving of a refused extension: the step denied
    # pending: a v1 create that failed ambiguously (governor.core.policy.sweep.claim_matches);
    # active: a session adopted for such a claim, stopped by every sweep until ARR no longer lists it
    claim: bool = False
    request_hash: str | None = None  # what an Idempotency-Key request asked for (SessionRequest.fingerprint)
    working_since: datetime | None = None  # a gate request works on this pending row (policy.gate.still_working)
    plan: RetryPlan | None = None  # what placement needs to start the next attempt (policy.placement)
    etag: str | None = None

    @property
    def requested_by_us(self) -> datetime | None:
        """When the session was asked for, on the governor's clock; None for an adopted one, whose
        `requested_at` is ARR's creation time (another clock; at x60, the emulator's virtual one)
        or, from a v1 listing, which has none, the time of adoption."""
        return None if self.adopted else self.requested_at

    @property
    def released(self) -> bool:
        """Closed without ever being charged as a session: its reservation was given back."""
        return self.state is LedgerState.CLOSED and self.final_status is None


@dataclass(frozen=True)
class AdmissionSnapshot:
    """What an admission decision sees, read consistently under one ETag round."""

    policy: ProjectPolicy
    active_sessions: int
    usage: dict[Period, Usage]
    caller: CallerFigures | None = None  # the asking caller's figures, when its limits need them
    caller_limits: CallerLimits | None = None  # its own limits, by the project row the round read


@dataclass(frozen=True)
class LedgerSnapshot:
    """Everything the sweep joins against, read in as few queries as the design allows."""

    projects: dict[str, ProjectPolicy]
    open_entries: list[LedgerEntry]  # state pending or active, all projects
    usage: dict[tuple[str, Period], Usage]  # current periods at `now`
    read_at: datetime = field(default=None)  # type: ignore[assignment]
    caller_spent: dict[tuple[str, Period], dict[str, int]] = field(default_factory=dict)  # by caller name
    key_limits: dict[str, dict[str, CallerLimits]] = field(default_factory=dict)  # project -> key name -> its own

    def caller_figures(self) -> dict[tuple[str, str], CallerFigures]:
        """Every caller's open sessions, the money they reserve and its spend this period, by
        (project, caller name); one pass over the open entries."""
        held: dict[tuple[str, str], list[int]] = {}
        for entry in self.open_entries:
            if entry.caller:
                counts = held.setdefault((entry.project, entry.caller), [0, 0])
                counts[0] += 1
                counts[1] += entry.reserved
        spent: dict[str, dict[Period, dict[str, int]]] = {}
        for (project, period), by_caller in self.caller_spent.items():
            spent.setdefault(project, {})[period] = by_caller
        return {
            (project, name): CallerFigures(
                name,
                active=active,
                reserved=reserved,
                spent={period: by_caller.get(name, 0) for period, by_caller in spent.get(project, {}).items()},
            )
            for (project, name), (active, reserved) in held.items()
        }


UNKNOWN = "unknown"  # the outcome of an audit row written before its action ran


@dataclass(frozen=True)
class AuditRecord:
    """One decision or gate outcome, as written to the audit table. Never holds a secret."""

    at: datetime
    source: str  # "sweep" or "gate"
    project: str
    session_id: str
    action: str  # e.g. stop, extend, warn, leave, admit, refuse, adopt, report
    reason: str
    figures: dict = field(default_factory=dict)
    dry_run: bool = False
    outcome: str = "ok"  # ok, failed, skipped; "unknown" while the action it records is under way
    ms_cv: str | None = None
    caller: str | None = None  # the key name (or "principal:<id>") behind a gate action; never the key
    key: str | None = None  # the row's key once written, so the outcome can be completed in place


@dataclass(frozen=True)
class SweepHealth:
    """The health row: what the last sweep did. The sweep writes it (`to_row`); `/api/health` and
    the dashboard read it (`from_row`). This is the row's only declaration of its keys."""

    started_at: datetime
    finished_at: datetime
    outcome: str  # "ok" or "errors"
    counts: dict[str, int] = field(default_factory=dict)  # decisions by action
    failed: int = 0  # actions that failed
    metered: int = 0  # ledger entries whose checkpoint moved
    errors: tuple[str, ...] = ()
    phases_ms: dict[str, int] = field(default_factory=dict)
    duration_ms: int = 0
    dry_run: bool = False
    sessions: int = 0  # live ARR sessions listed
    decisions: int = 0
    owner: str = ""  # host:pid:run of the sweeper
    # (account, session id, horizon) for each warning horizon a session was inside: the next sweep
    # warns only crossings this one did not see (policy.sweep.SweepOptions.seen). None: not recorded.
    inside: tuple[tuple[str, str, str], ...] | None = None

    def to_row(self) -> dict:
        row = {
            "startedAt": self.started_at.isoformat(),
            "finishedAt": self.finished_at.isoformat(),
            "outcome": self.outcome,
            "counts": dict(self.counts),
            "failed": self.failed,
            "metered": self.metered,
            "errors": list(self.errors),
            "phasesMs": dict(self.phases_ms),
            "durationMs": self.duration_ms,
            "dryRun": self.dry_run,
            "sessions": self.sessions,
            "decisions": self.decisions,
            "owner": self.owner,
        }
        if self.inside is not None:
            row["insideHorizons"] = [list(seen) for seen in self.inside]
        return row

    @classmethod
    def from_row(cls, row: object) -> SweepHealth | None:
        """The row read back; None when there is none or its times are unreadable. A field of the
        wrong type reads as its default, so a damaged row can make health say "stale", never fail."""
        if not isinstance(row, dict):
            return None
        started, finished = _utc_time(row.get("startedAt")), _utc_time(row.get("finishedAt"))
        if started is None or finished is None:
            return None

        def count(key: str) -> int:
            value = row.get(key)
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        def counts(key: str) -> dict[str, int]:
            value = row.get(key)
            if not isinstance(value, dict):
                return {}
            return {str(k): v for k, v in value.items() if isinstance(v, int) and not isinstance(v, bool)}

        errors, inside = row.get("errors"), row.get("insideHorizons")
        outcome, owner = row.get("outcome"), row.get("owner")
        if isinstance(inside, list) and all(_three_texts(seen) for seen in inside):
            inside = tuple(tuple(seen) for seen in inside)
        else:
            inside = None
        return cls(
            started_at=started,
            finished_at=finished,
            outcome=outcome if isinstance(outcome, str) else "unknown",
            counts=counts("counts"),
            failed=count("failed"),
            metered=count("metered"),
            errors=tuple(str(e) for e in errors) if isinstance(errors, list) else (),
            phases_ms=counts("phasesMs"),
            duration_ms=count("durationMs"),
            dry_run=row.get("dryRun") is True,
            sessions=count("sessions"),
            decisions=count("decisions"),
            owner=owner if isinstance(owner, str) else "",
            inside=inside,
        )


def _three_texts(value: object) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(isinstance(text, str) for text in value)


def _utc_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def made_before(session: Session, entry: LedgerEntry) -> bool:
    """ARR made the session under this row's id before the row was reserved, as after an
    Idempotency-Key sent again after retention archived its first request's row (ARR keeps ended sessions for 30 days).
    That session's minutes were charged in the archived row, never to this one."""
    return session.created is not None and session.created < entry.requested_at - CLOCK_SKEW
