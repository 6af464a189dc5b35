from datetime import timedelta

import pytest

from governor.core.timespan import TimeSpanError, format_timespan, parse_timespan


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4:0:0", timedelta(hours=4)),
        ("04:00:00", timedelta(hours=4)),
        ("5:0:0", timedelta(hours=5)),
        ("1.02:00:00", timedelta(days=1, hours=2)),
        ("8", timedelta(days=8)),
        ("0:30", timedelta(minutes=30)),
        ("00:00:01", timedelta(seconds=1)),
        ("00:00:01.5", timedelta(seconds=1, milliseconds=500)),
        ("00:00:00.0000010", timedelta(microseconds=1)),
        (" 1:00:00 ", timedelta(hours=1)),
        ("-0:10:00", -timedelta(minutes=10)),
        ("23:59:59", timedelta(hours=23, minutes=59, seconds=59)),
        ("00:30:00.0000000", timedelta(minutes=30)),
        ("00:30:00.123456", timedelta(minutes=30, microseconds=123456)),
    ],
)
def test_parse_like_dotnet(text, expected):
    assert parse_timespan(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("0:4:0:0", timedelta(hours=4)),
        ("1:0:0:0", timedelta(days=1)),
        ("6:12:14:45", timedelta(days=6, hours=12, minutes=14, seconds=45)),
        ("0:04:00:00.5", timedelta(hours=4, milliseconds=500)),
        ("-1:02:03:04", -timedelta(days=1, hours=2, minutes=3, seconds=4)),
        (" 10:23:59:59 ", timedelta(days=10, hours=23, minutes=59, seconds=59)),
    ],
)
def test_parse_the_general_form_with_days_before_a_colon(text, expected):
    """.NET's "g" format, [-][d:]h:mm:ss[.FFFFFFF]: four colon parts are days, hours, minutes, seconds."""
    assert parse_timespan(text) == expected


@pytest.mark.parametrize("text", ["0:24:0:0", "0:0:60:0", "0:0:0:60", "1:2:3:4:5", "1.2:3:4:5", "1:2:3:4.12345678"])
def test_the_general_form_keeps_dotnets_ranges_and_shape(text):
    with pytest.raises(TimeSpanError):
        parse_timespan(text)


@pytest.mark.parametrize("text", ["00:30:00.0000005", "0:00:30:00.0000001", "00:00:00.1234567"])
def test_ticks_finer_than_a_microsecond_are_refused_not_truncated(text):
    with pytest.raises(TimeSpanError, match="more precise than a microsecond"):
        parse_timespan(text)
    assert parse_timespan(text, truncate_ticks=True) == parse_timespan(text[:-1])  # ARR's answers


def test_the_hint_lists_every_accepted_form():
    with pytest.raises(TimeSpanError) as caught:
        parse_timespan("soon")
    assert "[d.]hh:mm[:ss[.fffffff]], d:hh:mm:ss[.fffffff] or whole days" in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ["24:00:00", "1:60:00", "1:00:60", "", "abc", "1:2:3:4:5", "1.5", "00:00:00.12345678", "1e3", "+1:0:0"],
)
def test_parse_refuses_what_dotnet_refuses(text):
    with pytest.raises(TimeSpanError):
        parse_timespan(text)


@pytest.mark.parametrize("value", [5, None, 1.5, ["4:0:0"]])
def test_parse_refuses_non_strings(value):
    with pytest.raises(TimeSpanError):
        parse_timespan(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (timedelta(hours=4), "04:00:00"),
        (timedelta(seconds=1), "00:00:01"),
        (timedelta(days=1, hours=2), "1.02:00:00"),
        (timedelta(0), "00:00:00"),
        (timedelta(seconds=1, microseconds=500000), "00:00:01.5000000"),
        (-timedelta(minutes=10), "-00:10:00"),
    ],
)
def test_format_c(value, text):
    assert format_timespan(value) == text


def test_round_trip():
    for seconds in (0, 1, 59, 3600, 86399, 86400, 90061, 10 * 86400 + 1):
        value = timedelta(seconds=seconds)
        assert parse_timespan(format_timespan(value)) == value


@pytest.mark.parametrize(
    "text", ["\u0660\u0661:\u0663\u0660:\u0660\u0660", "01:\uff130:00", "\u0967", "01:30:00.\uff15", "0\u0661:30"]
)
def test_only_ascii_digits_make_a_timespan(text):
    """Python's \\d and int() read Arabic-Indic, fullwidth and Devanagari digits; .NET does not."""
    with pytest.raises(TimeSpanError):
        parse_timespan(text)
    assert parse_timespan("01:30:00") == timedelta(minutes=90)  # the same lease in ASCII digits
