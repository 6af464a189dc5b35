"""Projects table: policies round-trip, caller keys are hashes found by id, secrets stay hidden."""

import json
import secrets
from datetime import timedelta

import pytest

from governor.core.model import MICROS, VmSize
from governor.store import InvalidEntity, InvalidKey, NotFound
from governor.store.projects import PROJECT_PARTITION
from tests.integration.store.helpers import NOW, policy


def raw_row(store, name):
    return store._table(store.tables.projects).get_entity(PROJECT_PARTITION, name)


def test_policy_round_trips_and_lists(store):
    original = policy(
        "demo",
        daily_budget=None,
        monthly_budget=12_345 * MICROS + 7,
        max_lease=timedelta(minutes=45),
        webhook_url="https://hooks.example.test/x",
        principals=frozenset({"oid-1", "oid-2"}),
    )
    store.put_project(original)
    store.put_project(policy("other", allowed_sizes=frozenset({VmSize.STANDARD})))
    assert store.get_project("demo") == original
    assert sorted(p.name for p in store.list_projects()) == ["demo", "other"]
    assert store.get_project("missing") is None


def test_keys_are_stored_only_as_hashes_under_their_id(store):
    store.put_project(policy())
    key = store.rotate_key("demo")
    stored = raw_row(store, "demo")["Keys"]
    assert key not in stored and key.split("_", 2)[2] not in stored
    (record,) = json.loads(stored)
    assert record["name"] == "default" and record["hash"].startswith(("sha256$", "hmac-sha256$"))
    assert key.startswith(f"gk_{record['id']}_")
    assert store.verify_key("demo", key)
    assert not store.verify_key("demo", key + "x")
    assert not store.verify_key("demo", "")
    assert not store.verify_key("other", key)
    assert not store.verify_key("bad/name", key)
    second = store.rotate_key("demo")
    assert second != key and store.verify_key("demo", second) and not store.verify_key("demo", key)
    store.put_project(policy("twin"))
    assert store.rotate_key("twin") != second


def test_put_keeps_keys_and_webhook_secret_until_told(store):
    store.put_project(policy(), webhook_secret="s" * 32)
    key = store.rotate_key("demo")
    store.put_project(policy(max_concurrent=7))
    assert store.verify_key("demo", key) and store.webhook_secret("demo") == "s" * 32
    assert store.get_project("demo").max_concurrent == 7
    store.put_project(policy(), webhook_secret="")
    assert store.webhook_secret("demo") is None


def test_secrets_never_reach_reprs(store):
    store.put_project(policy(), webhook_secret="w" * 32)
    key = store.rotate_key("demo")
    text = repr(store) + repr(store.get_project("demo")) + repr(store.list_projects()) + repr(store.snapshot(NOW))
    assert key not in text and "w" * 32 not in text and "AccountKey" not in repr(store)


def test_delete_project(store):
    store.put_project(policy())
    assert store.delete_project("demo") is True
    assert store.delete_project("demo") is False
    assert store.get_project("demo") is None
    with pytest.raises(NotFound):
        store.rotate_key("demo")


@pytest.mark.parametrize("name", ["a/b", "a\\b", "a#b", "a?b", "a\x00b", "a\x7fb", "a\x9fb", "", "x" * 64, "-lead"])
def test_invalid_project_names_are_refused_before_any_write(store, name):
    with pytest.raises(InvalidKey) as caught:
        store.put_project(policy(name))
    assert caught.value.field == "name"
    assert store.list_projects() == []


def test_oversized_entity_is_refused_with_the_property_named(store):
    huge = frozenset(f"principal-{i:06d}-{'x' * 200}" for i in range(200))  # one ~80 KiB string
    with pytest.raises(InvalidEntity) as caught:
        store.put_project(policy(principals=huge))
    assert caught.value.field.endswith("Principals")
    assert store.get_project("demo") is None


def test_named_keys_and_their_last_use(store):
    from governor.core.model import CallerLimits

    store.put_project(policy())
    default = store.rotate_key("demo", NOW)
    kiosk = store.add_key("demo", "kiosk", NOW, NOW + timedelta(days=1), CallerLimits(max_concurrent=1))
    found = store.find_key("demo", kiosk, NOW)
    assert (found.name, found.limits, found.expires_at) == (
        "kiosk",
        CallerLimits(max_concurrent=1),
        NOW + timedelta(days=1),
    )
    assert store.find_key("demo", default, NOW).name == "default"
    assert store.find_key("demo", kiosk, NOW + timedelta(days=1)) is None  # expired
    store.touch_key("demo", "kiosk", NOW)
    assert {k.name: k.last_used for k in store.list_keys("demo")} == {"default": None, "kiosk": NOW}
    assert store.delete_project("demo")
    store.put_project(policy())
    store.add_key("demo", "kiosk", NOW)
    assert [k.last_used for k in store.list_keys("demo")] == [None]  # the old project's last use is gone


def test_a_row_from_before_named_keys_reads_as_default(store):
    from governor.store import callerkeys

    store.put_project(policy())
    key = "gk_" + secrets.token_urlsafe(32)  # the shape issued before key ids
    row = raw_row(store, "demo")
    row["KeyHashes"] = json.dumps([callerkeys.hash_key(key)])
    store._table(store.tables.projects).upsert_entity(row)
    assert store.find_key("demo", key, NOW).name == "default"
    kiosk = store.add_key("demo", "kiosk", NOW)  # the first change rewrites the list as Keys
    assert "KeyHashes" not in raw_row(store, "demo")
    assert store.verify_key("demo", key) and store.verify_key("demo", kiosk)
