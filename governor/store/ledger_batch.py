"""One project's money operations decided together and written in ONE transaction.

A batch reads the partition's state row, its current usage rows and every entry row its
operations name, then lets each operation, in arrival order, decide against the running
totals the operations before it left (`Working`), exactly as if they had come one by one. An
operation that says no stages nothing and answers its own error; the others' writes go out in
one entity-group transaction: the state row guarded by the ETag it was read with, every entry
row by its own. If another writer moved any of them, the whole batch is read and decided
again, so a batch is never half-applied. See docs/storage.md (Group commit).

Operations implement `BatchOp`; a new per-request check (e.g. another row in the same
partition) is one more key in `keys()` and one more `stage()` in `apply()`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from governor.core.errors import Refusal
from governor.core.model import (
    AdmissionSnapshot,
    CallerFigures,
    CallerKey,
    CallerLimits,
    CallerRef,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    Usage,
    cost_of,
    utcnow,
    whole_minutes,
)
from governor.core.policy.callers import standing
from governor.store.base import MAX_BATCH, create_op, delete_key_op, update_op
from governor.store.entities import check_entity, entity_to_entry, entry_to_entity, get
from governor.store.errors import DuplicateEntry, NotFound, StateConflict
from governor.store.escrow import MAX_SLICES, escrow_of, is_slice
from governor.store.groupcommit import Outcome
from governor.store.keys import OPEN_PREFIX, closed_key, moved_key, open_key

Finish = Callable[[dict[str, str | None]], Any]  # the op's answer, given the ETags the write returned
# the state row, the two usage rows and the slices a batch may write besides its entries
FIXED_ROWS = 3 + MAX_SLICES


class Working:
    """The partition as the operations decided so far left it: rows read, rows staged, deltas."""

    def __init__(
        self,
        part,
        rows: dict[str, dict | None],
        etags: dict[str, str | None],
        policy,
        keys: Sequence[CallerKey] = (),
        all_open: bool = False,
    ):
        self.part = part  # a ledger.Partition holding the state and usage rows
        self.rows = rows  # entry rows as read (None: absent)
        self.etags = etags
        self.policy: ProjectPolicy | None = policy
        self.keys = keys  # the project's caller keys, from the row `policy` was read from
        self.all_open = all_open  # every open row was read: a caller's figures can be counted
        self.staged: dict[str, dict | None] = {}  # row key -> new entity, or None to delete
        self.open_delta = 0
        self.held_delta = 0
        self.state_dirty = False  # some staged write relies on the totals: the state row goes too

    # ------------------------------------------------------------ what earlier ops left
    def row(self, key: str) -> dict | None:
        return self.staged[key] if key in self.staged else self.rows.get(key)

    def slices(self) -> dict[str, dict]:
        """Every slice row of the partition as the ops so far left it (read with the state row)."""
        rows = {key: row for key, row in self.rows.items() if is_slice(key)}
        rows.update({key: row for key, row in self.staged.items() if is_slice(key)})
        return {key: row for key, row in rows.items() if row is not None}

    @property
    def raw_open(self) -> int:
        """The state row's `Open` as it will be written: slices' slots included."""
        return self.part.open_count + self.open_delta

    @property
    def raw_held(self) -> int:
        return self.part.held + self.held_delta

    @property
    def open_count(self) -> int:
        """Sessions the project runs or is starting (what decisions and figures see)."""
        return self.raw_open - escrow_of(self.slices().values())[1]

    @property
    def held(self) -> int:
        return self.raw_held - escrow_of(self.slices().values())[0]

    def usage(self, policy: ProjectPolicy | None) -> dict[Period, Usage]:
        return self.part.usage(policy, self.held)

    def caller(self, name: str) -> CallerFigures:
        """`name`'s open sessions, their reservations and spend, as the ops before left them
        (the batch read every open row: some op asked for `all_open`)."""
        if not self.all_open:
            raise RuntimeError("a caller's figures need every open row, and this round did not read them")
        rows = {key: row for key, row in self.rows.items() if key.startswith(OPEN_PREFIX)}
        rows.update({key: row for key, row in self.staged.items() if key.startswith(OPEN_PREFIX)})
        mine = [row for row in rows.values() if row is not None and get(row, "Caller") == name]
        spent = {period: self.part.caller_spent(period).get(name, 0) for period in self.part.usage_rows}
        reserved = sum(get(row, "Reserved", 0) for row in mine)
        return CallerFigures(name=name, active=len(mine), reserved=reserved, spent=spent)

    # ------------------------------------------------------------ staging
    def stage(self, key: str, entity: dict | None, totals: bool = True) -> None:
        if entity is not None:
            check_entity(entity, key)
        self.staged[key] = entity
        self.state_dirty = self.state_dirty or totals

    def savepoint(self) -> tuple:
        return dict(self.staged), self.open_delta, self.held_delta, self.state_dirty

    def rollback(self, point: tuple) -> None:
        staged, self.open_delta, self.held_delta, self.state_dirty = point
        self.staged = dict(staged)

    def entry_ops(self) -> list[tuple[str, tuple]]:
        """(row key, transaction op) for every row whose staged value differs from what was read."""
        ops = []
        for key, entity in self.staged.items():
            before = key in self.rows and self.rows[key] is not None
            if entity is None and before:
                ops.append((key, delete_key_op(self.part.project, key, self.etags.get(key))))
            elif entity is not None:
                ops.append((key, update_op(entity, self.etags.get(key)) if before else create_op(entity)))
        return ops


class BatchOp(Protocol):
    # read-only members (properties): the ops are dataclasses whose fields, or properties, provide them
    @property
    def now(self) -> datetime | None:
        """The period the op's money belongs to (None: it moves no money)."""

    @property
    def size(self) -> int:
        """Table operations it may add at most."""

    @property
    def needs_policy(self) -> bool: ...

    @property
    def all_open(self) -> bool:
        """Decides with a caller's figures: the batch reads every open row."""

    def keys(self) -> Iterable[str]:
        """Entry row keys to read before deciding."""

    def known(self) -> dict[str, tuple[dict | None, str | None]]:
        """Rows the op already holds (entity or None, ETag): the first attempt need not read them."""

    def apply(self, work: Working) -> Finish:
        """Decide against `work`, stage writes, return how to build the answer; raise to say no."""


def period_of(op: BatchOp):
    return None if op.now is None else (Period.DAY.key(op.now), Period.MONTH.key(op.now))


def fits(batch: Sequence[BatchOp], op: BatchOp) -> bool:
    """Same periods (or none), and the whole batch stays inside one transaction's 100 operations."""
    periods = {period_of(o) for o in batch} - {None}
    if period_of(op) is not None and periods and period_of(op) not in periods:
        return False
    return sum(o.size for o in batch) + op.size + FIXED_ROWS <= MAX_BATCH


def decide_all(work: Working, ops: Sequence[BatchOp]) -> list[Outcome | Finish]:
    """Each op in order; a refusal rolls back only its own staging."""
    decided: list[Outcome | Finish] = []
    for op in ops:
        point = work.savepoint()
        try:
            decided.append(op.apply(work))
        except Exception as exc:
            work.rollback(point)
            decided.append(Outcome(error=exc))
    return decided


# ---------------------------------------------------------------- the operations
def _open_or_closed(work: Working, sid: str, project: str) -> tuple[dict | None, LedgerEntry]:
    """The open row and its entry, or (None, closed entry); NotFound if neither."""
    row = work.row(open_key(sid))
    if row is not None:
        return row, entity_to_entry(row)
    closed = work.row(closed_key(sid))
    if closed is not None:
        return None, entity_to_entry(closed)
    raise NotFound(f"ledger entry {sid!r} does not exist in project {project!r}")


@dataclass
class Reserve:
    entry: LedgerEntry
    decide: Callable[[AdmissionSnapshot], int]
    now: datetime
    policy: ProjectPolicy | None = None
    count_caller: bool = False  # the snapshot carries the entry's caller's figures
    fresh: bool = False  # the id was drawn at random just now: no row can hold it
    size: int = 1
    who: CallerRef | None = None  # its caller: standing and limits from the project row the round reads

    @property
    def all_open(self) -> bool:
        return self.count_caller

    @property
    def needs_policy(self) -> bool:
        return self.policy is None

    def keys(self):
        # moved|: a v1 reservation id lives on as a pointer once ARR's id replaced it (Activate)
        sid = self.entry.session_id
        return open_key(sid), closed_key(sid), moved_key(sid)

    def known(self):
        return {key: (None, None) for key in self.keys()} if self.fresh else {}

    def caller_limits(self, policy: ProjectPolicy | None, keys: Sequence[CallerKey], now: datetime):
        """Its caller's own limits by the round's project row; Refusal if that row no longer lets it act."""
        if self.who is None or policy is None:
            return None
        return standing(self.who, policy, keys, now)

    def counts_caller(self, policy: ProjectPolicy | None, keys: Sequence[CallerKey], now: datetime) -> bool:
        """Decides with its caller's figures (the round reads every open row); a refusal needs none."""
        try:
            return self.count_caller or self.caller_limits(policy, keys, now) is not None
        except Refusal:
            return False

    def on_slice(self, policy: ProjectPolicy | None, keys: Sequence[CallerKey], now: datetime) -> bool:
        """Nothing of its caller to decide on (no limits to count, no standing refused): an escrow
        slice may pay for it."""
        try:
            return not self.count_caller and self.caller_limits(policy, keys, now) is None
        except Refusal:
            return False

    def apply(self, work: Working) -> Finish:
        sid, project = self.entry.session_id, self.entry.project
        policy = work.policy or self.policy  # the round's own read, at most PROJECT_ROW_SECONDS old
        if policy is None:
            raise NotFound(f"project {project!r} does not exist")
        if any(work.row(key) is not None for key in self.keys()):
            raise DuplicateEntry(f"ledger entry {sid!r} already exists in project {project!r}")
        limits: CallerLimits | None = self.caller_limits(policy, work.keys, work.part.now)
        caller = None
        if self.count_caller or limits is not None:
            assert self.entry.caller is not None  # count_caller and `who` come only with an entry's caller
            caller = work.caller(self.entry.caller)
        snapshot = AdmissionSnapshot(policy, work.open_count, work.usage(policy), caller, limits)
        amount = self.amount(snapshot)
        pending = self.stage(work, amount)
        work.state_dirty = True
        work.open_delta += 1
        work.held_delta += amount
        usage = work.usage(policy)
        return lambda etags: (replace(pending, etag=etags.get(open_key(sid))), usage)

    def amount(self, snapshot: AdmissionSnapshot) -> int:
        amount = int(self.decide(snapshot))
        if amount < 0:
            raise ValueError("decide() returned a negative reservation")
        return amount

    def stage(self, work: Working, amount: int) -> LedgerEntry:
        """The pending row, staged (its money and count are the caller's to move)."""
        sid = self.entry.session_id
        pending = replace(
            self.entry, state=LedgerState.PENDING, reserved=amount, charged=0, charged_minutes=0, etag=None
        )
        work.stage(open_key(sid), entry_to_entity(pending, open_key(sid)), totals=False)
        return pending


@dataclass
class Activate:
    project: str
    reservation_id: str
    session_id: str
    pending: LedgerEntry | None = None  # what `reserve` wrote, with its ETag, if this process wrote it
    now: datetime | None = None
    # written after the answer (`activate(wait=False)`): if the row was closed meanwhile (a poll
    # settled the attempt), there is nothing left to activate and nobody to tell
    deferred: bool = False
    size: int = 3
    needs_policy: bool = False
    all_open: bool = False

    def keys(self):
        keys = {open_key(self.reservation_id), open_key(self.session_id), closed_key(self.reservation_id)}
        if self.reservation_id != self.session_id:
            keys.add(moved_key(self.reservation_id))
        return keys

    def known(self):
        """The row `reserve` wrote, as it wrote it: skips the read; a stale ETag fails the write
        and the retry reads. (Absent rows are assumed absent the same way.)"""
        if self.pending is None or not self.pending.etag:
            return {}
        rid, sid = self.reservation_id, self.session_id
        rows = {open_key(rid): (entry_to_entity(self.pending, open_key(rid)), self.pending.etag)}
        rows.setdefault(open_key(sid), (None, None))
        rows[closed_key(rid)] = (None, None)
        if rid != sid:
            rows[moved_key(rid)] = (None, None)
        return rows

    def apply(self, work: Working) -> Finish:
        rid, sid = self.reservation_id, self.session_id
        current = work.row(open_key(sid))
        if current is not None and get(current, "State") == LedgerState.ACTIVE.value:
            entry = entity_to_entry(current)
            return lambda etags: replace(entry, etag=etags.get(open_key(sid), entry.etag))
        pending = work.row(open_key(rid))
        if pending is None:
            closed = work.row(closed_key(rid))
            if closed is not None and self.deferred:
                return lambda etags: entity_to_entry(closed)
            if closed is not None:
                raise StateConflict(f"reservation {rid!r} was already released or closed")
            raise NotFound(f"reservation {rid!r} does not exist in project {self.project!r}")
        entry = replace(entity_to_entry(pending), session_id=sid, state=LedgerState.ACTIVE, etag=None)
        if rid != sid:  # v1: ARR chose the id; the row moves to it, and the reservation id points there
            if current is not None:
                raise DuplicateEntry(f"ledger entry {sid!r} already exists in project {self.project!r}")
            if work.row(moved_key(rid)) is not None:  # never repoint a reservation already activated
                raise StateConflict(f"reservation {rid!r} was already activated")
            work.stage(open_key(rid), None, totals=False)
            # an Idempotency-Key retry names the reservation: get_entry follows this to the session
            pointer = {"PartitionKey": self.project, "RowKey": moved_key(rid), "SessionId": sid}
            work.stage(moved_key(rid), pointer, totals=False)
        work.stage(open_key(sid), entry_to_entity(entry, open_key(sid)), totals=False)
        return lambda etags: replace(entry, etag=etags.get(open_key(sid)))


@dataclass
class Extend:
    project: str
    session_id: str
    # (entry, usage), or (entry, usage, caller figures) with count_caller, or with `by_round`
    # (entry, usage, caller figures, policy=, limits=): the round's project row and `who`'s limits by it
    decide: Callable[..., timedelta]
    now: datetime
    count: bool = True
    count_caller: bool = False
    size: int = 1
    needs_policy: bool = True
    by_round: bool = False
    who: CallerRef | None = None  # with by_round: the session's caller, whose limits bind its extension

    @property
    def all_open(self) -> bool:
        return self.count_caller

    def keys(self):
        return open_key(self.session_id), closed_key(self.session_id)

    def known(self):
        return {}

    def caller_limits(self, policy: ProjectPolicy | None, keys: Sequence[CallerKey], now: datetime):
        return None if self.who is None or policy is None else standing(self.who, policy, keys, now)

    def counts_caller(self, policy: ProjectPolicy | None, keys: Sequence[CallerKey], now: datetime) -> bool:
        """Decides with its caller's figures (the round reads every open row)."""
        return self.count_caller or self.caller_limits(policy, keys, now) is not None

    def apply(self, work: Working) -> Finish:
        sid = self.session_id
        row, entry = _open_or_closed(work, sid, self.project)
        if row is None:
            raise StateConflict(f"session {sid!r} is closed")
        usage = work.usage(work.policy)
        if self.by_round:
            if work.policy is None:
                raise NotFound(f"project {self.project!r} does not exist")
            limits = self.caller_limits(work.policy, work.keys, work.part.now)
            figures = work.caller(entry.caller) if entry.caller and work.all_open else None
            lease = self.decide(entry, usage, figures, policy=work.policy, limits=limits)
        elif self.count_caller:
            lease = self.decide(entry, usage, work.caller(entry.caller) if entry.caller else None)
        else:
            lease = self.decide(entry, usage)
        if lease <= entry.lease:
            return lambda etags: (entry, usage)
        extra = cost_of(entry.rate, whole_minutes(lease)) - cost_of(entry.rate, whole_minutes(entry.lease))
        longer = replace(
            entry, lease=lease, reserved=entry.reserved + extra, extensions=entry.extensions + int(self.count)
        )
        work.stage(open_key(sid), entry_to_entity(longer, open_key(sid)))
        work.held_delta += extra
        after = work.usage(work.policy)
        return lambda etags: (replace(longer, etag=etags.get(open_key(sid))), after)


@dataclass
class Release:
    project: str
    reservation_id: str
    now: datetime
    size: int = 2
    needs_policy: bool = False
    all_open: bool = False

    def keys(self):
        return open_key(self.reservation_id), closed_key(self.reservation_id)

    def known(self):
        return {}

    def apply(self, work: Working) -> Finish:
        rid = self.reservation_id
        row = work.row(open_key(rid))
        if row is None:
            return lambda etags: None
        entry = entity_to_entry(row)
        if entry.state is not LedgerState.PENDING:
            raise StateConflict(f"entry {rid!r} is {entry.state.value}; only a pending reservation is released")
        closed = replace(entry, state=LedgerState.CLOSED, reserved=0, etag=None)
        work.stage(open_key(rid), None)
        work.stage(closed_key(rid), entry_to_entity(closed, closed_key(rid)))
        work.open_delta -= 1
        work.held_delta -= entry.reserved
        return lambda etags: None


def batch_now(ops: Sequence[BatchOp]) -> datetime:
    return next((op.now for op in ops if op.now is not None), None) or utcnow()


def from_slice_only(ops: Sequence[BatchOp]) -> bool:
    """Admissions an escrow slice may pay for (an id drawn at random, no caller's own limits to
    count across instances), with at most deferred activations riding along. Whether a caller has
    limits (or standing to check) is the round's project row's to say: `Reserve.on_slice`."""
    reserves = [op for op in ops if isinstance(op, Reserve)]
    return bool(reserves) and all(
        isinstance(op, Activate) or (isinstance(op, Reserve) and op.fresh and not op.count_caller) for op in ops
    )


def touches_totals(ops: Sequence[BatchOp]) -> bool:
    return any(not isinstance(op, Activate) for op in ops)


def etag_map(keys: Sequence[str], results: list, offset: int) -> dict[str, str | None]:
    etags = {}
    for index, key in enumerate(keys):
        try:
            etags[key] = results[offset + index].get("etag")
        except (IndexError, AttributeError):
            etags[key] = None
    return etags
