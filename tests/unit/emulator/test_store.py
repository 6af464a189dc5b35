from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import SessionStatus, VmSize
from governor.emulator.store import LeaseNotLarger, SessionConflict, SessionNotActive, SessionNotFound, Store


class Clock:
    def __init__(self):
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self):
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def store(clock):
    return Store(clock, timedelta(seconds=5))


def test_create_is_idempotent_for_identical_settings(store):
    first, created = store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "2021-01-01")
    again, created_again = store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "2021-01-01")
    assert (created, created_again) == (True, False)
    assert again.record is first.record
    with pytest.raises(SessionConflict):
        store.create("a", "s", VmSize.PREMIUM, timedelta(minutes=10), "2021-01-01")


def test_fails_is_asked_only_for_real_creates(store):
    asked = []
    store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "v", lambda: asked.append(1) or True)
    store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "v", lambda: asked.append(1) or True)
    assert asked == [1]


def test_update_rules(store, clock):
    store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "v")
    with pytest.raises(LeaseNotLarger):
        store.update_lease("a", "s", timedelta(minutes=10))
    assert store.update_lease("a", "s", timedelta(minutes=11)).record.lease == timedelta(minutes=11)
    clock.now += timedelta(hours=1)
    with pytest.raises(SessionNotActive):
        store.update_lease("a", "s", timedelta(minutes=30))
    with pytest.raises(SessionNotFound):
        store.update_lease("a", "nope", timedelta(minutes=30))


def test_paging_by_sequence_skips_ended_sessions(store, clock):
    ids = store.bulk("a", 250, VmSize.STANDARD, timedelta(minutes=60), SessionStatus.READY, "x")
    page, after = store.list_active("a", 0, 100)
    assert [v.record.id for v in page] == ids[:100]
    for sid in ids[100:200]:
        store.stop("a", sid)
    page, after = store.list_active("a", after, 100)
    assert [v.record.id for v in page] == ids[200:]
    assert after is None


def test_index_compacts_after_many_removals(store):
    ids = store.bulk("a", 1000, VmSize.STANDARD, timedelta(minutes=60), SessionStatus.READY, "x")
    for sid in ids[:900]:
        store.stop("a", sid)
    index = store._active["a"]
    assert len(index.records) < 1000
    assert [v.record.id for v in store.list_active("a")[0]] == ids[900:]


def test_expired_sessions_leave_the_list(store, clock):
    store.create("a", "short", VmSize.STANDARD, timedelta(minutes=1), "v")
    store.create("a", "long", VmSize.STANDARD, timedelta(minutes=60), "v")
    clock.now += timedelta(minutes=2)
    assert [v.record.id for v in store.list_active("a")[0]] == ["long"]
    assert {v.record.id: v.status for v in store.all_views()} == {
        "short": SessionStatus.EXPIRED,
        "long": SessionStatus.READY,
    }


def test_accounts_do_not_see_each_other(store):
    store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "v")
    assert store.list_active("b") == ([], None)
    with pytest.raises(SessionNotFound):
        store.get("b", "s")


def test_dump_and_load(store, clock):
    store.create("a", "s", VmSize.STANDARD, timedelta(minutes=10), "v")
    store.create("a", "t", VmSize.PREMIUM, timedelta(minutes=10), "v")
    store.stop("a", "t")
    copy = Store(clock, timedelta(seconds=5))
    copy.load(store.dump())
    assert [v.record.id for v in copy.list_active("a")[0]] == ["s"]
    assert copy.get("a", "t").status is SessionStatus.STOPPED
    _, created = copy.create("a", "u", VmSize.STANDARD, timedelta(minutes=10), "v")
    assert created and copy.get("a", "u").record.seq > copy.get("a", "t").record.seq
