"""Audit rows newest first in one query; sweep health; lease locks."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import AuditRecord
from governor.store import InvalidKey

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def record(minute: int, project: str = "demo", **extra) -> AuditRecord:
    return AuditRecord(
        at=T0 + timedelta(minutes=minute),
        source="sweep",
        project=project,
        session_id=f"s{minute}",
        action="stop",
        reason="budget",
        figures={"minute": minute},
        **extra,
    )


def test_recent_audit_is_newest_first_and_limited(store):
    store.append_audit([record(m) for m in (3, 1, 2)])
    store.append_audit([record(m, project="other") for m in range(4, 140)])  # more than one transaction
    recent = store.recent_audit(5)
    assert [r.figures["minute"] for r in recent] == [139, 138, 137, 136, 135]
    demo = store.recent_audit(10, project="demo")
    assert [r.session_id for r in demo] == ["s3", "s2", "s1"]
    assert replace(demo[0], key=None) == record(3) and demo[0].key
    assert store.recent_audit(0) == []


def test_a_row_written_before_its_action_is_completed_in_place_and_found_while_unknown(store):
    first, second = store.append_audit([record(1, outcome="unknown"), record(2, outcome="unknown")])
    store.append_audit([record(0, outcome="unknown"), record(3)])  # too old to look for; finished
    unfinished = store.unfinished_audit(T0 + timedelta(minutes=1))
    assert sorted(r.key for r in unfinished) == sorted([first, second])
    store.complete_audit([replace(unfinished[0], outcome="ok", figures={"done": True})])
    (left,) = store.unfinished_audit(T0 + timedelta(minutes=1))
    assert left.key == unfinished[1].key
    rows = {r.key: r for r in store.recent_audit(10)}
    assert len(rows) == 4 and (rows[unfinished[0].key].outcome, rows[unfinished[0].key].figures) == (
        "ok",
        {"done": True},
    )


def test_audit_of_one_instant_keeps_write_order_newest_first(store):
    same = [AuditRecord(T0, "gate", "demo", f"s{i}", "admit", "ok") for i in range(3)]
    store.append_audit(same)
    assert [r.session_id for r in store.recent_audit(3)] == ["s2", "s1", "s0"]


def test_sweep_health_round_trips_a_large_report(store):
    assert store.last_sweep() is None
    report = {"at": "2030-01-01T00:00:00Z", "sessions": [{"id": f"s{i}", "note": "x" * 100} for i in range(1000)]}
    store.record_sweep(report)
    assert store.last_sweep() == report
    store.record_sweep({"small": True})
    assert store.last_sweep() == {"small": True}


def test_locks_are_exclusive_until_expiry_or_release(store):
    ttl = timedelta(seconds=60)
    assert store.try_lock("sweep", "a", ttl, T0)
    assert not store.try_lock("sweep", "b", ttl, T0 + timedelta(seconds=30))
    assert store.try_lock("sweep", "a", ttl, T0 + timedelta(seconds=30))  # renew
    assert store.try_lock("sweep", "b", ttl, T0 + timedelta(seconds=91))  # expired
    store.release_lock("sweep", "a")  # not the owner: no effect
    assert not store.try_lock("sweep", "a", ttl, T0 + timedelta(seconds=92))
    store.release_lock("sweep", "b")
    assert store.try_lock("sweep", "a", ttl, T0 + timedelta(seconds=93))
    with pytest.raises(InvalidKey):
        store.try_lock("bad#name", "a", ttl, T0)
