"""The capacity memory on Azurite: an attempt's failure is recorded once, the latest per account and
size is what placement reads, and failures are counted by day; none of it touches the money rows."""

from datetime import UTC, datetime, timedelta

from governor.core.model import CapacityFailure, VmSize
from governor.service.retention import RetentionConfig, run_retention

AT = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)


def failure(session_id: str, account: str = "east", at: datetime = AT, size=VmSize.STANDARD) -> CapacityFailure:
    return CapacityFailure("alpha", session_id, account, size, at)


def test_an_attempt_is_recorded_once_and_the_latest_failure_per_account_and_size_is_kept(store):
    assert store.record_capacity_failure(failure("s1")) is True
    assert store.record_capacity_failure(failure("s1", at=AT + timedelta(minutes=1))) is False  # seen again
    assert store.record_capacity_failure(failure("s2", at=AT + timedelta(minutes=2))) is True
    assert store.record_capacity_failure(failure("s3", account="west", size=VmSize.PREMIUM)) is True
    assert store.capacity_failures("alpha") == {
        ("east", VmSize.STANDARD): AT + timedelta(minutes=2),
        ("west", VmSize.PREMIUM): AT,
    }
    assert store.capacity_failure("alpha", "s1") == failure("s1")
    assert store.capacity_failure("alpha", "nope") is None
    assert store.capacity_failures("beta") == {}
    assert store.list_entries("alpha", include_closed=True) == []  # not ledger entries


def test_failures_are_counted_by_day_for_one_project_or_all(store):
    store.record_capacity_failure(failure("late", at=AT - timedelta(hours=10)))  # the day before
    store.record_capacity_failure(failure("s1"))
    store.record_capacity_failure(CapacityFailure("beta", "b1", "east", VmSize.STANDARD, AT))
    day = datetime(2026, 3, 10, tzinfo=UTC)
    one = store.capacity_failures_between(day, day + timedelta(days=1), "alpha")
    assert [f.session_id for f in one] == ["s1"]
    every = store.capacity_failures_between(day, day + timedelta(days=1))
    assert sorted((f.project, f.session_id) for f in every) == [("alpha", "s1"), ("beta", "b1")]


def test_retention_deletes_old_failures_in_bounded_runs_and_keeps_the_latest_per_place(store):
    old = [failure(f"old{i}", at=AT - timedelta(days=401, minutes=i)) for i in range(5)]
    old.append(CapacityFailure("beta", "b-old", "east", VmSize.STANDARD, AT - timedelta(days=500)))
    for each in [*old, failure("recent", at=AT - timedelta(days=399))]:
        store.record_capacity_failure(each)
    config = RetentionConfig(history_days=90, audit_days=400, max_rows=4)
    first = run_retention(store, lambda: AT, config)
    assert (first["capacityFailuresDeleted"], first["more"]) == (4, True)
    second = run_retention(store, lambda: AT, config)
    assert (second["capacityFailuresDeleted"], second["more"]) == (2, False)
    assert store.capacity_failure("alpha", "recent") is not None
    assert all(store.capacity_failure(f.project, f.session_id) is None for f in old)
    everything = store.capacity_failures_between(AT - timedelta(days=1000), AT)
    assert [f.session_id for f in everything] == ["recent"]
    # the latest failure per account and size is the capacity memory: it stays
    assert store.capacity_failures("alpha") == {("east", VmSize.STANDARD): AT - timedelta(days=399)}
    assert store.capacity_failures("beta") == {("east", VmSize.STANDARD): AT - timedelta(days=500)}
