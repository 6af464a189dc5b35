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


# ---------------------------------------------------------------- issue 22: keys that carry their id
def test_a_new_key_carries_its_id_and_256_random_bits():
    key_id = callerkeys.new_key_id()
    key = callerkeys.new_key(key_id)
    prefix, carried, secret = key.split("_", 2)
    assert (prefix, carried) == ("gk", key_id) and len(key_id) == 16 and len(secret) == 43
    assert callerkeys.key_id_of(key) == key_id and not callerkeys.is_legacy_shape(key)


def test_malformed_keys_have_no_id():
    key = callerkeys.new_key()
    for bad in [key + "x", key[:-1], key.upper(), "gk_" + "g" * 16 + key[19:], key.replace("_", "-", 1), "", None, 7]:
        assert callerkeys.key_id_of(bad) is None
    legacy = "gk_" + "A" * 43
    assert callerkeys.key_id_of(legacy) is None and callerkeys.is_legacy_shape(legacy)


def test_new_keys_hash_with_the_pepper_or_plain_sha256():
    key = callerkeys.new_key()
    peppered = callerkeys.hash_new_key(key, b"p" * 32)
    plain = callerkeys.hash_new_key(key, b"")
    assert peppered.startswith("hmac-sha256$") and plain.startswith("sha256$") and key not in peppered + plain
    assert callerkeys.verify_key(key, peppered, b"p" * 32)
    assert not callerkeys.verify_key(key, peppered, b"q" * 32) and not callerkeys.verify_key(key, peppered, b"")
    assert callerkeys.verify_key(key, plain, b"") and callerkeys.verify_key(key, plain, b"p" * 32)
    assert not callerkeys.verify_key(key[:-1] + ("A" if key[-1] != "A" else "B"), peppered, b"p" * 32)
    assert peppered == callerkeys.hash_new_key(key, b"p" * 32)  # deterministic: verifies after a restart


def test_a_legacy_scrypt_hash_still_verifies():
    key = "gk_" + "B" * 43
    stored = callerkeys.hash_key(key)
    assert callerkeys.is_slow(stored) and callerkeys.verify_key(key, stored)
