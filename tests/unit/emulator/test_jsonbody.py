import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governor.emulator.errors import ApiError
from governor.emulator.jsonbody import BodyError, as_int, parse_json, parse_object


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            b"{ 'maxLeaseTime': '4:0:0', 'models': [], 'size': 'standard' }",
            {"maxLeaseTime": "4:0:0", "models": [], "size": "standard"},
        ),
        (b"{ 'maxLeaseTime': '5:0:0' }", {"maxLeaseTime": "5:0:0"}),
        (b"{'a': 'it\\'s'}", {"a": "it's"}),
        (b"{'a': 'say \"hi\"'}", {"a": 'say "hi"'}),
        (b'{"a": "it\'s", \'b\': 1}', {"a": "it's", "b": 1}),
        (b'\xef\xbb\xbf{"a": 1}', {"a": 1}),
    ],
)
def test_single_quoted_bodies_as_newtonsoft_read_them(raw, expected):
    assert parse_json(raw) == expected


@pytest.mark.parametrize("raw", [b"", b"  ", b"{", b"{'a': }", b"NaN", b'{"a": Infinity}', b"\xff", b"[" * 5000])
def test_invalid_bodies_raise_body_error(raw):
    with pytest.raises(BodyError):
        parse_json(raw)


def test_non_object_is_a_400():
    with pytest.raises(ApiError) as error:
        parse_object(b"[]")
    assert error.value.status == 400


@pytest.mark.parametrize(
    ("value", "ok"), [(5, True), (5.0, True), (5.5, False), (True, False), ("5", False), (None, False)]
)
def test_as_int(value, ok):
    if ok:
        assert as_int(value, "f") == 5
    else:
        with pytest.raises(ApiError):
            as_int(value, "f")


@given(st.binary(max_size=300))
def test_any_bytes_either_parse_or_raise_body_error(raw):
    with contextlib.suppress(BodyError):
        parse_json(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=15,
)


@given(json_values)
def test_strict_json_round_trips(value):
    assert parse_json(json.dumps(value).encode()) == value


@given(
    st.dictionaries(
        st.text(alphabet=st.characters(blacklist_characters="'\\", blacklist_categories=("Cs",)), max_size=8),
        st.text(alphabet=st.characters(blacklist_characters="'\\", blacklist_categories=("Cs",)), max_size=8),
        max_size=4,
    )
)
def test_single_quoted_objects_parse_like_double_quoted(value):
    text = "{" + ", ".join(f"'{k}': '{v}'" for k, v in value.items()) + "}"
    try:
        parsed = parse_json(text.encode())
    except BodyError:
        # control characters are invalid inside JSON strings either way
        assert any(ord(c) < 32 for item in value.items() for c in "".join(item))
        return
    assert parsed == value
