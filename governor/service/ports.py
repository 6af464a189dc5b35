"""The ports the use cases need: what the ARR client and the Table store must offer.

The service layer depends on these Protocols only; `governor.arr.ArrClient` and
`governor.store.TableStore` implement them. Pure: no I/O here. Their failures are the core's
`governor.core.errors` types (re-exported here): `NotFound`, `Conflict`, `Unavailable` (`Rejected`),
`BadInput`; a rule's "no" is a `Refusal`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Protocol

# The values and errors the ports speak live in the core, so adapters never import this layer.
from governor.core.errors import BadInput, Conflict, NotFound, Refusal, Rejected, ServiceError, Unavailable
from governor.core.model import (
    AdmissionSnapshot,
    AuditRecord,
    CallerKey,
    CallerLimits,
    CallerRef,
    CapacityFailure,
    ConnectTarget,
    ConnectToken,
    LedgerEntry,
    LedgerSnapshot,
    Period,
    ProjectPolicy,
    SavingKind,
    Session,
    Usage,
    VmSize,
)
from governor.core.policy.callers import DEFAULT_KEY, OWN_SCOPE

__all__ = [
    "AdmissionSnapshot",
    "ArrPort",
    "AuditPort",
    "BadInput",
    "CapacityPort",
    "Conflict",
    "GateStore",
    "HistoryPort",
    "LedgerPort",
    "LedgerSnapshot",
    "NotFound",
    "ProjectsPort",
    "Refusal",
    "Rejected",
    "ServiceError",
    "StorePort",
    "SweepStatePort",
    "SweepStore",
    "Unavailable",
]


# ---------------------------------------------------------------- ARR
class ArrPort(Protocol):
    """One ARR account. Fails with `NotFound` (no such session) or `Unavailable` (`Rejected` when ARR
    refused the request as asked), carrying ARR's status, code and MS-CV."""

    account: str  # the configured account name, e.g. "default"
    connect_target: ConnectTarget  # what client apps need to connect, and which token they get
    # True (2021-01-01): create PUTs the caller's id, so a failed create is settled by reading that
    # id. False (v1): ARR picks the id, so a failed create leaves a claim for the sweep to match.
    ids_are_ours: bool

    def create(
        self, size: VmSize, lease: timedelta, models: Sequence[str] = (), session_id: str | None = None
    ) -> Session:
        """2021-01-01 PUTs `session_id` (idempotent); v1 ignores it and returns the server's id."""

    def create_repeated(self) -> bool:
        """True when this thread's last create (v1) succeeded on a retry after ARR had answered an
        earlier attempt, which may have made a session too."""

    def get(self, session_id: str) -> Session: ...

    def list(self) -> list[Session]:
        """Active (Starting/Ready) sessions, all pages."""

    def probe(self, timeout: float = 3.0) -> None:
        """Does ARR answer? One cheap call without retries, bounded by `timeout`; raises Unavailable."""

    def update_lease(self, session_id: str, lease: timedelta) -> Session:
        """Set the total lease since start (never a delta)."""

    def stop(self, session_id: str) -> None: ...

    def connect_token(self, lease_left: timedelta) -> ConnectToken | None:
        """A token for client apps of this account, from the connect identity (never the
        governor's own); None when the account hands out none. Valid `lease_left` plus a margin
        when the token service allows."""


# ---------------------------------------------------------------- Store
# Narrow ports, one per kind of record; each use case asks for the ones it uses (`GateStore`,
# `SweepStore`, or a single port). `governor.store.TableStore` implements them all (`StorePort`).
class ProjectsPort(Protocol):
    """Projects, their caller keys and webhook secrets."""

    def get_project(self, name: str, max_age: float = 0.0) -> ProjectPolicy | None:
        """`max_age`: a copy this instance read at most that many seconds ago will do."""

    def list_projects(self) -> list[ProjectPolicy]: ...
    def put_project(self, policy: ProjectPolicy, webhook_secret: str | None = None) -> None: ...
    def delete_project(self, name: str) -> bool: ...
    def rotate_key(
        self,
        name: str,
        now: datetime | None = None,
        key_name: str = DEFAULT_KEY,
        expires_at: datetime | None = None,
        limits: CallerLimits | None = None,
        scope: str = OWN_SCOPE,
    ) -> str:
        """Revoke every key and add one (named "default" unless told); return it (the only time it is seen)."""

    def verify_key(self, name: str, key: str) -> bool:
        """Constant-time check of a caller key against the stored hashes."""

    def find_key(self, name: str, key: str, now: datetime) -> CallerKey | None:
        """The unexpired named key `key` is, or None (constant-time over the project's hashes)."""

    def list_keys(self, name: str) -> list[CallerKey]: ...
    def add_key(
        self,
        name: str,
        key_name: str,
        now: datetime,
        expires_at: datetime | None = None,
        limits: CallerLimits | None = None,
        scope: str = OWN_SCOPE,
    ) -> str:
        """Add a named key; return it (the only time it is seen). DuplicateEntry if the name is taken."""

    def revoke_key(self, name: str, key_name: str) -> bool: ...
    def rotate_named_key(self, name: str, key_name: str, now: datetime) -> str:
        """A new secret for the named key (same name, limits and expiry); the old one stops at once."""

    def touch_key(self, name: str, key_name: str, now: datetime) -> None:
        """Record the key's last use (written at most once a minute per process)."""

    def webhook_secret(self, name: str) -> str | None: ...


class LedgerPort(Protocol):
    """The ledger and its usage rows. Each write is atomic (one entity-group transaction,
    ETag-guarded, retried on 412)."""

    def reserve(
        self,
        project: str,
        entry: LedgerEntry,
        decide: Callable[[AdmissionSnapshot], int],
        now: datetime,
        policy: ProjectPolicy | None = None,
        count_caller: bool = False,
        fresh: bool = False,
        who: CallerRef | None = None,
    ) -> tuple[LedgerEntry, dict[Period, Usage]]:
        """Insert `entry` (state pending) and reserve `decide(snapshot)` micros, or raise the
        Refusal that `decide` raised. `decide` may run more than once (after a 412). `policy`, if
        given, is the one the caller just read (saves a read; the snapshot carries it).
        `count_caller`: also read `entry.caller`'s open sessions and spend into `snapshot.caller`.
        `fresh`: `entry.session_id` is a random id drawn just now (no row can hold it yet).
        `who`: the entry's caller. Every round checks it against the project row the round decides
        by (`governor.core.policy.callers.standing`: a presented key revoked, rotated or expired
        since is refused) and puts its limits in `snapshot.caller_limits`, its figures in
        `snapshot.caller` when it has limits."""

    def activate(self, project: str, reservation_id: str, session: Session, wait: bool = True) -> LedgerEntry:
        """Pending -> active under ARR's session id (v1 ids differ from the reservation id).
        `wait=False`, for a session made under the reservation's own id right after `reserve`:
        the write may come later (the project's next transaction); returns the entry as activated."""

    def release(self, project: str, reservation_id: str, now: datetime) -> None:
        """Cancel a pending entry and give its reservation back (idempotent)."""

    def claim(self, project: str, reservation_id: str) -> LedgerEntry | None:
        """Mark a pending v1 entry as a claim: its create failed ambiguously, so the sweep stops the
        sessions it may have made (governor.core.policy.sweep.claim_matches). None if it is not pending."""

    def mark_working(
        self, project: str, reservation_id: str, since: datetime | None, etag: str | None = None
    ) -> LedgerEntry | None:
        """Say a gate request works on this pending entry from `since` (None: it has answered).
        With `etag`, only if the row is unchanged since it was read: one of several repeats takes
        the row over. None if the entry is not pending or changed meanwhile."""

    def stop_request(self, project: str, session_id: str) -> LedgerEntry | None:
        """Mark the entry's request as stopped by its caller (its plan's `stopped`, on the open or
        closed row; only that row, not a money change), so no next attempt follows it
        (governor.core.policy.placement.stopped_plan; idempotent). The entry; None if there is none."""

    def find_closed(self, session_ids: Iterable[str]) -> dict[str, LedgerEntry]:
        """The closed (or released) ledger rows of these session ids, any project, by id."""

    def extend(
        self,
        project: str,
        session_id: str,
        decide: Callable[..., timedelta],
        now: datetime,
        count: bool = True,
        count_caller: bool = False,
        by_round: bool = False,
        who: CallerRef | None = None,
    ) -> tuple[LedgerEntry, dict[Period, Usage]]:
        """Raise the entry's lease to `decide(entry, usage)` and reserve the extra cost atomically; the
        store checks no budget (`decide` does). `count=False`: not a governor extension (extensions
        unchanged). `count_caller`: `decide(entry, usage, caller_figures)` with the entry's caller's
        open sessions, reservations and spend, read in the same guarded round. `by_round`:
        `decide(entry, usage, caller_figures, policy=, limits=)` decides by the project row the round
        read and the limits of `who` (the session's caller) by that row, as an admission's round does."""

    def revert_extension(
        self, project: str, session_id: str, lease: timedelta, now: datetime, *, extended_to: timedelta
    ) -> LedgerEntry:
        """Undo the caller's own `extend` when ARR refused its lease: lower the lease from
        `extended_to` back to `lease` and give the extra reservation back (idempotent). Only while
        the row still holds `extended_to`: a lease someone else raised it to since is theirs to settle."""

    def meter(self, project: str, session_id: str, elapsed_minutes: int, now: datetime) -> LedgerEntry:
        """Charge minutes beyond the entry's checkpoint to the periods of `now` (idempotent)."""

    def meter_many(self, charges: Iterable[tuple[str, str, int]], now: datetime, arr_time_scale: float = 1.0) -> int:
        """Batch `meter` for (project, session_id, elapsed_minutes); one transaction per partition
        chunk. The minutes ARR counted before UTC midnight go to the day (and month) before: the
        last `(now - midnight) * arr_time_scale` of them are `now`'s (ARR seconds per governor
        second: 1 against ARR itself), and no more than the session can have run before midnight
        since the governor asked for it (`model.counted_before_midnight`). `now`: when ARR gave the
        counts. Returns the number of entries whose checkpoint moved."""

    def close(
        self,
        project: str,
        session_id: str,
        final_minutes: int,
        final_status: str,
        now: datetime,
        arr_time_scale: float = 1.0,
    ) -> LedgerEntry:
        """Final charge, release the unused reservation, mark closed (idempotent). `now`: when ARR
        gave the final count; the minutes it counted before UTC midnight go to the day before, as
        `meter_many` splits them."""

    def save(self, project: str, session_id: str, kind: SavingKind, amount: int, now: datetime) -> LedgerEntry:
        """Record what the governor avoided for the session (once per kind; see model.SavingKind) in
        the usage rows of `now`, on its open or closed row (idempotent)."""

    def heartbeat(self, project: str, session_id: str, at: datetime, elapsed: timedelta | None = None) -> LedgerEntry:
        """Record a heartbeat at `at` (forward only) with ARR's `elapsed` read then (None: unknown)."""

    def adopt(self, project: str, session: Session, now: datetime, claim: bool = False) -> LedgerEntry:
        """Record an unmanaged ARR session as active in `project` (no reservation beyond its lease);
        `claim`: a v1 claim's session, marked so that every sweep stops it (policy.sweep.decide)."""

    # reads
    def get_entry(self, project: str, session_id: str) -> LedgerEntry | None: ...
    def list_entries(self, project: str, include_closed: bool = False) -> list[LedgerEntry]: ...
    def usage(self, project: str, period: Period, key: str) -> Usage: ...
    def caller_spent(self, project: str, period: Period, key: str) -> dict[str, int]:
        """Money charged in that period, by caller name (the usage row's CallerSpent)."""

    def current_usage(self, project: str, now: datetime, policy: ProjectPolicy | None = None) -> dict[Period, Usage]:
        """`usage` of every period at `now` (one read); `policy`, if given, is the one the caller just read."""

    def entry_with_usage(
        self, project: str, session_id: str, now: datetime, policy: ProjectPolicy | None = None
    ) -> tuple[LedgerEntry | None, dict[Period, Usage]]:
        """`get_entry` and `current_usage` together, in one read."""

    def usage_history(self, project: str, period: Period, first_key: str, last_key: str) -> list[Usage]:
        """Spent per `period` for keys first_key..last_key inclusive, in one range query (the dashboard's
        cost per day); periods without a row are absent; `reserved` is 0."""

    def snapshot(self, now: datetime) -> LedgerSnapshot: ...


class AuditPort(Protocol):
    """The audit rows (`governor.service.audit` writes them before and after an action)."""

    def append_audit(self, records: Sequence[AuditRecord]) -> list[str]:
        """Write new rows; returns their keys, in order."""

    def complete_audit(self, records: Sequence[AuditRecord]) -> None:
        """Rewrite rows written earlier (each record carries its `key`) with their final outcome."""

    def unfinished_audit(self, since: datetime, source: str = "sweep") -> list[AuditRecord]:
        """Rows of `source` written at or after `since` whose outcome is still "unknown"."""

    def recent_audit(self, limit: int = 50, project: str | None = None) -> list[AuditRecord]: ...


class SweepStatePort(Protocol):
    """The sweep's lock and its health rows."""

    def record_sweep(self, report: dict) -> None: ...
    def last_sweep(self) -> dict | None: ...
    def try_lock(self, name: str, owner: str, ttl: timedelta, now: datetime) -> bool: ...
    def release_lock(self, name: str, owner: str) -> None: ...


class CapacityPort(Protocol):
    """Capacity memory (docs/storage.md, "Capacity memory"): not money, never contends with it."""

    def capacity_failures(self, project: str) -> dict[tuple[str, VmSize], datetime]:
        """The latest capacity failure per (account, size) of the project (one query)."""

    def record_capacity_failure(self, failure: CapacityFailure) -> bool:
        """Remember an attempt that failed for capacity, and its account and size's latest failure;
        False (nothing written) when that attempt was recorded before."""

    def capacity_failure(self, project: str, session_id: str) -> CapacityFailure | None:
        """The recorded capacity failure of one attempt, or None."""

    def capacity_failures_between(
        self, start: datetime, end: datetime, project: str | None = None
    ) -> list[CapacityFailure]:
        """Attempts that failed for capacity in [start, end), of one project or of all."""


class HistoryPort(Protocol):
    """Retention (docs/storage.md): bounded, idempotent, crash-safe; and the rows it moved."""

    def move_closed(self, cutoff: datetime, limit: int) -> dict:
        """Move up to `limit` closed entries requested before `cutoff` to history (copy, verify,
        delete); returns {"moved", "changed", "more"}."""

    def purge_audit(self, cutoff: datetime, limit: int) -> dict:
        """Delete up to `limit` audit rows older than `cutoff`; returns {"deleted", "more"}."""

    def purge_capacity_failures(self, cutoff: datetime, limit: int) -> dict:
        """Delete up to `limit` rows of attempts that failed for capacity before `cutoff`;
        returns {"deleted", "more"}."""

    def history_entries(self, project: str, month: str) -> list[LedgerEntry]:
        """Closed entries requested in `month` (YYYY-MM) that retention moved out of the ledger."""


class GateStore(ProjectsPort, LedgerPort, CapacityPort, AuditPort, HistoryPort, Protocol):
    """What the gate uses."""


class SweepStore(GateStore, SweepStatePort, Protocol):
    """What the sweep uses (it starts autoRetry's next attempts through the gate)."""


class StorePort(SweepStore, Protocol):
    """The whole store, as `governor.bootstrap` builds it."""
