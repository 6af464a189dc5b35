import pytest

from governor.store.errors import InvalidKey
from governor.store.keys import check_key, check_project_name, open_key, prefix_range
from governor.store.tables import table_names


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("a/b", "'/'"),
        ("a\\b", "'\\\\'"),
        ("a#b", "'#'"),
        ("a?b", "'?'"),
        ("tab\there", "U+0009"),
        ("nul\x00", "U+0000"),
        ("del\x7f", "U+007F"),
        ("c1\x85", "U+0085"),
        ("", "empty"),
        ("x" * 513, "1 KiB"),
        ("é" * 513, "1 KiB"),
    ],
)
def test_bad_keys_name_the_field_and_reason(value, reason):
    with pytest.raises(InvalidKey) as caught:
        check_key("sessionId", value)
    assert caught.value.field == "sessionId"
    assert reason in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_good_keys_pass_unchanged():
    for value in ("abc", "x" * 512, "日本語", "a|b", "with space", "🙂" * 256):
        assert check_key("k", value) == value


def test_non_string_keys():
    with pytest.raises(InvalidKey, match="must be a string"):
        check_key("k", 5)


def test_project_names():
    assert check_project_name("demo-1_x") == "demo-1_x"
    for bad in ("-x", "a.b", "a b", "x" * 64, "ä"):
        with pytest.raises(InvalidKey):
            check_project_name(bad)


def test_row_key_layout():
    assert open_key("s1") == "open|s1"
    low, high = prefix_range("open|")
    assert low <= "open|zzz" < high and not low <= "closed|a" < high
    with pytest.raises(InvalidKey):
        open_key("a/b")


def test_table_names():
    names = table_names("gov1")
    assert names.all() == ("gov1Projects", "gov1Ledger", "gov1Audit", "gov1Health", "gov1History")
    for bad in ("", "1abc", "a-b", "x" * 51, "gov1\n"):
        with pytest.raises(ValueError, match="GOVERNOR_TABLE_PREFIX"):
            table_names(bad)
