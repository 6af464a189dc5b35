"""Working hours: is a project open at an instant, when does it next open, when does it close.

A window `HH:MM-HH:MM` belongs to the weekday it starts on, in the project's IANA time zone;
one whose end is not after its start runs over midnight into the next day. Windows that start
on a holiday do not open (the overnight tail of the day before still runs). Windows that touch
or follow each other form one opening: closing is the end of the whole run.

Local times are turned into instants with zoneinfo: a time skipped by a daylight-saving change
(02:30 on the spring-forward day in Europe/Berlin) is read with the offset before the change, so
it lands an hour later (03:30); a time that happens twice (fall-back) means its first occurrence.
Pure: the tz database is data, read through zoneinfo; no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from governor.core.model import Schedule, Window
from governor.core.policy.limits import TextRule

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW = TextRule(
    r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-3]|24):([0-5][0-9])",
    "must be a window HH:MM-HH:MM (24-hour clock, end up to 24:00)",
)
DAY = 24 * 60
HORIZON_DAYS = 400  # how far ahead to look for an opening (a year of holidays and then some)


class ScheduleError(ValueError):
    """A schedule field is invalid; `field` is relative to the schedule (e.g. `hours.mon[1]`)."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class Opening:
    """The schedule at one instant: open or not, and the next changes (UTC; None: never)."""

    open: bool
    closes_at: datetime | None  # end of the current opening, or of the next one when closed
    opens_at: datetime | None  # the next opening after now (after closes_at when open)

    def until_closing(self, now: datetime) -> timedelta | None:
        return self.closes_at - now if self.open and self.closes_at is not None else None


# Names in the zone database that are not a place's zone: the system's own (`localtime`,
# `posixrules`), a placeholder (`Factory`), and the POSIX-style and System V-era names kept for
# compatibility, which tzdata 2024b turned into links to one city's rules (`EST5EDT` is New York's,
# `EST` Panama's, `CET` Brussels'): a project names its place (America/New_York) instead.
NOT_ZONES = frozenset(
    [
        "localtime",
        "posixrules",
        "Factory",
        *("CET", "CST6CDT", "EET", "EST", "EST5EDT", "HST", "MET", "MST", "MST7MDT", "PST8PDT", "WET"),
    ]
)
ZONE_HINT = "must be an IANA time zone such as Europe/Berlin"


@lru_cache(maxsize=1)
def zone_names() -> frozenset[str]:
    """The canonical zone names a project may use: `zoneinfo.available_timezones()` (which lists
    no directories) less `NOT_ZONES` and the `posix/` and `right/` copies."""
    return frozenset(
        name for name in available_timezones() if name not in NOT_ZONES and not name.startswith(("posix/", "right/"))
    )


# ---------------------------------------------------------------- parsing (used by the document format)
def check_zone(name: object) -> ZoneInfo:
    """A time zone as a project document names it: one of `zone_names()`, exactly."""
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ScheduleError("timeZone", ZONE_HINT)
    if name not in zone_names():
        raise ScheduleError("timeZone", f"unknown time zone {name[:64]!r} (an IANA name such as Europe/Berlin)")
    return zone(name)


def zone(name: object) -> ZoneInfo:
    """A stored schedule's zone, loaded (a zone stored before `check_zone` still loads)."""
    if not isinstance(name, str) or not name or len(name) > 64 or name.startswith(("/", ".")) or ".." in name:
        raise ScheduleError("timeZone", ZONE_HINT)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):  # OSError: a directory such as `Europe`
        raise ScheduleError("timeZone", f"unknown time zone {name!r} (an IANA name such as Europe/Berlin)") from None


def parse_window(text: object, field: str) -> Window:
    match = WINDOW.fullmatch(text)
    if match is None:
        raise ScheduleError(field, WINDOW.hint)
    start = int(match[1]) * 60 + int(match[2])
    end = int(match[3]) * 60 + int(match[4])
    if end > DAY:
        raise ScheduleError(field, "must end at 24:00 at the latest")
    if end == start:
        raise ScheduleError(field, "must not be empty (start equals end)")
    return Window(start, end)


def window_text(window: Window) -> str:
    return f"{window.start // 60:02d}:{window.start % 60:02d}-{window.end // 60:02d}:{window.end % 60:02d}"


def check_overlaps(hours: tuple[tuple[Window, ...], ...]) -> None:
    """Windows of a week must not overlap, also across midnight (Mon 22:00-02:00 and Tue 01:00-...)."""
    spans = []  # (start, end, field) in minutes of the week, wrapped at the week's end
    for day, windows in enumerate(hours):
        for index, window in enumerate(windows):
            start = day * DAY + window.start
            end = day * DAY + window.end + (DAY if window.overnight else 0)
            spans.append((start, end, f"hours.{WEEKDAYS[day]}[{index}]"))
    week = 7 * DAY
    spans += [(start + week, end + week, name) for start, end, name in spans]  # Sunday night into Monday
    spans.sort()
    reach, reached_by = -1, ""
    for start, end, name in spans:
        if start < reach and name != reached_by:
            raise ScheduleError(name, f"overlaps {reached_by}")
        if end > reach:
            reach, reached_by = end, name


# ---------------------------------------------------------------- evaluation
def _instant(day: date, minute: int, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(minute // 60, minute % 60), tz).astimezone(UTC)


def _day_spans(schedule: Schedule, day: date, tz: ZoneInfo) -> list[tuple[datetime, datetime]]:
    if day in schedule.holidays:
        return []
    spans = []
    for window in schedule.hours[day.weekday()]:
        end_day = day + timedelta(days=1) if window.overnight or window.end == DAY else day
        end_minute = 0 if window.end == DAY else window.end
        start, end = _instant(day, window.start, tz), _instant(end_day, end_minute, tz)
        if end > start:  # a window inside a skipped hour is empty
            spans.append((start, end))
    return spans


def _openings(schedule: Schedule, now: datetime):
    """Merged openings (start, end) in UTC that end after `now`, in order, up to the horizon."""
    tz = zone(schedule.time_zone)
    first = now.astimezone(tz).date() - timedelta(days=1)
    current = None
    for offset in range(HORIZON_DAYS + 2):
        for start, end in sorted(_day_spans(schedule, first + timedelta(days=offset), tz)):
            if current is not None and start <= current[1]:
                current = (current[0], max(current[1], end))
                continue
            if current is not None and current[1] > now:
                yield current
            current = (start, end)
    if current is not None and current[1] > now:
        yield current


@lru_cache(maxsize=1024)  # a sweep asks the same few schedules about the same instant
def opening(schedule: Schedule, now: datetime) -> Opening:
    """Open now? The current opening's end, and the next opening's start (None: none within the horizon)."""
    runs = _openings(schedule, now)
    first = next(runs, None)
    if first is None:
        return Opening(False, None, None)
    if first[0] <= now:
        following = next(runs, None)
        return Opening(True, first[1], following[0] if following else None)
    return Opening(False, first[1], first[0])


def local_text(schedule: Schedule, at: datetime | None) -> str | None:
    """An instant in the project's zone, ISO 8601 with its offset."""
    return None if at is None else at.astimezone(zone(schedule.time_zone)).isoformat()
