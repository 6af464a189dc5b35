"""All sessions of all accounts, thread-safe, with an active index per account for fast lists."""

from __future__ import annotations

import bisect
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta

from governor.core.model import SessionStatus, VmSize
from governor.emulator.sessions import Record, View, view


class SessionNotFound(LookupError):
    pass


class SessionConflict(Exception):
    """A create for an existing id with different settings."""


class SessionNotActive(Exception):
    def __init__(self, current: View):
        super().__init__(current.status.value)
        self.view = current


class LeaseNotLarger(Exception):
    def __init__(self, current: timedelta):
        super().__init__(str(current))
        self.current = current


class _ActiveIndex:
    """Active (not yet known terminal) records of one account in creation order.

    Removal only marks a record; dead slots are compacted once they are the majority.
    Lists page by `seq` with a bisect, so one page costs O(log n + page).
    """

    def __init__(self):
        self.seqs: list[int] = []
        self.records: list[Record] = []
        self.dead = 0

    def add(self, record: Record) -> None:
        self.seqs.append(record.seq)
        self.records.append(record)

    def remove(self, record: Record) -> None:
        if record.indexed:
            record.indexed = False
            self.dead += 1
            if self.dead > 64 and self.dead * 2 > len(self.records):
                self.records = [r for r in self.records if r.indexed]
                self.seqs = [r.seq for r in self.records]
                self.dead = 0

    def scan(self, after_seq: int):
        start = bisect.bisect_right(self.seqs, after_seq)
        for i in range(start, len(self.records)):
            record = self.records[i]
            if record.indexed:
                yield record


class Store:
    def __init__(self, clock: Callable[[], datetime], startup: timedelta, rng: random.Random | None = None):
        self._clock = clock
        self.startup = startup
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._records: dict[tuple[str, str], Record] = {}
        self._active: dict[str, _ActiveIndex] = {}
        self._seq = 0
        self.on_change: Callable[[], None] = lambda: None

    def _new_record(self, account, sid, size, lease, api_version, now, fails, ready_at=None) -> Record:
        self._seq += 1
        record = Record(
            account=account,
            id=sid,
            size=size,
            lease=lease,
            create_lease=lease,
            created_at=now,
            ready_at=ready_at or now + self.startup,
            api_version=api_version,
            seq=self._seq,
            fails=fails,
            arr_inspector_port=self._rng.randint(49152, 65534),
            handshake_port=self._rng.randint(49152, 65534),
        )
        self._records[(account, sid)] = record
        self._active.setdefault(account, _ActiveIndex()).add(record)
        return record

    def create(
        self,
        account: str,
        sid: str | None,
        size: VmSize,
        lease: timedelta,
        api_version: str,
        fails: Callable[[], bool] = lambda: False,
        servers: int | None = None,
    ) -> tuple[View, bool]:
        """Create a session (a new GUID when `sid` is None). Returns (view, created).

        An existing id with the same size and create-time lease is an idempotent retry.
        A session really created ends in Error when the account's `servers` of its size (None:
        unlimited) are all in use, else when `fails()` says so (not asked when they are)."""
        with self._lock:
            now = self._clock()
            if sid is None:
                sid = str(uuid.uuid4())
            existing = self._records.get((account, sid))
            if existing is not None:
                if existing.size is size and existing.create_lease == lease:
                    return self._view(existing, now), False
                raise SessionConflict(sid)
            full = servers is not None and self._in_use(account, now)[size] >= servers
            record = self._new_record(account, sid, size, lease, api_version, now, full or fails())
        self.on_change()
        return view(record, now), True

    def _view(self, record: Record, now: datetime) -> View:
        current = view(record, now)
        if record.indexed and current.status.terminal:
            self._active[record.account].remove(record)
        return current

    def _find(self, account: str, sid: str) -> Record:
        record = self._records.get((account, sid))
        if record is None:
            raise SessionNotFound(sid)
        return record

    def get(self, account: str, sid: str) -> View:
        with self._lock:
            return self._view(self._find(account, sid), self._clock())

    def update_lease(self, account: str, sid: str, lease: timedelta) -> View:
        with self._lock:
            now = self._clock()
            record = self._find(account, sid)
            current = self._view(record, now)
            if not current.status.active:
                raise SessionNotActive(current)
            if lease <= record.lease:
                raise LeaseNotLarger(record.lease)
            record.lease = lease
            result = view(record, now)
        self.on_change()
        return result

    def stop(self, account: str, sid: str) -> View:
        """Stop an active session; stopping a terminal session changes nothing."""
        with self._lock:
            now = self._clock()
            record = self._find(account, sid)
            if self._view(record, now).status.active:
                record.stopped_at = now
                self._active[account].remove(record)
                changed = True
            else:
                changed = False
            result = view(record, now)
        if changed:
            self.on_change()
        return result

    def list_active(self, account: str, after_seq: int = 0, limit: int | None = None) -> tuple[list[View], int | None]:
        """Starting/Ready sessions after `after_seq`; returns (page, seq to continue after or None)."""
        with self._lock:
            now = self._clock()
            index = self._active.get(account)
            if index is None:
                return [], None
            page: list[View] = []
            expired: list[Record] = []
            more = False
            for record in index.scan(after_seq):
                current = view(record, now)
                if current.status.terminal:
                    expired.append(record)
                    continue
                if limit is not None and len(page) >= limit:
                    more = True
                    break
                page.append(current)
            for record in expired:
                index.remove(record)
            return page, (page[-1].record.seq if more else None)

    def _in_use(self, account: str, now: datetime) -> Counter[VmSize]:
        """Servers taken per size: Starting or Ready sessions not bound to end in Error (those
        never got a server)."""
        index = self._active.get(account)
        taken: Counter[VmSize] = Counter()
        if index is None:
            return taken
        ended: list[Record] = []
        for record in index.scan(0):
            if view(record, now).status.terminal:
                ended.append(record)
            elif not record.fails:
                taken[record.size] += 1
        for record in ended:  # after the scan: removing may compact the lists it walks
            index.remove(record)
        return taken

    def in_use(self, account: str) -> Counter[VmSize]:
        with self._lock:
            return self._in_use(account, self._clock())

    def all_views(self, account: str | None = None) -> list[View]:
        with self._lock:
            now = self._clock()
            return [view(r, now) for r in self._records.values() if account is None or r.account == account]

    def bulk(
        self, account: str, count: int, size: VmSize, lease: timedelta, status: SessionStatus, prefix: str | None
    ) -> list[str]:
        """Seed `count` Starting or Ready sessions at once (benchmarks, soak tests)."""
        with self._lock:
            now = self._clock()
            ids = [f"{prefix}{i:06d}" if prefix else str(uuid.uuid4()) for i in range(count)]
            if len(set(ids)) != len(ids) or any((account, sid) in self._records for sid in ids):
                raise SessionConflict("bulk ids collide with existing sessions")
            ready_at = now if status is SessionStatus.READY else None
            for sid in ids:
                self._new_record(account, sid, size, lease, "2021-01-01", now, False, ready_at=ready_at)
        self.on_change()
        return ids

    def reset(self) -> None:
        with self._lock:
            self._records.clear()
            self._active.clear()
        self.on_change()

    def dump(self) -> list[dict]:
        with self._lock:  # copy under the lock, serialize outside it: 50k records must not stall requests
            records = list(self._records.values())
        return [r.to_json() for r in records]

    def load(self, records: list[dict]) -> None:
        with self._lock:
            now = self._clock()
            for data in sorted(records, key=lambda d: d["seq"]):
                record = Record.from_json(data)
                self._records[(record.account, record.id)] = record
                self._seq = max(self._seq, record.seq)
                if view(record, now).status.active:
                    self._active.setdefault(record.account, _ActiveIndex()).add(record)
                else:
                    record.indexed = False

    def __len__(self) -> int:
        return len(self._records)
