"""A polled session read is one query: the entry and both current periods' usage, the same
figures `get_entry` and `usage` give separately."""

from datetime import timedelta

from governor.core.model import Period
from tests.integration.store.helpers import NOW, policy, reserve


def separately(store, project, session_id, now):
    return store.get_entry(project, session_id), {p: store.usage(project, p, p.key(now)) for p in Period}


def test_entry_with_usage_is_get_entry_and_usage_in_one_read(store):
    store.put_project(policy())
    reserve(store, "s1")
    store.meter("demo", "s1", 7, NOW)
    assert store.entry_with_usage("demo", "s1", NOW) == separately(store, "demo", "s1", NOW)
    assert store.entry_with_usage("demo", "ghost", NOW) == separately(store, "demo", "ghost", NOW)
    assert store.current_usage("demo", NOW, store.get_project("demo")) == separately(store, "demo", "s1", NOW)[1]


def test_a_period_the_ledger_has_moved_past_holds_nothing(store):
    store.put_project(policy())
    reserve(store, "s1")
    tomorrow = NOW + timedelta(days=1)
    reserve(store, "s2", at=tomorrow)  # the state row now names tomorrow as the latest day
    usage = store.current_usage("demo", NOW)
    assert usage == separately(store, "demo", "s1", NOW)[1]
    assert usage[Period.DAY].reserved == 0 and usage[Period.MONTH].reserved > 0
