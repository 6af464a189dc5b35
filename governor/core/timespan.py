""".NET TimeSpan strings, as ARR's v1 API reads and writes them.

Parsing follows `TimeSpan.Parse` with the invariant culture: `[-]d`, `[-][d.]h:m[:s[.f]]`, and
the general "g" form `[-]d:h:m:s[.f]` ("0:4:0:0" is four hours). A bare integer means days, hours
must be 0-23, minutes and seconds 0-59, and the fraction has at most 7 digits (ticks of 100 ns).
A timedelta holds microseconds, not ticks. A value given to the governor or the emulator (a
lease) with a finer fraction is refused: rounding it away would turn "00:30:00.0000005" into a
whole-minute lease nobody asked for. A value ARR answers (an elapsed time, which .NET writes to
the tick) is read to the microsecond (`truncate_ticks`). Formatting is the "c" format.
"""

from __future__ import annotations

import re
from datetime import timedelta

MAX_DAYS = 10_675_199

_PATTERN = re.compile(
    r"""^\s*(?P<sign>-)?
    (?:
        (?P<only_days>\d{1,8})
      |
        # days end with "." ("c" format) or with ":" ("g" format), but with ":" only when hours,
        # minutes and seconds follow: "1:30:00" is h:m:s, not d:h:m
        (?:(?P<days>\d{1,8})(?:\.|:(?=\d{1,2}:\d{1,2}:\d)))?
        (?P<hours>\d{1,2}):(?P<minutes>\d{1,2})
        (?::(?P<seconds>\d{1,2})(?:\.(?P<fraction>\d{1,7}))?)?
    )\s*$""",
    re.VERBOSE | re.ASCII,  # .NET reads ASCII digits only; Python's \d would take "\u0663" and int() would read it
)


class TimeSpanError(ValueError):
    """A string that .NET's TimeSpan.Parse would refuse, or one finer than a microsecond."""


def parse_timespan(text: str, truncate_ticks: bool = False) -> timedelta:
    if not isinstance(text, str):
        raise TimeSpanError(f"a TimeSpan must be a string, not {type(text).__name__}")
    match = _PATTERN.match(text)
    if match is None:
        raise TimeSpanError(
            f"{text!r} is not a TimeSpan ([d.]hh:mm[:ss[.fffffff]], d:hh:mm:ss[.fffffff] or whole days)"
        )
    parts = match.groupdict()
    if parts["only_days"] is not None:
        days, hours, minutes, seconds, ticks = int(parts["only_days"]), 0, 0, 0, 0
    else:
        days = int(parts["days"] or 0)
        hours, minutes = int(parts["hours"]), int(parts["minutes"])
        seconds = int(parts["seconds"] or 0)
        ticks = int((parts["fraction"] or "0").ljust(7, "0"))
        if hours > 23 or minutes > 59 or seconds > 59:
            raise TimeSpanError(f"{text!r} is out of range (hours 0-23, minutes and seconds 0-59)")
        if ticks % 10 and not truncate_ticks:
            raise TimeSpanError(f"{text!r} is more precise than a microsecond (the 7th fraction digit must be 0)")
    if days > MAX_DAYS:
        raise TimeSpanError(f"{text!r} is out of range (at most {MAX_DAYS} days)")
    value = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds, microseconds=ticks // 10)
    return -value if parts["sign"] else value


def format_timespan(value: timedelta) -> str:
    """The .NET "c" format: [-][d.]hh:mm:ss[.fffffff]."""
    sign = "-" if value < timedelta(0) else ""
    value = abs(value)
    hours, rest = divmod(value.seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    text = f"{hours:02d}:{minutes:02d}:{seconds:02d}"
    if value.days:
        text = f"{value.days}.{text}"
    if value.microseconds:
        text = f"{text}.{value.microseconds * 10:07d}"
    return sign + text
