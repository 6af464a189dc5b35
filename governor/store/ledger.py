"""Ledger table: the money path. One partition per project (PartitionKey = project name).

Rows: `!state` (open-entry count `Open`, reservation total `Held`, latest period keys),
`usage|day|YYYY-MM-DD` and `usage|month|YYYY-MM` (`Spent`), `open|<session>` and
`closed|<session>` (LedgerEntry), `slice|<owner>` (escrow, store/escrow.py: counted in `Open` and
`Held`). Every money operation reads the rows it needs in one query,
decides, and writes them back in ONE entity-group transaction: updates carry the ETag they were
read with (IfNotModified) and inserts fail if the row appeared meanwhile, so a racing writer
makes the whole transaction fail and the round is retried on fresh data. The state row is
written by every money operation but an admission from a slice, so it serialises them per
project. See docs/storage.md.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from azure.core.exceptions import HttpResponseError

from governor.core.model import (
    AdmissionSnapshot,
    CallerFigures,
    CallerKey,
    CallerRef,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    SavingKind,
    SessionStatus,
    Usage,
    VmSize,
    cost_of,
    counted_before_midnight,
    utcnow,
    whole_minutes,
)
from governor.core.policy import placement
from governor.core.policy.callers import PROJECT_ROW_SECONDS
from governor.store.base import TablesBase, delete_op, result_etag, write_op
from governor.store.concurrency import RETRYABLE_STATUS
from governor.store.entities import entity_to_entry, entry_to_entity, etag_of, get, i64
from governor.store.errors import NotFound, StateConflict
from governor.store.escrow import (
    MAX_SLICES,
    SLICE_PREFIX,
    SLICE_SECONDS,
    escrow_of,
    free_money,
    is_slice,
    slice_entity,
    slice_key,
    slice_of,
    usable,
)
from governor.store.escrow import backed as escrow_backed
from governor.store.escrow import size as slice_size
from governor.store.escrow import snapshot as slice_snapshot
from governor.store.escrow import wanted as slice_wanted
from governor.store.groupcommit import GroupCommit, Outcome
from governor.store.keys import (
    CLOSED_PREFIX,
    OPEN_PREFIX,
    STATE_ROW,
    check_key,
    closed_key,
    open_key,
    prefix_range,
    usage_key,
)
from governor.store.ledger_batch import (
    Activate,
    BatchOp,
    Extend,
    Release,
    Reserve,
    Working,
    batch_now,
    decide_all,
    etag_map,
    fits,
    from_slice_only,
    touches_totals,
)
from governor.store.totals import SeenRow, Totals

PERIODS = (Period.DAY, Period.MONTH)
MAX_FILTER_KEYS = 14  # row keys per query: Table Storage allows 15 comparisons in a $filter
_GROUP_LOCK = threading.Lock()
MOVED_STATUS = (404, *RETRYABLE_STATUS)  # a transaction that failed on these wrote nothing


def _moved(exc: BaseException) -> bool:
    return isinstance(exc, HttpResponseError) and exc.status_code in MOVED_STATUS


class _Unread(Exception):
    """The batch decided on remembered totals and must read them instead."""


def usage_keys(now: datetime) -> tuple[str, ...]:
    return tuple(usage_key(p.value, p.key(now)) for p in PERIODS)


def budget_of(policy: ProjectPolicy | None, period: Period) -> int | None:
    if policy is None:
        return None
    return policy.daily_budget if period is Period.DAY else policy.monthly_budget


@dataclass
class Partition:
    """The rows of one project partition as read in one query, with their ETags."""

    project: str
    now: datetime
    state: dict | None = None
    usage_rows: dict[Period, dict | None] = field(default_factory=dict)
    open: dict[str, dict] = field(default_factory=dict)
    closed: dict[str, dict] = field(default_factory=dict)
    slices: dict[str, dict] = field(default_factory=dict)  # escrow slices by row key (store/escrow.py)

    @property
    def escrow(self) -> tuple[int, int]:
        """(micros, slots) the state row counts as held and open but no session has taken yet."""
        return escrow_of(self.slices.values())

    @property
    def open_count(self) -> int:
        return get(self.state, "Open", 0) if self.state else 0

    @property
    def held(self) -> int:
        return get(self.state, "Held", 0) if self.state else 0

    def spent(self, period: Period) -> int:
        row = self.usage_rows.get(period)
        return get(row, "Spent", 0) if row else 0

    def caller_spent(self, period: Period) -> dict[str, int]:
        row = self.usage_rows.get(period)
        return caller_spent_of(row)

    def caller(self, name: str) -> CallerFigures:
        """`name`'s open sessions and their reservations (needs a read with all_open) and its spend."""
        mine = [row for row in self.open.values() if get(row, "Caller") == name]
        return CallerFigures(
            name=name,
            active=len(mine),
            reserved=sum(get(row, "Reserved", 0) for row in mine),
            spent={period: self.caller_spent(period).get(name, 0) for period in PERIODS},
        )

    def saved(self, period: Period) -> int:
        row = self.usage_rows.get(period)
        return get(row, "Saved", 0) if row else 0

    def usage(self, policy: ProjectPolicy | None, held: int | None = None, spent: dict | None = None) -> dict:
        held = self.held if held is None else held
        spent = spent or {}
        return {
            period: Usage(
                project=self.project,
                period=period,
                key=period.key(self.now),
                budget=budget_of(policy, period),
                spent=self.spent(period) + spent.get(period, 0),
                reserved=held,
                saved=self.saved(period),
            )
            for period in PERIODS
        }


@dataclass
class Change:
    """What one money operation writes: entry rows, and deltas to the state and usage rows."""

    entries: list[tuple] = field(default_factory=list)  # transaction ops on entry rows
    open_delta: int = 0
    held_delta: int = 0
    spent_delta: int = 0
    caller_spent: dict[str, int] = field(default_factory=dict)  # spent_delta by caller name
    saved_delta: int = 0

    def spend(self, entry: LedgerEntry, micros: int) -> None:
        self.spent_delta += micros
        if entry.caller and micros:
            self.caller_spent[entry.caller] = self.caller_spent.get(entry.caller, 0) + micros


def caller_spent_of(row: dict | None) -> dict[str, int]:
    """A usage row's spend by caller (column CallerSpent, JSON {name: micros})."""
    text = get(row, "CallerSpent") if row else None
    return json.loads(text) if text else {}


def charge(entry: LedgerEntry, elapsed_minutes: int) -> tuple[LedgerEntry, int]:
    """The entry metered up to `elapsed_minutes`, and the micros newly spent (0 if nothing moved)."""
    if elapsed_minutes <= entry.charged_minutes:
        return entry, 0
    charged = cost_of(entry.rate, elapsed_minutes)
    delta = max(charged - entry.charged, 0)
    moved = replace(
        entry,
        charged_minutes=elapsed_minutes,
        charged=entry.charged + delta,
        reserved=max(entry.reserved - delta, 0),
    )
    return moved, delta


class LedgerRepo(TablesBase):
    # ------------------------------------------------------------ reads
    def _read(self, project: str, now: datetime, open_ids=(), closed_ids=(), all_open: bool = False) -> Partition:
        check_key("project", project)
        rows: dict[str, str | None] = {STATE_ROW: "st"}
        for period in PERIODS:
            rows[usage_key(period.value, period.key(now))] = period.value
        for session_id in open_ids:
            rows[open_key(session_id)] = None
        for session_id in closed_ids:
            rows[closed_key(session_id)] = None
        params = {"pk": project}
        clauses = []
        for index, row_key in enumerate(rows):
            params[f"r{index}"] = row_key
            clauses.append(f"RowKey eq @r{index}")
        if all_open:
            params["lo"], params["hi"] = OPEN_PREFIX, OPEN_PREFIX[:-1] + "}"
            clauses.append("(RowKey ge @lo and RowKey lt @hi)")
        params["slo"], params["shi"] = prefix_range(SLICE_PREFIX)
        clauses.append("(RowKey ge @slo and RowKey lt @shi)")
        found = self._query(self.tables.ledger, f"PartitionKey eq @pk and ({' or '.join(clauses)})", params)
        partition = Partition(project, now, usage_rows={p: None for p in PERIODS})
        usage_rows = {usage_key(p.value, p.key(now)): p for p in PERIODS}
        for row in found:
            key = row["RowKey"]
            if key == STATE_ROW:
                partition.state = row
            elif key in usage_rows:
                partition.usage_rows[usage_rows[key]] = row
            elif key.startswith(OPEN_PREFIX):
                partition.open[key[len(OPEN_PREFIX) :]] = row
            elif key.startswith(CLOSED_PREFIX):
                partition.closed[key[len(CLOSED_PREFIX) :]] = row
            elif is_slice(key):
                partition.slices[key] = row
        return partition

    def _read_all(self, now: datetime) -> dict[str, Partition]:
        """Every project's state row, current usage rows and open entries, in two queries.

        Not one consistent snapshot, but each row carries its ETag, so a write based on it is
        still guarded. (Two simple filters are faster on Azurite than one combined filter.)
        """
        usage_rows = {usage_key(p.value, p.key(now)): p for p in PERIODS}
        params = {"lo": OPEN_PREFIX, "hi": OPEN_PREFIX[:-1] + "}", "st": STATE_ROW}
        params["slo"], params["shi"] = prefix_range(SLICE_PREFIX)
        clauses = ["RowKey eq @st", "(RowKey ge @slo and RowKey lt @shi)"]
        for index, row_key in enumerate(usage_rows):
            params[f"u{index}"] = row_key
            clauses.append(f"RowKey eq @u{index}")
        parts: dict[str, Partition] = {}

        def part(project: str) -> Partition:
            if project not in parts:
                parts[project] = Partition(project, now, usage_rows={p: None for p in PERIODS})
            return parts[project]

        for row in self._query(self.tables.ledger, "RowKey ge @lo and RowKey lt @hi", params, page=1000):
            part(row["PartitionKey"]).open[row["RowKey"][len(OPEN_PREFIX) :]] = row
        for row in self._query(self.tables.ledger, " or ".join(clauses), params, page=1000):
            if row["RowKey"] == STATE_ROW:
                part(row["PartitionKey"]).state = row
            elif is_slice(row["RowKey"]):
                part(row["PartitionKey"]).slices[row["RowKey"]] = row
            else:
                part(row["PartitionKey"]).usage_rows[usage_rows[row["RowKey"]]] = row
        return parts

    def _policy(self, project: str) -> ProjectPolicy:
        policy = self.get_project(project)
        if policy is None:
            raise NotFound(f"project {project!r} does not exist")
        return policy

    # ------------------------------------------------------------ the one write
    def _commit(self, part: Partition, change: Change, drain: bool = True) -> list:
        """Submit entry ops plus the state row (always) and usage rows (if money was spent).
        `drain`: take back the slices read with `part` that this change could leave unbacked (it
        adds to what is spent or held; the caller knows no policy here) and those past their time.
        A batch decides its slices itself (`drain=False`)."""
        if drain and part.slices:
            grows = change.spent_delta + change.held_delta > 0 or change.open_delta > 0
            for key, row in list(part.slices.items()):
                if grows or get(row, "Until") <= part.now:
                    change.entries.append(delete_op(row))
                    change.open_delta -= get(row, "Slots", 0)
                    change.held_delta -= get(row, "Free", 0)
                    del part.slices[key]
        state = {
            "PartitionKey": part.project,
            "RowKey": STATE_ROW,
            "Open": max(part.open_count + change.open_delta, 0),
            "Held": i64(max(part.held + change.held_delta, 0)),
            "DayKey": max(get(part.state, "DayKey", "") if part.state else "", Period.DAY.key(part.now)),
            "MonthKey": max(get(part.state, "MonthKey", "") if part.state else "", Period.MONTH.key(part.now)),
        }
        ops = [write_op(state, part.state), *change.entries]
        usage = dict(part.usage_rows)  # as read, unless written here
        written: list[tuple[Period, dict, int]] = []
        if change.spent_delta or change.saved_delta:
            for period in PERIODS:
                row = {
                    "PartitionKey": part.project,
                    "RowKey": usage_key(period.value, period.key(part.now)),
                    "Period": period.value,
                    "Key": period.key(part.now),
                    "Spent": i64(part.spent(period) + change.spent_delta),
                }
                by_caller = part.caller_spent(period)
                for name, micros in change.caller_spent.items():
                    by_caller[name] = by_caller.get(name, 0) + micros
                if by_caller:
                    row["CallerSpent"] = json.dumps(by_caller, separators=(",", ":"), sort_keys=True)
                saved = part.saved(period) + change.saved_delta
                if saved:
                    row["Saved"] = i64(saved)
                ops.append(write_op(row, part.usage_rows.get(period)))
                written.append((period, row, len(ops) - 1))
        # A failed or ambiguous write leaves the remembered rows as they were: at worst stale, and
        # a stale ETag only costs the next batch a failed transaction and a read.
        results = self._submit(self.tables.ledger, ops)
        for period, row, index in written:
            usage[period] = SeenRow(row, result_etag(results, index))
        totals = Totals(usage_keys(part.now), SeenRow(state, result_etag(results, 0)), usage, dict(part.slices))
        if all(etag_of(row) for row in (totals.state, *usage.values()) if row is not None):  # an update needs one
            self._totals.put(part.project, totals)
        return results

    # ------------------------------------------------------------ group commit
    @property
    def _group(self) -> GroupCommit[str, BatchOp]:
        group = self.__dict__.get("_group_commit")
        if group is None:
            with _GROUP_LOCK:
                group = self.__dict__.setdefault("_group_commit", GroupCommit(self._run_batch, fits))
        return group

    def flush(self) -> None:
        """Write every deferred activation now (see `activate(wait=False)`)."""
        self._group.flush()

    def _run_batch(self, project: str, ops: Sequence[BatchOp]) -> list[Outcome]:
        """Read once, decide every op in order, write once; on a 412/409 all of it again."""
        check_key("project", project)
        now = batch_now(ops)
        totals = touches_totals(ops)
        held: dict = {}
        for op in ops:
            for key, value in op.known().items():
                held.setdefault(key, value)
        sliceable = from_slice_only(ops)
        if sliceable:
            done = self._from_slice(project, ops, now, held)
            if done is not None:
                return done

        def attempt(known: dict, remembered: Totals | None = None) -> list[Outcome]:
            keys = set().union(*(op.keys() for op in ops)) - known.keys()
            policy = self._policy_for(project, ops)
            callers = self._callers_for(project, ops)
            all_open = any(op.all_open for op in ops) or any(
                (isinstance(op, Reserve) and op.counts_caller(policy or op.policy, callers, now))
                or (isinstance(op, Extend) and op.counts_caller(policy, callers, now))
                for op in ops
            )
            # a caller with limits (or standing) to decide by this round's row sizes no slice either
            slicing = sliceable and all(
                op.on_slice(policy or op.policy, callers, now) for op in ops if isinstance(op, Reserve)
            )
            if remembered is not None and totals and not keys and not all_open:
                part = Partition(project, now, remembered.state, dict(remembered.usage))
                rows: dict[str, dict | None] = dict(remembered.slices)
            else:
                remembered = None
                part, rows = self._read_rows(project, now, keys, totals, all_open)
            etags = {key: etag_of(row) for key, row in rows.items() if row is not None}
            for key, (entity, etag) in known.items():
                rows[key], etags[key] = entity, etag
            work = Working(part, rows, etags, policy, callers, all_open)
            decided = decide_all(work, ops)
            if remembered is not None and any(isinstance(d, Outcome) for d in decided):
                raise _Unread  # a refusal is decided on rows read now, never on remembered ones
            if totals:
                self._settle_escrow(work, ops, decided, slicing)
            written = work.entry_ops()
            entries = [op for _, op in written]
            if work.state_dirty:
                change = Change(entries=entries, open_delta=work.open_delta, held_delta=work.held_delta)
                etags = etag_map([key for key, _ in written], self._commit(part, change, drain=False), 1)
                self._remember_slices(project, work, etags)
            else:
                etags = etag_map([key for key, _ in written], self._submit(self.tables.ledger, entries), 0)
            return [d if isinstance(d, Outcome) else Outcome(value=d(etags)) for d in decided]

        def round_() -> list[Outcome]:
            if held:  # first round only: rows ops hold, and the totals as last seen, skip the read
                known = dict(held)
                held.clear()
                try:
                    return attempt(known, self._remembered(project, now))
                except _Unread:
                    pass
                except HttpResponseError as exc:
                    if exc.status_code not in MOVED_STATUS:
                        raise
                    # a held row moved since (412, 409, or 404 once deleted): read and decide again
            return attempt({})

        # every round reads the rows again, so a row deleted under one (a 404) is read as gone in the next
        return self._retry(round_, f"{len(ops)} ledger operation(s) in {project}", retryable=_moved)

    def _policy_for(self, project: str, ops: Sequence[BatchOp]) -> ProjectPolicy | None:
        """The policy a round decides by. An admission's is read again when older than the gate's
        bound (PROJECT_ROW_SECONDS), not taken from its request: a round may run seconds after the
        request authenticated (ETag retries, group commit), and a limit lowered meanwhile must hold."""
        if any(op.needs_policy for op in ops):
            return self.get_project(project)
        if any(isinstance(op, Reserve) for op in ops):
            return self.get_project(project, max_age=PROJECT_ROW_SECONDS)
        return None

    def _callers_for(self, project: str, ops: Sequence[BatchOp]) -> Sequence[CallerKey]:
        """The project's caller keys an admission's caller is checked against: from the same row
        `_policy_for` read (or one as recent), so its standing and limits are as current."""
        if any(isinstance(op, Reserve | Extend) and op.who is not None for op in ops):
            return self.caller_keys(project, max_age=PROJECT_ROW_SECONDS)
        return ()

    # ------------------------------------------------------------ escrow slices (store/escrow.py)
    @property
    def _owner(self) -> str:
        """This store's name on its slice rows: one per instance (each has its own store)."""
        return self.__dict__.setdefault("_owner_id", uuid.uuid4().hex[:16])

    def _from_slice(self, project: str, ops: Sequence[BatchOp], now: datetime, held: dict) -> list[Outcome] | None:
        """Admit the batch from this store's own slice: its row and the entry rows, no state row.
        None when it cannot (no usable slice, it cannot pay them all, a row moved): the exact
        path then decides, on the project's real figures."""
        remembered = self._remembered(project, now)
        key = slice_key(self._owner)
        mine = remembered.slices.get(key) if remembered is not None else None
        if mine is None:
            return None
        assert remembered is not None  # `mine` was found in it
        policy = self._policy_for(project, ops) or next((op.policy for op in ops if isinstance(op, Reserve)), None)
        if policy is None or not usable(mine, policy):
            return None
        callers = self._callers_for(project, ops)
        if not all(op.on_slice(policy, callers, now) for op in ops if isinstance(op, Reserve)):
            return None  # a caller's own limits or standing to decide: on the project's real figures
        part = Partition(project, now, remembered.state, dict(remembered.usage), slices=dict(remembered.slices))
        rows = {k: entity for k, (entity, _) in held.items()}
        etags = {k: etag for k, (_, etag) in held.items()}
        rows[key], etags[key] = mine, etag_of(mine)
        work = Working(part, rows, etags, policy, callers)
        left = slice_of(mine)
        free, slots = left.free, left.slots
        answers: list[tuple[Reserve, LedgerEntry] | Callable] = []
        try:
            for op in ops:
                if not isinstance(op, Reserve):
                    answers.append(op.apply(work))
                    continue
                amount = op.amount(slice_snapshot(policy, free, slots, now))
                if amount > free or slots < 1:
                    return None
                answers.append((op, op.stage(work, amount)))
                free, slots = free - amount, slots - 1
        except Exception:
            return None
        until = now + timedelta(seconds=SLICE_SECONDS)
        after = slice_entity(project, self._owner, free, slots, until, policy, get(mine, "Size", left.slots))
        work.stage(key, after, totals=False)
        written = work.entry_ops()

        try:
            results = self._submit(self.tables.ledger, [op for _, op in written])
        except HttpResponseError as exc:
            if exc.status_code not in MOVED_STATUS:
                raise
            self._remember_slices(project, None, {key: None})
            return None
        etags = etag_map([k for k, _ in written], results, 0)
        part.slices[key] = SeenRow(after, etags.get(key))
        self._remember_slices(project, None, {key: part.slices[key]})
        usage = part.usage(policy, part.held - part.escrow[0])
        return [
            Outcome(value=(replace(a[1], etag=etags.get(open_key(a[1].session_id))), usage))
            if isinstance(a, tuple)
            else Outcome(value=a(etags))
            for a in answers
        ]

    def _settle_escrow(self, work: Working, ops: Sequence[BatchOp], decided: list, sliceable: bool) -> None:
        """Take others' slices past their time back; size this store's own one when the batch is
        admissions a slice may pay for; take every slice back if the write would leave them unbacked."""
        policy = work.policy or next((op.policy for op in ops if isinstance(op, Reserve) and op.policy), None)
        now, mine = work.part.now, slice_key(self._owner)
        for key, row in work.slices().items():
            if key != mine and get(row, "Until") <= now:
                self._take_back(work, key)
        if policy is None:
            return  # only releases and activations: they free money and slots, never take them
        ok = all(not isinstance(d, Outcome) for d in decided)
        if sliceable and ok:
            self._size_slice(work, policy, ops)
        spent = {period: work.part.spent(period) for period in PERIODS}
        if not escrow_backed(policy, spent, work.raw_held, work.raw_open):
            for key in list(work.slices()):
                self._take_back(work, key)

    def _size_slice(self, work: Working, policy: ProjectPolicy, ops: Sequence[BatchOp]) -> None:
        key = slice_key(self._owner)
        slices = work.slices()
        if key not in slices and len(slices) >= MAX_SLICES:  # room: the slice used longest ago goes back
            self._take_back(work, min(slices, key=lambda k: get(slices[k], "Until")))
        current = slices.get(key)
        free0, slots0 = escrow_of([current])
        reserves = [op for op in ops if isinstance(op, Reserve)]

        def reserved_of(op: Reserve) -> int:
            row = work.row(open_key(op.entry.session_id))
            assert row is not None  # each reserve staged its open row: the batch decided them all
            return get(row, "Reserved", 0)

        per_session = max(reserved_of(op) for op in reserves)
        spent = {period: work.part.spent(period) for period in PERIODS}
        open_free = policy.max_concurrent - work.raw_open + slots0
        money_free = free_money(policy, spent, work.raw_held - free0)
        slots, free = slice_size(open_free, money_free, per_session, slice_wanted(current, len(reserves)))
        if not slots:
            return
        until = work.part.now + timedelta(seconds=SLICE_SECONDS)
        work.stage(key, slice_entity(work.part.project, self._owner, free, slots, until, policy, slots))
        work.open_delta += slots - slots0
        work.held_delta += free - free0

    @staticmethod
    def _take_back(work: Working, key: str) -> None:
        free, slots = escrow_of([work.slices().get(key)])
        work.stage(key, None)
        work.open_delta -= slots
        work.held_delta -= free

    def _remember_slices(self, project: str, work: Working | None, changed: dict) -> None:
        """The slices as a write just left them (`work`'s, with the ETags `changed` maps), or the
        remembered ones with `changed` ({key: row or None}) applied."""
        totals = self._totals.get(project)
        if totals is None:
            return
        if work is not None:
            slices = {k: SeenRow(row, changed.get(k)) if k in work.staged else row for k, row in work.slices().items()}
        else:
            slices = {k: row for k, row in {**totals.slices, **changed}.items() if row is not None}
        self._totals.put(project, replace(totals, slices=slices))

    def _remembered(self, project: str, now: datetime) -> Totals | None:
        totals = self._totals.get(project)
        return totals if totals is not None and totals.usage_keys == usage_keys(now) else None

    def _read_rows(
        self, project: str, now: datetime, keys: set[str], totals: bool, all_open: bool = False
    ) -> tuple[Partition, dict[str, dict | None]]:
        """The state and usage rows (if `totals`) and the entry rows `keys`, at most 14 row keys a
        query (Table Storage allows 15 comparisons in a filter; PartitionKey is one); with
        `all_open`, every open row too (one range query)."""
        usage_rows = {usage_key(p.value, p.key(now)): p for p in PERIODS}
        wanted = [STATE_ROW, *usage_rows] if totals else []
        wanted += sorted(keys)
        found: dict[str, dict] = {}
        # the first query also takes the slices' range with the totals, and the open range with
        # all_open (two comparisons each)
        first = MAX_FILTER_KEYS - 2 * (all_open + totals)
        chunks = [wanted[:first]] + [
            wanted[i : i + MAX_FILTER_KEYS] for i in range(first, len(wanted), MAX_FILTER_KEYS)
        ]
        for index, chunk in enumerate(chunks):
            params = {"pk": project, **{f"r{i}": key for i, key in enumerate(chunk)}}
            clauses = [f"RowKey eq @r{i}" for i in range(len(chunk))]
            if all_open and index == 0:
                params["lo"], params["hi"] = prefix_range(OPEN_PREFIX)
                clauses.append("(RowKey ge @lo and RowKey lt @hi)")
            if totals and index == 0:
                params["slo"], params["shi"] = prefix_range(SLICE_PREFIX)
                clauses.append("(RowKey ge @slo and RowKey lt @shi)")
            if not clauses:
                continue
            for row in self._query(self.tables.ledger, f"PartitionKey eq @pk and ({' or '.join(clauses)})", params):
                found[row["RowKey"]] = row
        rows = {key: found.get(key) for key in keys}
        if all_open:
            rows.update({key: row for key, row in found.items() if key.startswith(OPEN_PREFIX)})
        part = Partition(project, now, state=found.get(STATE_ROW))
        part.usage_rows = {period: found.get(key) for key, period in usage_rows.items()}
        if totals:
            part.slices = {key: row for key, row in found.items() if is_slice(key)}
            rows.update(part.slices)
            self._totals.put(project, Totals(usage_keys(now), part.state, dict(part.usage_rows), dict(part.slices)))
        return part, rows

    # ------------------------------------------------------------ admission
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
        """`policy`: the one the caller just read, if any (it is not part of the transaction either way).
        `count_caller`: read every open entry too, for `entry.caller`'s figures; the state row's ETag
        guards them like the rest, since every money operation rewrites it.
        `fresh`: the caller drew `entry.session_id` at random just now, so no row holds it and its
        absence is not read (an insert still fails if it existed).
        `who`: the entry's caller; each round checks it against the project row it decides by and
        puts its limits (and, when it has some, its figures) into the snapshot."""
        sid = check_key("sessionId", entry.session_id)
        if who is not None and who.name != entry.caller:
            raise ValueError("who must name the entry's caller")
        op = Reserve(
            replace(entry, project=project),
            decide,
            now,
            policy,
            count_caller=bool(count_caller and entry.caller),
            fresh=fresh,
            who=who,
        )
        reserved, usage = self._group.submit(check_key("project", project), op)
        self._fresh.put((project, sid), reserved)
        return reserved, usage

    def activate(self, project: str, reservation_id: str, session, wait: bool = True) -> LedgerEntry:
        rid, sid = check_key("reservationId", reservation_id), check_key("sessionId", session.id)
        pending = self._fresh.pop((project, rid))
        op = Activate(project, rid, sid, pending)
        if not wait and rid == sid and pending is not None and pending.etag:
            # The row already names ARR's session, so it is active as it stands (every reader
            # treats a pending row whose session ARR reports as active); the write that says so
            # rides the project's next transaction, or a timer's.
            self._group.defer(check_key("project", project), replace(op, deferred=True))
            return replace(pending, state=LedgerState.ACTIVE, etag=None)
        return self._group.submit(check_key("project", project), op)

    def release(self, project: str, reservation_id: str, now: datetime) -> None:
        rid = check_key("reservationId", reservation_id)
        self._fresh.pop((project, rid))
        self._group.submit(check_key("project", project), Release(project, rid, now))

    def claim(self, project: str, reservation_id: str) -> LedgerEntry | None:
        """Mark a pending entry as a claim (its v1 create failed ambiguously)."""
        return self._rewrite_pending(
            project, reservation_id, lambda entry: entry if entry.claim else replace(entry, claim=True), "claim"
        )

    def mark_working(
        self, project: str, reservation_id: str, since: datetime | None, etag: str | None = None
    ) -> LedgerEntry | None:
        def change(entry: LedgerEntry) -> LedgerEntry | None:
            return None if etag is not None and entry.etag != etag else replace(entry, working_since=since)

        return self._rewrite_pending(project, reservation_id, change, "mark as worked on")

    def _rewrite_pending(self, project: str, reservation_id: str, change, what: str) -> LedgerEntry | None:
        """Rewrite one pending entry's row, not a money change (the reservation stays, so only that
        row is written, under its ETag). `change(entry)` gives the entry to write, the entry itself
        (nothing to write) or None (not this one); None too if the entry is not pending."""
        rid = check_key("reservationId", reservation_id)
        self._fresh.pop((project, rid))

        def round_():
            row = self._read(project, utcnow(), open_ids=[rid]).open.get(rid)
            entry = entity_to_entry(row) if row is not None else None
            if entry is None or entry.state is not LedgerState.PENDING:
                return None
            changed = change(entry)
            if changed is None or changed is entry:
                return changed
            changed = replace(changed, etag=None)
            results = self._submit(self.tables.ledger, [write_op(entry_to_entity(changed, open_key(rid)), row)])
            return replace(changed, etag=result_etag(results, 0))

        return self._retry(round_, f"{what} {rid} in {project}")

    def stop_request(self, project: str, session_id: str) -> LedgerEntry | None:
        """Mark the entry's request as stopped by its caller (`placement.stopped_plan`), open or closed."""
        sid = check_key("sessionId", session_id)
        self._fresh.pop((project, sid))

        def round_():
            part = self._read(project, utcnow(), open_ids=[sid], closed_ids=[sid])
            row = part.open.get(sid) or part.closed.get(sid)
            entry = entity_to_entry(row) if row is not None else None
            plan = None if entry is None else placement.stopped_plan(entry.plan)
            if plan is None:
                return entry
            stopped = replace(entry, plan=plan, etag=None)
            key = open_key(sid) if sid in part.open else closed_key(sid)
            results = self._submit(self.tables.ledger, [write_op(entry_to_entity(stopped, key), row)])
            return replace(stopped, etag=result_etag(results, 0))

        return self._retry(round_, f"stop the request of {sid} in {project}")

    def adopt(self, project: str, session, now: datetime, claim: bool = False) -> LedgerEntry:
        sid = check_key("sessionId", session.id)

        def round_():
            policy = self._policy(project)
            part = self._read(project, now, open_ids=[sid], closed_ids=[sid])
            if sid in part.open:
                return entity_to_entry(part.open[sid])
            if sid in part.closed:
                raise StateConflict(f"session {sid!r} is already closed in project {project!r}")
            size = session.size or VmSize.STANDARD
            rate = policy.rate(size)
            entry = LedgerEntry(
                project=project,
                session_id=sid,
                account=session.account or policy.account,
                size=size,
                state=LedgerState.ACTIVE,
                requested_at=session.created or now,
                lease=session.max_lease,
                rate=rate,
                reserved=cost_of(rate, whole_minutes(session.max_lease)),
                adopted=True,
                claim=claim,
            )
            change = Change(entries=[write_op(entry_to_entity(entry, open_key(sid)), None)], open_delta=1)
            change.held_delta = entry.reserved
            results = self._commit(part, change)
            return replace(entry, etag=result_etag(results, 1))

        return self._retry(round_, f"adopt {sid} in {project}")

    # ------------------------------------------------------------ running sessions
    def _open_entry(self, part: Partition, sid: str) -> tuple[dict | None, LedgerEntry | None]:
        """The open row, or (None, closed entry) if the session is closed; NotFound if neither."""
        if sid in part.open:
            return part.open[sid], entity_to_entry(part.open[sid])
        if sid in part.closed:
            return None, entity_to_entry(part.closed[sid])
        raise NotFound(f"ledger entry {sid!r} does not exist in project {part.project!r}")

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
        """`count_caller`: read every open entry too and call `decide(entry, usage, caller_figures)`
        with the figures of the entry's caller (as `reserve` does), in the same guarded round.
        `by_round`: `decide(entry, usage, caller_figures, policy=, limits=)` gets the project row the
        round read and the limits of `who` (the session's caller) by it, with its figures if any."""
        sid = check_key("sessionId", session_id)
        op = Extend(project, sid, decide, now, count, count_caller=count_caller, by_round=by_round, who=who)
        return self._group.submit(check_key("project", project), op)

    def revert_extension(
        self, project: str, session_id: str, lease: timedelta, now: datetime, *, extended_to: timedelta
    ) -> LedgerEntry:
        """Undo the caller's own `extend` (to `extended_to`) when ARR refused it: back to `lease`, extra
        reservation released. A row raised further since keeps its lease: reverting it would free
        money ARR may still spend on the other extension."""
        sid = check_key("sessionId", session_id)

        def round_():
            part = self._read(project, now, open_ids=[sid], closed_ids=[sid])
            row, entry = self._open_entry(part, sid)
            if row is None or entry.lease <= lease or entry.lease != extended_to:
                return entry
            extra = cost_of(entry.rate, whole_minutes(entry.lease)) - cost_of(entry.rate, whole_minutes(lease))
            refund = min(extra, entry.reserved)
            shorter = replace(
                entry, lease=lease, reserved=entry.reserved - refund, extensions=max(entry.extensions - 1, 0)
            )
            change = Change(entries=[write_op(entry_to_entity(shorter, open_key(sid)), row)], held_delta=-refund)
            results = self._commit(part, change)
            return replace(shorter, etag=result_etag(results, 1))

        return self._retry(round_, f"revert extension of {sid} in {project}")

    def meter(self, project: str, session_id: str, elapsed_minutes: int, now: datetime) -> LedgerEntry:
        sid = check_key("sessionId", session_id)
        elapsed = check_minutes(elapsed_minutes)

        def round_():
            part = self._read(project, now, open_ids=[sid], closed_ids=[sid])
            row, entry = self._open_entry(part, sid)
            if row is None:
                return entry
            moved, spent = charge(entry, elapsed)
            if moved == entry:
                return entry
            change = Change(
                entries=[write_op(entry_to_entity(moved, open_key(sid)), row)],
                held_delta=moved.reserved - entry.reserved,
            )
            change.spend(entry, spent)
            results = self._commit(part, change)
            return replace(moved, etag=result_etag(results, 1))

        return self._retry(round_, f"meter {sid} in {project}")

    def close(
        self,
        project: str,
        session_id: str,
        final_minutes: int,
        final_status: str,
        now: datetime,
        arr_time_scale: float = 1.0,
    ) -> LedgerEntry:
        sid = check_key("sessionId", session_id)
        elapsed = check_minutes(final_minutes)
        status = SessionStatus.parse(final_status)

        def round_():
            part = self._read(project, now, open_ids=[sid], closed_ids=[sid])
            row, entry = self._open_entry(part, sid)
            if row is None:
                return entry
            # the session ended at about `now`: its minutes counted before UTC midnight are the day before's
            midnight, before = counted_before_midnight(elapsed, entry.requested_by_us, now, arr_time_scale)
            if before > entry.charged_minutes:  # rare: stopped soon after midnight, not metered since
                self.meter(project, sid, before, midnight - timedelta(microseconds=1))
                return round_()  # once: the checkpoint now holds those minutes
            moved, spent = charge(entry, elapsed)
            closed = replace(moved, state=LedgerState.CLOSED, reserved=0, final_status=status, etag=None)
            change = Change(
                entries=[delete_op(row), write_op(entry_to_entity(closed, closed_key(sid)), None)],
                open_delta=-1,
                held_delta=-entry.reserved,
            )
            change.spend(entry, spent)
            results = self._commit(part, change)
            return replace(closed, etag=result_etag(results, 2))

        return self._retry(round_, f"close {sid} in {project}")

    def save(self, project: str, session_id: str, kind: SavingKind, amount: int, now: datetime) -> LedgerEntry:
        """Record that the governor avoided `amount` micros of this kind for the session: added to the
        usage rows of `now` once per session and kind, on its open or closed row (idempotent: the
        entry keeps the amount recorded, and a repeat with the same or a lower amount writes nothing)."""
        sid = check_key("sessionId", session_id)
        kind = SavingKind(kind)
        column = "saved_lease" if kind is SavingKind.LEASE else "saved_extension"

        def round_():
            part = self._read(project, now, open_ids=[sid], closed_ids=[sid])
            row = part.open.get(sid) or part.closed.get(sid)
            if row is None:
                raise NotFound(f"ledger entry {sid!r} does not exist in project {project!r}")
            entry = entity_to_entry(row)
            delta = int(amount) - getattr(entry, column)
            if delta <= 0:
                return entry
            saved = replace(entry, **{column: int(amount)}, etag=None)
            key = open_key(sid) if sid in part.open else closed_key(sid)
            change = Change(entries=[write_op(entry_to_entity(saved, key), row)], saved_delta=delta)
            results = self._commit(part, change)
            return replace(saved, etag=result_etag(results, 1))

        return self._retry(round_, f"save {kind.value} of {sid} in {project}")

    def heartbeat(self, project: str, session_id: str, at: datetime, elapsed: timedelta | None = None) -> LedgerEntry:
        sid = check_key("sessionId", session_id)

        def round_():
            part = self._read(project, at, open_ids=[sid], closed_ids=[sid])
            row, entry = self._open_entry(part, sid)
            if row is None or (entry.last_heartbeat is not None and entry.last_heartbeat >= at):
                return entry
            # elapsed=None clears the previous reading: the pair must describe the same heartbeat
            beaten = replace(entry, last_heartbeat=at, heartbeat_elapsed=elapsed, etag=None)
            results = self._submit(self.tables.ledger, [write_op(entry_to_entity(beaten, open_key(sid)), row)])
            return replace(beaten, etag=result_etag(results, 0))

        return self._retry(round_, f"heartbeat {sid} in {project}")


def check_minutes(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"elapsed minutes must be an int, not {type(value).__name__}")
    return max(value, 0)
