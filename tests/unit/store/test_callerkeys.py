from governor.store import callerkeys


def test_hash_is_salted_and_verifies_in_constant_form():
    key = callerkeys.new_key()
    first, second = callerkeys.hash_key(key), callerkeys.hash_key(key)
    assert key.startswith("gk_") and len(key) > 40
    assert first != second and key not in first
    assert callerkeys.verify_key(key, first) and callerkeys.verify_key(key, second)
    assert not callerkeys.verify_key(key[:-1], first)
    assert not callerkeys.verify_key(None, first)
    assert not callerkeys.verify_key(key, "garbage")
    assert not callerkeys.verify_key(key, "md5$1$2$3$4$5")


def test_keys_are_unique():
    assert len({callerkeys.new_key() for _ in range(50)}) == 50
