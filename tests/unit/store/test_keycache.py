"""The verified-key cache: HMAC-keyed, successes only, TTL, bounded, forgotten per project."""

from governor.store.keycache import VerifiedKeys

SCOPE = ("govProjects", "alpha")
OTHER = ("govProjects", "beta")


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def remembered(cache: VerifiedKeys, scope=SCOPE, key="gk_one") -> VerifiedKeys:
    cache.remember(scope, key, cache.generation(scope))
    return cache


def test_a_remembered_key_hits_for_its_project_only():
    cache = remembered(VerifiedKeys())
    assert cache.hit(SCOPE, "gk_one")
    assert not cache.hit(SCOPE, "gk_two")
    assert not cache.hit(OTHER, "gk_one")
    assert not cache.hit(("otherPrefixProjects", "alpha"), "gk_one")


def test_entries_expire_after_the_ttl():
    clock = Clock()
    cache = remembered(VerifiedKeys(ttl=60, clock=clock))
    clock.now += 59.9
    assert cache.hit(SCOPE, "gk_one")
    clock.now += 0.2
    assert not cache.hit(SCOPE, "gk_one")
    assert len(cache) == 0


def test_forget_drops_only_that_project_and_refuses_a_check_that_started_before_it():
    cache = remembered(remembered(VerifiedKeys()), OTHER)
    started = cache.generation(SCOPE)
    cache.forget(SCOPE)
    assert not cache.hit(SCOPE, "gk_one") and cache.hit(OTHER, "gk_one")
    cache.remember(SCOPE, "gk_one", started)  # verified against the row read before the rotation
    assert not cache.hit(SCOPE, "gk_one")
    remembered(cache)
    assert cache.hit(SCOPE, "gk_one")


def test_size_is_bounded_oldest_first():
    cache = VerifiedKeys(max_size=3)
    for index in range(5):
        remembered(cache, key=f"gk_{index}")
    assert len(cache) == 3
    assert [cache.hit(SCOPE, f"gk_{i}") is not None for i in range(5)] == [False, False, True, True, True]


def test_the_cache_holds_no_key_material():
    cache = remembered(VerifiedKeys(), key="gk_secretvalue")
    assert "secretvalue" not in repr(cache) and "secretvalue" not in repr(cache._entries)
    assert all(len(digest) == 32 for digest in cache._entries)
    assert VerifiedKeys()._secret != cache._secret
