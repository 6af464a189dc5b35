"""Retention on a ledger with years of history: nothing lost, bounded runs, and a run killed midway
(a real `python -m governor retention` process, SIGKILLed at random points) is finished by the next."""

from __future__ import annotations

import logging
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from governor.core.model import (
    AuditRecord,
    LedgerEntry,
    LedgerState,
    Period,
    SavingKind,
    SessionStatus,
    VmSize,
    cost_of,
)
from governor.service.gate import Caller, GateService
from governor.service.retention import RetentionConfig, run_retention
from governor.store.entities import entry_to_entity, get, i64
from governor.store.keys import CLOSED_PREFIX, closed_key, prefix_range, usage_key
from governor.store.retention import history_partition
from tests.fixtures.azurite import azurite_env
from tests.integration.store.helpers import RATE, policy

ROOT = Path(__file__).resolve().parents[3]
NOW = datetime.now(UTC).replace(microsecond=0)
PROJECTS = ("north", "south")


def seed(store, years: int = 3, every_days: int = 2) -> dict:
    """Closed sessions every `every_days` days for `years` years per project, their usage rows, one open
    session, and an audit row per session."""
    key = {}
    for name in PROJECTS:
        store.put_project(policy(name))
        key[name] = store.rotate_key(name)
        entities, usage, audit = [], {}, []
        for n in range(0, 365 * years, every_days):
            at = NOW - timedelta(days=n, hours=1)
            minutes = 10 + n % 50
            entry = LedgerEntry(
                name, f"{name}-{n:05d}", "default", VmSize.STANDARD, LedgerState.CLOSED, at, timedelta(minutes=60),
                rate=RATE, charged_minutes=minutes, charged=cost_of(RATE, minutes),
                final_status=SessionStatus.STOPPED, saved_lease=cost_of(RATE, 60 - minutes),
            )  # fmt: skip
            entities.append(entry_to_entity(entry, closed_key(entry.session_id)))
            for period in (Period.DAY, Period.MONTH):
                spent, saved = usage.get((period, period.key(at)), (0, 0))
                usage[(period, period.key(at))] = (spent + entry.charged, saved + entry.saved_lease)
            audit.append(AuditRecord(at, "sweep", name, entry.session_id, "stop", "idle", {"n": n}))
        for (period, pkey), (spent, saved) in usage.items():
            entities.append(
                {"PartitionKey": name, "RowKey": usage_key(period.value, pkey), "Period": period.value,
                 "Key": pkey, "Spent": i64(spent), "Saved": i64(saved)}
            )  # fmt: skip
        ledger = store._table(store.tables.ledger)
        for start in range(0, len(entities), 100):
            ledger.submit_transaction([("upsert", e) for e in entities[start : start + 100]])
        store.append_audit(audit)
    return key


def closed_in_ledger(store) -> list[dict]:
    lo, hi = prefix_range(CLOSED_PREFIX)
    return store._query(store.tables.ledger, "RowKey ge @lo and RowKey lt @hi", {"lo": lo, "hi": hi})


def history_rows(store) -> list[dict]:
    return list(store._table(store.tables.history).list_entities())


def totals(store) -> dict:
    """Per project: sessions, charged, saved, over ledger and history together (each session once)."""
    seen: dict[tuple[str, str], dict] = {}
    for row in closed_in_ledger(store):
        seen[(row["PartitionKey"], row["RowKey"])] = row
    for row in history_rows(store):
        seen.setdefault((row["Project"], row["RowKey"]), row)
    result = {}
    for (project, _), row in seen.items():
        count, charged, saved = result.get(project, (0, 0, 0))
        result[project] = (count + 1, charged + get(row, "Charged"), saved + get(row, "SavedLease", 0))
    return result


def usage_totals(store) -> dict:
    return {
        name: [(u.key, u.spent, u.saved) for u in store.usage_history(name, Period.MONTH, "2000-01", "2999-12")]
        for name in PROJECTS
    }


def audit_times(store) -> list[datetime]:
    return sorted(get(row, "At") for row in store._table(store.tables.audit).list_entities())


def assert_finished(store, history_days: int):
    cutoff = NOW - timedelta(days=history_days)
    assert not [r for r in closed_in_ledger(store) if r["RequestedAt"] < cutoff]
    moved = history_rows(store)
    assert moved and all(r["RequestedAt"] < cutoff for r in moved)
    for row in moved:
        assert row["PartitionKey"] == history_partition(row["Project"], Period.MONTH.key(row["RequestedAt"]))
    ledger_keys = {(r["PartitionKey"], r["RowKey"]) for r in closed_in_ledger(store)}
    assert not ledger_keys & {(r["Project"], r["RowKey"]) for r in moved}  # no row in both tables


def test_years_of_history_move_without_losing_a_micro(store, caplog):
    caplog.set_level(logging.INFO, logger="governor")
    keys = seed(store)
    before, usage_before, audit_before = totals(store), usage_totals(store), audit_times(store)
    open_entry = LedgerEntry("north", "still-open", "default", VmSize.STANDARD, LedgerState.PENDING,
                             NOW - timedelta(days=500), timedelta(minutes=60), rate=RATE)  # fmt: skip
    store.reserve("north", open_entry, lambda snap: cost_of(RATE, 60), NOW)

    config = RetentionConfig(history_days=90, audit_days=400, max_rows=250)
    reports = []
    while not reports or reports[-1]["more"]:
        reports.append(run_retention(store, lambda: NOW, config))
        assert reports[-1]["moved"] <= 250 and reports[-1]["auditDeleted"] <= 250  # bounded work per run
        assert len(reports) < 20
    assert len(reports) > 2
    # each run's record carries its figures as the governor's attributes (docs/deploy.md, "Logs")
    logged = [vars(r) for r in caplog.records if r.getMessage().startswith("retention moved")]
    assert [(r["governor.retention.moved"], r["governor.retention.audit_deleted"]) for r in logged] == [
        (r["moved"], r["auditDeleted"]) for r in reports
    ]
    assert logged[-1]["governor.retention.outcome"] == "ok" and logged[0]["governor.retention.outcome"] == "more"
    assert totals(store) == before and usage_totals(store) == usage_before
    assert_finished(store, 90)
    assert sum(r["moved"] for r in reports) == sum(1 for _ in history_rows(store)) > 900
    assert store.get_entry("north", "still-open").state is LedgerState.PENDING  # open rows stay

    # audit: rows older than 400 days are gone, the newer ones kept
    cutoff = NOW - timedelta(days=400)
    after = audit_times(store)
    assert after == sorted(at for at in audit_before if at >= cutoff) and len(after) < len(audit_before)
    assert sum(r["auditDeleted"] for r in reports) == len(audit_before) - len(after)

    # a re-run with nothing to do changes nothing
    again = run_retention(store, lambda: NOW, config)
    assert (again["moved"], again["auditDeleted"], again["more"]) == (0, 0, False)
    assert totals(store) == before

    # usage reports for an old month still count its sessions and money
    gate = GateService(store, {}, lambda: NOW)
    month = Period.MONTH.key(NOW - timedelta(days=400))
    day = Period.DAY.key(NOW - timedelta(days=400, hours=1))  # one session was requested then (n = 400)
    report = gate.usage("north", Caller(key=keys["north"]), day=day, month=month)
    expected = [
        r for r in history_rows(store) if r["Project"] == "north" and Period.MONTH.key(r["RequestedAt"]) == month
    ]
    assert report["sessions"]["month"] == len(expected) > 0
    assert report["sessions"]["day"] == 1
    (monthly,) = [p for p in report["periods"] if p["period"] == "month"]
    assert monthly["spent"] == f"{sum(get(r, 'Charged') for r in expected) / 1e6:.6f}"


def test_a_row_that_changes_during_the_move_stays_and_moves_next_run(store):
    store.put_project(policy("north"))
    at = NOW - timedelta(days=200)
    entry = LedgerEntry("north", "late", "default", VmSize.STANDARD, LedgerState.CLOSED, at, timedelta(minutes=60),
                        rate=RATE, charged_minutes=20, charged=cost_of(RATE, 20))  # fmt: skip
    store._table(store.tables.ledger).upsert_entity(entry_to_entity(entry, closed_key("late")))
    verify = type(store)._verify

    def verify_then_save(self, project, chunk):
        verify(self, project, chunk)
        self.save("north", "late", SavingKind.LEASE, cost_of(RATE, 40), NOW)  # a late saving lands meanwhile

    store._verify = verify_then_save.__get__(store)
    first = store.move_closed(NOW - timedelta(days=90), 100)
    assert (first["moved"], first["changed"]) == (0, 1)
    assert store.get_entry("north", "late").saved_lease == cost_of(RATE, 40)  # still in the ledger
    del store._verify
    second = store.move_closed(NOW - timedelta(days=90), 100)
    assert (second["moved"], second["changed"]) == (1, 0)
    (moved,) = store.history_entries("north", Period.MONTH.key(at))
    assert moved == replace(entry, saved_lease=cost_of(RATE, 40), etag=moved.etag)


def test_a_run_killed_at_random_points_is_finished_by_the_next(azurite, table_prefix, store):
    seed(store, years=2, every_days=1)
    before, usage_before = totals(store), usage_totals(store)
    env = {**os.environ, **azurite_env(table_prefix, azurite), "GOVERNOR_HISTORY_DAYS": "30"}
    command = [sys.executable, "-m", "governor", "retention", "--max-rows", "300", "--json"]
    seed_value = int(time.time())
    chance = random.Random(seed_value)
    killed = 0
    for _ in range(12):
        moved_before = len(history_rows(store))
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        # Kill only once the run is at work (a row copied), at a random point after that: a fixed sleep
        # killed nothing on a fast box (every run had finished) and only start-up on a loaded one.
        deadline = time.monotonic() + 60
        while process.poll() is None and len(history_rows(store)) == moved_before and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(chance.uniform(0.0, 0.3))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed += 1
        out, err = process.communicate()
        if process.returncode != -signal.SIGKILL:
            assert process.returncode == 0, (out + err).decode()
        assert totals(store) == before, f"random seed {seed_value}"  # nothing lost at any point
        if killed >= 4:
            break
    assert killed, f"no run was killed mid-way (random seed {seed_value})"
    for _ in range(30):
        finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert finished.returncode == 0, finished.stdout + finished.stderr
        if '"more": false' in finished.stdout:
            break
    assert totals(store) == before and usage_totals(store) == usage_before, f"random seed {seed_value}"
    assert_finished(store, 30)
