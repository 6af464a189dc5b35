"""find_key checks a key against the project row the request read with its policy, and remembers
successes briefly (no hash on a hit) under the row's keys version; rotation, put and delete in this
process forget at once; a wrong key is never remembered."""

from governor.core.model import utcnow
from governor.store import TableStore, callerkeys
from governor.store.keycache import VerifiedKeys
from tests.integration.store.helpers import policy


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class CountingStore(TableStore):
    row_reads = 0

    def _project_row(self, name):
        self.row_reads += 1
        return super()._project_row(name)


def make(azurite, table_prefix, clock=None) -> CountingStore:
    store = CountingStore(azurite.connection_string, table_prefix)
    store.verified_keys = VerifiedKeys(ttl=60, clock=clock or Clock())
    store.put_project(policy("alpha"))
    return store


def test_a_check_after_the_policy_read_reads_nothing_more(azurite, table_prefix):
    """The gate reads the policy (the project row) first; the key is checked against that same row."""
    store = make(azurite, table_prefix)
    key = store.rotate_key("alpha")
    store.get_project("alpha")
    reads = store.row_reads
    assert store.verify_key("alpha", key)
    assert store.verify_key("alpha", key)
    assert store.row_reads == reads
    store.keys_row_seconds = 0  # no policy read of this thread is recent enough: the check reads the row
    assert store.verify_key("alpha", key)
    assert store.row_reads == reads + 1


def test_a_hit_expires_after_the_ttl(azurite, table_prefix, monkeypatch):
    clock = Clock()
    store = make(azurite, table_prefix, clock)
    key = store.rotate_key("alpha")
    assert store.verify_key("alpha", key)
    checks = []
    verify = callerkeys.verify_key
    monkeypatch.setattr(callerkeys, "verify_key", lambda *a, **k: checks.append(1) or verify(*a, **k))
    assert store.verify_key("alpha", key)
    assert checks == []
    clock.now += 61
    assert store.verify_key("alpha", key)
    assert checks == [1]


def test_rotating_the_key_refuses_the_old_one_at_once(azurite, table_prefix):
    store = make(azurite, table_prefix)
    old = store.rotate_key("alpha")
    assert store.verify_key("alpha", old)
    new = store.rotate_key("alpha")
    assert not store.verify_key("alpha", old)
    assert store.verify_key("alpha", new)


def test_put_and_delete_forget_the_project(azurite, table_prefix):
    store = make(azurite, table_prefix)
    key = store.rotate_key("alpha")
    assert store.verify_key("alpha", key)
    store.put_project(policy("alpha"))
    reads = store.row_reads
    assert store.verify_key("alpha", key)  # key hashes survive a put, but it was checked again
    assert store.row_reads > reads
    store.delete_project("alpha")
    assert not store.verify_key("alpha", key)


def test_a_wrong_key_is_never_remembered(azurite, table_prefix):
    store = make(azurite, table_prefix)
    store.rotate_key("alpha")
    for _ in range(2):
        assert not store.verify_key("alpha", "gk_wrong")
    assert len(store.verified_keys) == 0
    assert not store.verify_key("alpha", 12345)  # type: ignore[arg-type]
    assert not store.verify_key("alpha", "")


def test_one_process_wide_cache_is_shared_by_every_store(azurite, table_prefix):
    one = TableStore(azurite.connection_string, table_prefix)
    two = TableStore(azurite.connection_string, table_prefix)
    one.put_project(policy("alpha"))
    key = one.rotate_key("alpha")
    assert two.verify_key("alpha", key)
    one.rotate_key("alpha")
    assert not two.verify_key("alpha", key)
    assert two.get_project("alpha") and not two.verify_key("alpha", key)


def test_wrong_keys_and_policy_reads_within_the_bound_share_one_row_read(azurite, table_prefix):
    """What the gate asks for (`max_age`): a burst of requests, wrong keys included, reads the
    project row once per PROJECT_ROW_SECONDS per instance, not once per request."""
    from governor.core.policy.callers import PROJECT_ROW_SECONDS

    store = make(azurite, table_prefix)
    store.rotate_key("alpha")
    store.get_project("alpha")  # a fresh read (max_age 0 is the default: manage and the CLI)
    reads = store.row_reads
    for _ in range(50):
        assert store.get_project("alpha", max_age=PROJECT_ROW_SECONDS).name == "alpha"
        assert store.find_key("alpha", callerkeys.new_key(), utcnow()) is None
    assert store.row_reads == reads


def test_a_policy_edit_through_another_store_reaches_the_gates_copy_within_the_bound(azurite, table_prefix):
    """Another instance (a store of another process, simulated by rewriting the row behind this
    process's back) edits the policy: the copy is used for at most `max_age` seconds."""
    from dataclasses import replace

    from governor.store.entities import policy_to_entity
    from governor.store.projects import PROJECT_PARTITION

    store = make(azurite, table_prefix)
    assert store.get_project("alpha", max_age=60).max_concurrent == policy("alpha").max_concurrent
    row = store._point(store.tables.projects, PROJECT_PARTITION, "alpha")
    edited = {**row, **policy_to_entity(replace(policy("alpha"), max_concurrent=1), PROJECT_PARTITION)}
    store._table(store.tables.projects).upsert_entity(edited)  # not through a store: no process forgets it
    assert store.get_project("alpha", max_age=60).max_concurrent != 1  # the copy, within its bound
    assert store.get_project("alpha", max_age=0).max_concurrent == 1  # older than the bound asked: read
    store.put_project(replace(policy("alpha"), max_concurrent=2))  # through a store: forgotten at once
    assert store.get_project("alpha", max_age=60).max_concurrent == 2


def test_a_slow_read_that_started_before_a_key_was_added_does_not_replace_the_newer_row(azurite, table_prefix):
    """Two requests of one instance read the project row at once; the one that started first, before
    a key was added, finishes last. The process keeps the newer row: the new key is valid there
    (an admission's round checks its caller against that copy), not missing for 2 s."""
    import threading

    admin = make(azurite, table_prefix)
    slow_started, release = threading.Event(), threading.Event()

    class SlowStore(TableStore):
        def _point(self, table, partition, row):
            found = super()._point(table, partition, row)
            if table == self.tables.projects and not slow_started.is_set():
                slow_started.set()
                release.wait(10)  # its answer (the row before the key) arrives late
            return found

    slow = SlowStore(azurite.connection_string, table_prefix)
    reader = threading.Thread(target=lambda: slow.get_project("alpha"))
    reader.start()
    assert slow_started.wait(10)
    key = admin.add_key("alpha", "kiosk", utcnow())  # a write through this process: the copy goes
    assert admin.find_key("alpha", key, utcnow()) is not None  # a newer read, kept
    release.set()
    reader.join(10)
    assert [k.name for k in admin.caller_keys("alpha", max_age=2.0) if k.name == "kiosk"] == ["kiosk"]
    assert admin.find_key("alpha", key, utcnow()) is not None
