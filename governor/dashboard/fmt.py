"""Text for the page: money, durations and times, with everything from storage HTML-escaped."""

from __future__ import annotations

import html
from datetime import UTC, datetime, timedelta

from governor.core.model import whole_minutes


def esc(value: object) -> str:
    """Escape for HTML text and attribute values (quotes included)."""
    return html.escape("" if value is None else str(value), quote=True)


def percent(part: int, whole: int | None) -> str:
    if not whole:
        return "n/a"
    return f"{part * 100 / whole:.0f}%"


def duration(span: timedelta | None) -> str:
    if span is None:
        return "never"
    negative = span < timedelta(0)
    minutes = whole_minutes(abs(span))
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if hours or days else []) + [f"{minutes} min"]
    return ("-" if negative else "") + " ".join(parts)


def when(at: datetime | None) -> str:
    if at is None:
        return "never"
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def ago(at: datetime | None, now: datetime) -> str:
    if at is None:
        return "never"
    return f"{duration(now - at)} ago"
