"""meter_many: the sweep's batch metering. Writes scale with changed entries, not sessions.

Per project: one query reads the state row, the current usage rows and every open entry (for
many projects, one ledger-wide read serves the first round). The entries whose checkpoint
moves go into transactions of at most 100 operations (state row, two usage rows, up to 48 escrow
slices taken back and up to 49 entries), each ETag-guarded and retried like `meter`.

`elapsed` is ARR's count at `now`: ARR's clock runs `arr_time_scale` times the governor's (1 against
ARR itself; the emulator's time scale locally, GOVERNOR_ARR_TIME_SCALE), so its last
`(now - midnight) * arr_time_scale` minutes fall in `now`'s UTC day and the ones before in the day
before (to the minute: ARR counts whole minutes). Minutes still uncharged from before midnight (a
sweep that came late, a checkpoint deferred across midnight) go to the usage rows of the day and
month they were counted in, in a transaction of their own, before the rest goes to `now`'s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from governor.core.model import counted_before_midnight, minutes_since_midnight
from governor.store.base import MAX_BATCH, write_op
from governor.store.concurrency import is_conflict
from governor.store.entities import entity_to_entry, entry_to_entity
from governor.store.escrow import MAX_SLICES
from governor.store.keys import check_key, open_key
from governor.store.ledger import Change, LedgerRepo, Partition, charge, check_minutes

ENTRIES_PER_CHUNK = MAX_BATCH - 3 - MAX_SLICES  # the state row, two usage rows and slices taken back ride along
PREFETCH_ABOVE = 4  # projects


class MeteringRepo(LedgerRepo):
    def meter_many(self, charges: Iterable[tuple[str, str, int]], now: datetime, arr_time_scale: float = 1.0) -> int:
        wanted: dict[str, dict[str, int]] = {}
        for project, session_id, elapsed in charges:
            check_key("project", project)
            check_key("sessionId", session_id)
            minutes = check_minutes(elapsed)
            sessions = wanted.setdefault(project, {})
            sessions[session_id] = max(minutes, sessions.get(session_id, 0))
        moved = 0
        failure: Exception | None = None
        # Many projects: one ledger-wide read instead of one query per project.
        prefetched = self._read_all(now) if len(wanted) > PREFETCH_ABOVE else {}
        for project, sessions in wanted.items():
            try:
                moved += self._meter_project(project, sessions, now, prefetched.get(project), arr_time_scale)
            except Exception as exc:  # keep metering the other projects; report the first failure
                failure = failure or exc
        if failure is not None:
            raise failure
        return moved

    def _meter_project(
        self, project: str, sessions: dict[str, int], now: datetime, part: Partition | None, arr_time_scale: float = 1.0
    ) -> int:
        midnight, today = minutes_since_midnight(now, arr_time_scale)
        if any(minutes > today for minutes in sessions.values()):
            part = part or self._read(project, now, all_open=True)
            behind = {}
            for sid, minutes in sessions.items():
                if minutes > today and sid in part.open:
                    entry = entity_to_entry(part.open[sid])
                    _, before = counted_before_midnight(minutes, entry.requested_by_us, now, arr_time_scale)
                    if before > entry.charged_minutes:
                        behind[sid] = before
            if behind:  # rare (once per session across a midnight): the day before first, then read again
                before = self._meter_project(
                    project, behind, midnight - timedelta(microseconds=1), None, arr_time_scale
                )
                # every entry moved there moves again below, unless no minute of `now`'s day is counted yet
                return max(before, self._meter_day(project, sessions, now, None))
        return self._meter_day(project, sessions, now, part)

    def _meter_day(self, project: str, sessions: dict[str, int], now: datetime, part: Partition | None) -> int:
        moved = 0
        if part is not None:
            try:
                moved = self._meter_chunk(project, sessions, now, part)
            except Exception as exc:
                # the prefetch is two queries (`_read_all`): an entry closed between them is a 404,
                # not a 412; either way the partition is read again below
                if not (is_conflict(exc) or getattr(exc, "status_code", None) == 404):
                    raise
            else:
                if moved < ENTRIES_PER_CHUNK:
                    return moved
        while True:
            count = self._retry(lambda: self._meter_chunk(project, sessions, now), f"meter {project}")
            if not count:
                return moved
            moved += count

    def _meter_chunk(self, project: str, sessions: dict[str, int], now: datetime, part: Partition | None = None) -> int:
        part = part or self._read(project, now, all_open=True)
        change = Change()
        count = 0
        for session_id, row in part.open.items():
            if session_id not in sessions:
                continue
            entry = entity_to_entry(row)
            after, spent = charge(entry, sessions[session_id])
            if after == entry:
                continue
            change.entries.append(write_op(entry_to_entity(after, open_key(session_id)), row))
            change.held_delta += after.reserved - entry.reserved
            change.spend(entry, spent)
            count += 1
            if count == ENTRIES_PER_CHUNK:
                break
        if count:
            self._commit(part, change)
        return count
