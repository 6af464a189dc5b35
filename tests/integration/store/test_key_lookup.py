"""Issue 22: a key is found by the id it carries and checked with one hash (HMAC-SHA256 under the
pepper); a malformed key reads nothing, an unknown id hashes nothing; keys issued before keep
working through scrypt until rotated; a key's scope is stored and read back."""

import json
import secrets
import time

import pytest

from governor.core.model import CallerLimits
from governor.store import InvalidEntity, TableStore, callerkeys
from governor.store.keycache import VerifiedKeys
from governor.store.projects import PROJECT_PARTITION
from tests.integration.store.helpers import NOW, policy

PEPPER = b"a-test-pepper-of-at-least-32-characters"


class CountingStore(TableStore):
    row_reads = 0

    def _project_row(self, name):
        self.row_reads += 1
        return super()._project_row(name)


def make(azurite, table_prefix, pepper=PEPPER) -> CountingStore:
    store = CountingStore(azurite.connection_string, table_prefix)
    store.key_pepper = pepper
    store.verified_keys = VerifiedKeys()
    return store


@pytest.fixture
def hashes(monkeypatch):
    seen = []
    verify = callerkeys.verify_key
    monkeypatch.setattr(
        callerkeys, "verify_key", lambda key, stored, *a: seen.append(stored) or verify(key, stored, *a)
    )
    return seen


def raw_keys(store, name="alpha"):
    return json.loads(store._table(store.tables.projects).get_entity(PROJECT_PARTITION, name)["Keys"])


def test_a_key_is_found_by_its_id_with_one_hash(azurite, table_prefix, hashes):
    store = make(azurite, table_prefix)
    store.put_project(policy("alpha"))
    keys = [store.add_key("alpha", f"k{i}", NOW) for i in range(20)]
    records = raw_keys(store)
    assert all(r["hash"].startswith("hmac-sha256$") and keys[i] not in json.dumps(r) for i, r in enumerate(records))
    assert store.find_key("alpha", keys[7], NOW).name == "k7"
    assert hashes == [records[7]["hash"]]  # one hash, that key's


def test_a_wrong_key_costs_no_hash_and_a_malformed_one_no_read(azurite, table_prefix, hashes):
    store = make(azurite, table_prefix)
    store.put_project(policy("alpha"))
    for i in range(20):
        store.add_key("alpha", f"k{i}", NOW)
    reads = store.row_reads
    for malformed in ["", "x", "gk_wrong", "gk_" + "0" * 16 + "_short", "Bearer gk_1", "gk_" + "é" * 60]:
        assert store.find_key("alpha", malformed, NOW) is None
    assert store.row_reads == reads and hashes == []  # refused before any lookup
    assert store.find_key("alpha", callerkeys.new_key(), NOW) is None  # an id no row has: no hash at all
    assert hashes == []
    real = raw_keys(store)[3]
    forged = callerkeys.new_key(real["id"])  # a real id with a wrong secret: one hash, refused
    assert store.find_key("alpha", forged, NOW) is None and hashes == [real["hash"]]
    assert len(store.verified_keys) == 0


def test_a_wrong_key_costs_under_a_millisecond_of_cpu_at_100_keys(azurite, table_prefix):
    store = make(azurite, table_prefix)
    store.put_project(policy("alpha"))
    for i in range(100):
        store.add_key("alpha", f"k{i}", NOW)
    store.get_project("alpha")  # the gate's policy read, which the key check then uses
    wrong = [callerkeys.new_key() for _ in range(200)]
    start = time.thread_time()
    assert all(store.find_key("alpha", key, NOW) is None for key in wrong)
    per_key = (time.thread_time() - start) / len(wrong)
    assert per_key < 0.001, f"{per_key * 1000:.3f} ms of CPU per wrong key"


def test_keys_verify_after_a_restart_and_only_under_their_pepper(azurite, table_prefix):
    store = make(azurite, table_prefix)
    store.put_project(policy("alpha"))
    key = store.add_key("alpha", "kiosk", NOW)
    assert make(azurite, table_prefix).find_key("alpha", key, NOW).name == "kiosk"  # a new process
    assert make(azurite, table_prefix, b"another-pepper-of-at-least-32-chars!").find_key("alpha", key, NOW) is None
    plain = make(azurite, table_prefix, b"")  # no pepper: plain SHA-256
    unpeppered = plain.add_key("alpha", "plain", NOW)
    assert raw_keys(store)[-1]["hash"].startswith("sha256$")
    assert make(azurite, table_prefix, b"").find_key("alpha", unpeppered, NOW).name == "plain"


def test_a_key_from_before_ids_works_until_rotated(azurite, table_prefix, hashes):
    store = make(azurite, table_prefix)
    store.put_project(policy("alpha"))
    modern = store.add_key("alpha", "modern", NOW)
    legacy = "gk_" + secrets.token_urlsafe(32)
    row = store._table(store.tables.projects).get_entity(PROJECT_PARTITION, "alpha")
    keys = [
        *json.loads(row["Keys"]),
        {"name": "old", "hash": callerkeys.hash_key(legacy), "createdAt": NOW.isoformat()},
    ]
    row["Keys"] = json.dumps(keys)
    store._table(store.tables.projects).upsert_entity(row)
    assert store.find_key("alpha", legacy, NOW).name == "old"
    assert all(h.startswith("scrypt$") for h in hashes)  # the legacy shape is checked against scrypt hashes only
    assert store.find_key("alpha", modern, NOW).name == "modern"
    rotated = store.rotate_named_key("alpha", "old", NOW)
    assert callerkeys.key_id_of(rotated) and store.find_key("alpha", rotated, NOW).name == "old"
    assert store.find_key("alpha", legacy, NOW) is None
    assert not any(callerkeys.is_slow(k["hash"]) for k in raw_keys(store))


def test_a_key_scope_is_stored_and_read_back(azurite, table_prefix):
    store = make(azurite, table_prefix)
    store.put_project(policy("alpha"))
    own = store.add_key("alpha", "app", NOW, limits=CallerLimits(max_concurrent=1))
    ops = store.add_key("alpha", "ops", NOW, scope="project")
    assert store.find_key("alpha", own, NOW).scope == "own" and store.find_key("alpha", ops, NOW).scope == "project"
    assert {k.name: k.scope for k in store.list_keys("alpha")} == {"app": "own", "ops": "project"}
    assert store.rotate_named_key("alpha", "ops", NOW) and store.list_keys("alpha")[1].scope == "project"
    with pytest.raises(InvalidEntity):
        store.add_key("alpha", "bad", NOW, scope="everything")


def test_every_key_change_bumps_the_keys_version(azurite, table_prefix):
    store = make(azurite, table_prefix)
    table = store._table(store.tables.projects)

    def version():
        return table.get_entity(PROJECT_PARTITION, "alpha")["KeysVersion"]

    store.put_project(policy("alpha"))
    seen = [version()]
    store.add_key("alpha", "a", NOW)
    seen.append(version())
    store.rotate_named_key("alpha", "a", NOW)
    seen.append(version())
    store.revoke_key("alpha", "a")
    seen.append(version())
    store.rotate_key("alpha", NOW)
    seen.append(version())
    store.put_project(policy("alpha", max_concurrent=3))  # a policy edit keeps the keys and their version
    assert version() == seen[-1]
    store.delete_project("alpha")
    store.put_project(policy("alpha"))  # made again: a version no cache holds
    seen.append(version())
    assert len(set(seen)) == len(seen)
