"""verify_key remembers successes briefly: no row read or scrypt on a hit; rotation, put and
delete in this process forget at once; a wrong key is never remembered."""

from governor.store import TableStore
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


def test_a_second_check_of_the_same_key_reads_nothing(azurite, table_prefix):
    store = make(azurite, table_prefix)
    key = store.rotate_key("alpha")
    reads = store.row_reads
    assert store.verify_key("alpha", key)
    assert store.row_reads == reads + 1
    assert store.verify_key("alpha", key)
    assert store.row_reads == reads + 1


def test_a_hit_expires_after_the_ttl(azurite, table_prefix):
    clock = Clock()
    store = make(azurite, table_prefix, clock)
    key = store.rotate_key("alpha")
    assert store.verify_key("alpha", key)
    clock.now += 61
    reads = store.row_reads
    assert store.verify_key("alpha", key)
    assert store.row_reads == reads + 1


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
