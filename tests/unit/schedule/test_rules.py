"""Working hours in the gate's and the sweep's rules."""

from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import LedgerEntry, LedgerState, Period, ProjectPolicy, Session, SessionStatus, Usage, VmSize
from governor.core.policy import document as documents
from governor.core.policy.gate import SessionRequest, cap_at_closing, decide_extension, extension_outlook
from governor.core.policy.sweep import Action, SweepOptions, decide
from governor.service.ports import Refusal

M = timedelta(minutes=1)
# Tuesday 2026-11-24, Berlin is UTC+1: the window 08:00-18:00 is 07:00-17:00 UTC
CLOSES = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)


def policy(closing="stop", warn=None) -> ProjectPolicy:
    schedule = {"timeZone": "Europe/Berlin", "hours": {"tue": ["08:00-18:00"], "wed": ["08:00-18:00"]}}
    schedule["closing"] = closing
    if warn is not None:
        schedule["warnBeforeMinutes"] = warn
    doc = {"name": "alpha", "rates": {"Standard": 3}, "maxLeaseMinutes": 240, "schedule": schedule}
    return documents.policy_from_document(doc).policy


def test_a_lease_running_past_closing_is_capped_at_closing():
    request = SessionRequest(VmSize.STANDARD, timedelta(hours=2))
    capped, partial = cap_at_closing(policy(), request, CLOSES - 45 * M - timedelta(seconds=30))
    assert partial and capped.lease == 45 * M  # whole minutes, rounded down
    same, partial = cap_at_closing(policy(), request, CLOSES - timedelta(hours=3))
    assert not partial and same.lease == request.lease


def test_outside_hours_is_refused_with_the_next_opening_in_utc_and_local_time():
    with pytest.raises(Refusal) as caught:
        cap_at_closing(policy(), SessionRequest(VmSize.STANDARD, 30 * M), CLOSES + 5 * M)
    refusal = caught.value
    assert refusal.reason == "outside-hours"
    assert refusal.figures == {
        "opensAt": "2026-11-25T07:00:00Z",
        "opensAtLocal": "2026-11-25T08:00:00+01:00",
        "timeZone": "Europe/Berlin",
    }


def test_less_than_a_minute_before_closing_counts_as_closed():
    with pytest.raises(Refusal) as caught:
        cap_at_closing(policy(), SessionRequest(VmSize.STANDARD, 30 * M), CLOSES - timedelta(seconds=59))
    assert caught.value.reason == "outside-hours"


def entry(lease=60) -> LedgerEntry:
    return LedgerEntry(
        "alpha", "s1", "default", VmSize.STANDARD, LedgerState.ACTIVE, CLOSES - 2 * timedelta(hours=1), lease * M,
        rate=3_000_000, last_heartbeat=None,
    )  # fmt: skip


def test_an_extension_stops_at_closing_and_is_partial():
    now = CLOSES - 20 * M
    extension = decide_extension(policy(), entry(lease=60), 55 * M, {}, None, now)
    assert extension.lease == 75 * M and extension.partial  # elapsed 55 + 20 left, not 55 + 30
    with pytest.raises(Refusal) as caught:
        decide_extension(policy(), entry(lease=75), 55 * M, {}, None, now)
    assert caught.value.figures["limit"] == "closing"
    with pytest.raises(Refusal) as caught:
        decide_extension(policy(), entry(lease=75), 55 * M, {}, None, CLOSES + M)
    assert (caught.value.reason, caught.value.figures["limit"]) == ("extension-denied", "closed-hours")
    assert caught.value.figures["opensAt"] == "2026-11-25T07:00:00Z"


def test_the_heartbeat_outlook_tells_of_closing():
    outlook = extension_outlook(policy(), entry(lease=75), 70 * M, {}, CLOSES - 5 * M)
    assert outlook["wouldGrant"] is False and outlook["reason"] == "extension-denied"


def sweep(pol, now, elapsed=50, lease=60, heartbeat=True, window=M):
    session = Session("s1", "default", SessionStatus.READY, VmSize.STANDARD, elapsed * M, lease * M)
    e = LedgerEntry(
        "alpha", "s1", "default", VmSize.STANDARD, LedgerState.ACTIVE, now - elapsed * M, lease * M,
        rate=3_000_000, last_heartbeat=now - M if heartbeat else None, heartbeat_elapsed=None,
    )  # fmt: skip
    usage = {Period.DAY: Usage("alpha", Period.DAY, "2026-11-24", None)}
    return decide(session, e, pol, usage, now, SweepOptions(warn_before=10 * M, window=window))


def test_sweep_stops_at_closing_with_closing_stop():
    d = sweep(policy("stop"), CLOSES)
    assert (d.action, d.reason, d.event) == (Action.STOP, "closed-hours", "stop")
    assert d.figures["open"] is False and d.figures["closing"] == "stop"
    assert sweep(policy("stop"), CLOSES - M).action is not Action.STOP


def test_sweep_lets_a_session_finish_but_never_extends_it_past_closing():
    at_closing = sweep(policy("finish"), CLOSES, elapsed=55, lease=60)
    assert at_closing.action is not Action.STOP and at_closing.action is not Action.EXTEND
    assert at_closing.reason == "closed-hours"
    before = sweep(policy("finish"), CLOSES - 20 * M, elapsed=55, lease=60)
    assert (before.action, before.new_lease) == (Action.EXTEND, 75 * M)  # up to closing, not a full step
    assert sweep(policy("finish"), CLOSES - 5 * M, elapsed=55, lease=60).reason == "closed-hours"


@pytest.mark.parametrize(("warn", "minutes_before", "warned"), [(None, 10, True), (None, 11, False), (15, 15, True)])
def test_sweep_warns_once_before_closing(warn, minutes_before, warned):
    d = sweep(policy("stop", warn=warn), CLOSES - minutes_before * M, elapsed=5, lease=120)
    assert (d.action is Action.WARN and d.reason == "closing-soon") is warned
    if warned:  # the next sweep, a minute later, does not repeat it
        again = sweep(policy("stop", warn=warn), CLOSES - (minutes_before - 1) * M, elapsed=6, lease=120)
        assert again.action is Action.LEAVE


def test_closing_soon_is_news_once_on_the_governors_clock_even_between_frequent_sweeps():
    def at(seconds_before, gap):
        session = Session("s1", "default", SessionStatus.READY, VmSize.STANDARD, 5 * M, 120 * M)
        e = LedgerEntry(
            "alpha", "s1", "default", VmSize.STANDARD, LedgerState.ACTIVE, CLOSES - timedelta(hours=1), 120 * M,
            rate=3_000_000, last_heartbeat=CLOSES - timedelta(seconds=seconds_before),
        )  # fmt: skip
        now = CLOSES - timedelta(seconds=seconds_before)
        options = SweepOptions(warn_before=10 * M, window=M, clock_window=timedelta(seconds=gap))
        return decide(session, e, policy("stop"), {}, now, options).reason

    # sweeps 2 s apart (the demo's timer): only the one that crosses the 10-minute mark warns
    assert at(601, 2) == "ok"
    assert at(599, 2) == "closing-soon"
    assert at(597, 2) == "ok"
