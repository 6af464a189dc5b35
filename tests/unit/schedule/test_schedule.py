"""Working hours: open now, next opening and closing across time zones, DST, midnight and holidays."""

from datetime import UTC, date, datetime, timedelta

import pytest

from governor.core.model import Closing, Schedule
from governor.core.policy import document as documents
from governor.core.policy.schedule import opening


def schedule(time_zone="Europe/Berlin", holidays=(), closing="stop", **days) -> Schedule:
    doc = {"timeZone": time_zone, "hours": days, "holidays": list(holidays), "closing": closing}
    return documents.schedule_from_document(doc)


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


WEEKDAYS = {d: ["08:00-18:00"] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_open_within_a_window_and_closing_at_its_end():
    s = schedule(**WEEKDAYS)
    # Tuesday 2026-11-24 10:00 UTC = 11:00 in Berlin (CET, +01:00)
    now = opening(s, utc(2026, 11, 24, 10, 0))
    assert now.open
    assert now.closes_at == utc(2026, 11, 24, 17, 0)  # 18:00 CET
    assert now.opens_at == utc(2026, 11, 25, 7, 0)  # Wednesday 08:00 CET


def test_closed_over_the_weekend_opens_on_monday():
    s = schedule(**WEEKDAYS)
    now = opening(s, utc(2026, 11, 28, 12, 0))  # Saturday
    assert not now.open
    assert now.opens_at == utc(2026, 11, 30, 7, 0)
    assert now.closes_at == utc(2026, 11, 30, 17, 0)
    assert now.until_closing(utc(2026, 11, 28, 12, 0)) is None


def test_the_same_hours_in_another_zone_are_other_instants():
    tokyo = opening(schedule("Asia/Tokyo", **WEEKDAYS), utc(2026, 11, 24, 10, 0))  # 19:00 in Tokyo
    ny = opening(schedule("America/New_York", **WEEKDAYS), utc(2026, 11, 24, 10, 0))  # 05:00 in New York
    assert not tokyo.open and tokyo.opens_at == utc(2026, 11, 24, 23, 0)  # Wed 08:00 JST
    assert not ny.open and ny.opens_at == utc(2026, 11, 24, 13, 0)  # Tue 08:00 EST


def test_window_over_midnight_belongs_to_the_day_it_starts():
    s = schedule(fri=["22:00-02:00"])
    # Saturday 2026-11-28 00:30 Berlin = Friday 23:30 UTC: open, the Friday window runs until 02:00
    now = opening(s, utc(2026, 11, 27, 23, 30))
    assert now.open and now.closes_at == utc(2026, 11, 28, 1, 0)
    assert not opening(s, utc(2026, 11, 28, 1, 0)).open  # closing is exclusive
    assert opening(s, utc(2026, 11, 28, 1, 0)).opens_at == utc(2026, 12, 4, 21, 0)


def test_windows_that_touch_are_one_opening():
    s = schedule(mon=["20:00-24:00"], tue=["00:00-06:00", "06:00-07:00"])
    now = opening(s, utc(2026, 11, 30, 20, 0))  # Monday 21:00 CET
    assert now.open
    assert now.closes_at == utc(2026, 12, 1, 6, 0)  # Tuesday 07:00 CET, not midnight
    assert now.opens_at == utc(2026, 12, 7, 19, 0)


def test_holidays_do_not_open_but_the_previous_nights_tail_runs():
    s = schedule(holidays=["2026-12-25"], thu=["20:00-02:00"], fri=["08:00-18:00"])
    assert opening(s, utc(2026, 12, 25, 0, 30)).open  # Thursday night's window, into the holiday
    holiday = opening(s, utc(2026, 12, 25, 10, 0))
    assert not holiday.open
    assert holiday.opens_at == utc(2026, 12, 31, 19, 0)  # next Thursday 20:00 CET


def test_spring_forward_shortens_an_overnight_window():
    # Europe/Berlin moves 02:00 -> 03:00 on Sunday 2026-03-29: Saturday 22:00 (21:00 UTC) to Sunday 06:00 (04:00 UTC)
    s = schedule(sat=["22:00-06:00"])
    now = opening(s, utc(2026, 3, 28, 21, 0))
    assert now.open and now.closes_at == utc(2026, 3, 29, 4, 0)
    assert now.closes_at - utc(2026, 3, 28, 21, 0) == timedelta(hours=7)


def test_fall_back_lengthens_an_overnight_window():
    # Berlin moves 03:00 -> 02:00 on Sunday 2026-10-25: 22:00 CEST (20:00 UTC) to 06:00 CET (05:00 UTC)
    s = schedule(sat=["22:00-06:00"])
    now = opening(s, utc(2026, 10, 24, 20, 0))
    assert now.open and now.closes_at - utc(2026, 10, 24, 20, 0) == timedelta(hours=9)


def test_a_window_starting_in_the_skipped_hour_opens_an_hour_later_by_the_wall_clock():
    s = schedule(sun=["02:30-05:00"])
    now = opening(s, utc(2026, 3, 29, 0, 0))  # 01:00 CET, before the change
    assert now.opens_at == utc(2026, 3, 29, 1, 30)  # 02:30 read as +01:00, i.e. 03:30 CEST
    assert now.closes_at == utc(2026, 3, 29, 3, 0)  # 05:00 CEST


def test_the_same_local_hours_across_a_dst_change_keep_local_time():
    s = schedule("America/New_York", mon=["09:00-17:00"])
    before = opening(s, utc(2026, 3, 2, 15, 0))  # EST: 09:00 = 14:00 UTC
    after = opening(s, utc(2026, 3, 9, 15, 0))  # EDT since 2026-03-08: 09:00 = 13:00 UTC
    assert before.open and before.closes_at == utc(2026, 3, 2, 22, 0)
    assert after.open and after.closes_at == utc(2026, 3, 9, 21, 0)


def test_no_hours_never_opens():
    now = opening(schedule(), utc(2026, 11, 24, 10, 0))
    assert not now.open and now.opens_at is None and now.closes_at is None


def test_always_open_has_no_closing_within_the_horizon_only_at_its_end():
    s = schedule(**{d: ["00:00-24:00"] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")})
    now = opening(s, utc(2026, 11, 24, 10, 0))
    assert now.open and now.closes_at > utc(2027, 11, 1)


def test_document_round_trip():
    s = schedule(holidays=["2026-12-24"], closing="finish", mon=["08:00-12:00", "13:00-17:30"], fri=["22:00-02:00"])
    assert s.closing is Closing.FINISH and s.holidays == frozenset({date(2026, 12, 24)})
    assert documents.schedule_from_document(documents.schedule_to_document(s)) == s


@pytest.mark.parametrize(
    ("schedule_doc", "field"),
    [
        ({"timeZone": "Mars/Olympus", "hours": {}}, "schedule.timeZone"),
        ({"timeZone": "../../etc/passwd", "hours": {}}, "schedule.timeZone"),
        ({"hours": {}}, "schedule.timeZone"),
        ({"timeZone": "UTC", "hours": {"mon": ["8-17"]}}, "schedule.hours.mon[0]"),
        ({"timeZone": "UTC", "hours": {"mon": ["08:00-25:00"]}}, "schedule.hours.mon[0]"),
        ({"timeZone": "UTC", "hours": {"mon": ["08:00-08:00"]}}, "schedule.hours.mon[0]"),
        ({"timeZone": "UTC", "hours": {"mon": ["08:00-12:00", "11:00-13:00"]}}, "schedule.hours.mon[1]"),
        ({"timeZone": "UTC", "hours": {"mon": ["22:00-02:00"], "tue": ["01:00-03:00"]}}, "schedule.hours.tue[0]"),
        ({"timeZone": "UTC", "hours": {"sun": ["22:00-02:00"], "mon": ["01:00-03:00"]}}, "schedule.hours.mon[0]"),
        ({"timeZone": "UTC", "hours": {"monday": ["08:00-12:00"]}}, "schedule.hours.monday"),
        ({"timeZone": "UTC", "holidays": ["24.12.2026"]}, "schedule.holidays[0]"),
        ({"timeZone": "UTC", "closing": "later"}, "schedule.closing"),
        ({"timeZone": "UTC", "warnBeforeMinutes": -1}, "schedule.warnBeforeMinutes"),
    ],
)
def test_bad_schedules_name_the_field(schedule_doc, field):
    with pytest.raises(documents.PolicyError) as caught:
        documents.policy_from_document({"name": "alpha", "rates": {"Standard": 1}, "schedule": schedule_doc})
    assert caught.value.field == field


def test_southern_hemisphere_dst_ends_in_april():
    # Australia/Sydney leaves daylight time on Sunday 2026-04-05 (03:00 AEDT -> 02:00 AEST)
    s = schedule("Australia/Sydney", sat=["22:00-06:00"])
    now = opening(s, utc(2026, 4, 4, 11, 0))  # Saturday 22:00 AEDT (+11)
    assert now.open and now.closes_at == utc(2026, 4, 4, 20, 0)  # Sunday 06:00 AEST (+10): 9 hours


def test_half_hour_offsets():
    s = schedule("Asia/Kolkata", mon=["09:00-17:30"])  # +05:30, no DST
    now = opening(s, utc(2026, 11, 30, 3, 29))
    assert not now.open and now.opens_at == utc(2026, 11, 30, 3, 30)
    assert now.closes_at == utc(2026, 11, 30, 12, 0)
