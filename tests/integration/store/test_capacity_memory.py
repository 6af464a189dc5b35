"""The capacity memory on Azurite: an attempt's failure is recorded once, the latest per account and
size is what placement reads, and failures are counted by day; none of it touches the money rows."""

from datetime import UTC, datetime, timedelta

from governor.core.model import CapacityFailure, VmSize

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
