"""A sweep that runs after UTC midnight with minutes still unmetered charges each minute to its day.

Through the real sweep: the emulator's virtual clock is moved to a few minutes before midnight,
a session is admitted and metered, and the next sweep comes only after midnight. The figures are
written out by hand (rates that are not multiples of 60 micros an hour, so every cost is rounded
up) rather than computed with `cost_of`.

Timing: the session is admitted at 23:39:25 and is Ready 5 s later (the emulator's startup), at
23:39:30, so ARR's elapsed minutes tick at :30 and every sweep (at :00) sits 30 s from a tick:
ARR reports whole minutes, and this way which side of midnight each one falls on is unambiguous.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from governor.core.model import LedgerEntry, LedgerState, Period, VmSize

SID = "midnight-s1"


def move_to(stack, target: datetime) -> None:
    """Advance the emulator's virtual clock (and the stack's) to `target`."""
    seconds = (target - stack.now).total_seconds()
    assert seconds >= 0, f"the emulator is already past {target}"
    stack.advance(seconds)


def next_midnight(stack, month_end: bool) -> datetime:
    """The next UTC midnight at least an hour ahead: one that starts a new month, or one that does not."""
    day = (stack.now + timedelta(hours=1)).date() + timedelta(days=1)
    while (day.day == 1) != month_end:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def admit(stack, policy, lease_minutes: int, reservation: int, caller: str | None = None) -> None:
    """What the gate does (reserve, create under the same id, activate), with the reservation
    given as a hand-computed figure."""
    rate = policy.rate(VmSize.STANDARD)
    lease = timedelta(minutes=lease_minutes)
    pending = LedgerEntry(
        policy.name, SID, "default", VmSize.STANDARD, LedgerState.PENDING, stack.now, lease, rate=rate, caller=caller
    )
    stack.store.reserve(policy.name, pending, lambda snap: reservation, stack.now)
    session = stack.arr["default"].create(VmSize.STANDARD, lease, session_id=SID)
    stack.store.activate(policy.name, SID, session)


def spent(stack, project: str, period: Period, at: datetime) -> int:
    return stack.store.usage(project, period, period.key(at)).spent


def caller_spent(stack, project: str, period: Period, at: datetime) -> dict[str, int]:
    return stack.store.caller_spent(project, period, period.key(at))


def project(stack, rate: int):
    # An idle timeout longer than the test, so the only thing a sweep does is meter.
    return stack.project("night", rates={VmSize.STANDARD: rate}, idle_timeout=timedelta(hours=2))


def admitted_before_midnight(stack, rate: int, month_end: bool = False, caller: str | None = None):
    """Project `night` at `rate` an hour, and a session of it admitted at 23:39:25 (Ready at
    23:39:30) before the next midnight at least an hour ahead (one that starts a month, with
    `month_end`), its 60-minute lease reserved: the hourly rate exactly. Returns the midnight and a
    minute before and after it."""
    midnight = next_midnight(stack, month_end)
    move_to(stack, midnight - timedelta(minutes=20, seconds=35))
    admit(stack, project(stack, rate), 60, reservation=rate, caller=caller)
    return midnight, midnight - timedelta(minutes=1), midnight + timedelta(minutes=1)


def answers_late(stack, monkeypatch, call: str, seconds: float = 90, meanwhile=None) -> None:
    """ARR answers the client's `call` `seconds` later on its clock (429s and retries); `meanwhile`
    happens in ARR before it answers."""
    client = stack.arr["default"]
    real = getattr(client, call)

    def late(*args, **kwargs):
        stack.advance(seconds)
        if meanwhile is not None:
            meanwhile()
        return real(*args, **kwargs)

    monkeypatch.setattr(client, call, late)


def test_a_sweep_after_midnight_charges_the_minutes_before_it_to_the_old_day(stack):
    midnight, before, after = admitted_before_midnight(stack, 1_000_001)

    move_to(stack, midnight - timedelta(minutes=10))  # 23:50:00, ARR's elapsed 10:30
    stack.sweep()
    # 10 min: 1_000_001 * 10 / 60 = 166_666.83 -> 166_667
    assert stack.store.get_entry("night", SID).charged == 166_667
    assert spent(stack, "night", Period.DAY, before) == 166_667

    move_to(stack, midnight + timedelta(minutes=10))  # 00:10:00, ARR's elapsed 30:30; no sweep since 23:50
    assert stack.sweep()["metered"] == 1  # one session, counted once for both days
    entry = stack.store.get_entry("night", SID)
    # 30 min: 1_000_001 * 30 / 60 = 500_000.5 -> 500_001 in all
    assert (entry.charged_minutes, entry.charged) == (30, 500_001)
    # By midnight ARR counted 20 min (20:30): 1_000_001 * 20 / 60 = 333_333.67 -> 333_334 on the old day,
    # the 10 minutes after it 500_001 - 333_334 = 166_667 on the new one.
    assert spent(stack, "night", Period.DAY, before) == 333_334
    assert spent(stack, "night", Period.DAY, after) == 166_667
    assert spent(stack, "night", Period.MONTH, after) == 500_001  # one month: both days
    # Metering moves money from the hold to spent: 1_000_001 - 500_001 = 500_000 still held.
    assert entry.reserved == 500_000
    assert stack.store.usage("night", Period.DAY, Period.DAY.key(after)).reserved == 500_000


def test_minutes_arr_counted_after_midnight_while_its_list_was_on_its_way_go_to_the_new_day(stack, monkeypatch):
    midnight, before, after = admitted_before_midnight(stack, 1_000_001)
    move_to(stack, midnight - timedelta(minutes=10))  # 23:50:00, ARR's elapsed 10:30
    stack.sweep()

    move_to(stack, midnight - timedelta(seconds=15))  # the sweep starts at 23:59:45, ARR's elapsed 20:15
    answers_late(stack, monkeypatch, "list")  # at 00:01:15
    assert stack.sweep()["metered"] == 1
    assert stack.store.get_entry("night", SID).charged_minutes == 21  # ARR's elapsed 21:45
    # 20 of them by midnight (20:30): 333_334 on the old day; 21 in all: 1_000_001 * 21 / 60 =
    # 350_000.35 -> 350_001, so 16_667 for the minute ARR counted after midnight
    assert spent(stack, "night", Period.DAY, before) == 333_334
    assert spent(stack, "night", Period.DAY, after) == 16_667


def test_a_sweep_after_the_last_midnight_of_a_month_splits_the_months_too(stack):
    midnight, before, after = admitted_before_midnight(stack, 7_777_777, month_end=True, caller="kiosk")
    assert Period.MONTH.key(before) != Period.MONTH.key(after)

    move_to(stack, midnight - timedelta(minutes=10))
    stack.sweep()
    move_to(stack, midnight + timedelta(minutes=10))
    stack.sweep()

    # 20 min by midnight: 7_777_777 * 20 / 60 = 2_592_592.33 -> 2_592_593
    # 30 min in all:      7_777_777 * 30 / 60 = 3_888_888.5  -> 3_888_889; after midnight 1_296_296
    assert stack.store.get_entry("night", SID).charged == 3_888_889
    assert spent(stack, "night", Period.DAY, before) == 2_592_593
    assert spent(stack, "night", Period.MONTH, before) == 2_592_593
    assert spent(stack, "night", Period.DAY, after) == 1_296_296
    assert spent(stack, "night", Period.MONTH, after) == 1_296_296
    # The named caller's share follows the same split.
    assert caller_spent(stack, "night", Period.MONTH, before) == {"kiosk": 2_592_593}
    assert caller_spent(stack, "night", Period.DAY, after) == {"kiosk": 1_296_296}


def test_the_minute_that_ends_just_before_midnight_stays_on_the_old_day_at_the_default_cadence(stack):
    # Sweeps every minute with the default 5-minute checkpoint: after midnight a session is metered
    # only once 5 minutes are uncharged, by which time minute 20 (23:59:30) is 4 minutes old.
    midnight, before, after = admitted_before_midnight(stack, 59)

    for minute in range(-5, 5):  # a sweep a minute, 23:55 .. 00:04
        move_to(stack, midnight + timedelta(minutes=minute))
        stack.sweep(checkpoint_minutes=5)

    entry = stack.store.get_entry("night", SID)
    # Metered last at 00:04 (ARR's 24:30), 5 minutes after the checkpoint of 23:59 (19:30):
    # 24 min: 59 * 24 / 60 = 23.6 -> 24
    assert (entry.charged_minutes, entry.charged) == (24, 24)
    # 20 min by midnight: 59 * 20 / 60 = 19.67 -> 20 on the old day; 24 - 20 = 4 on the new one
    assert spent(stack, "night", Period.DAY, before) == 20
    assert spent(stack, "night", Period.DAY, after) == 4


def test_a_sweep_in_the_first_minute_of_a_day_charges_every_minute_to_the_day_before(stack):
    midnight, before, after = admitted_before_midnight(stack, 61)
    move_to(stack, midnight - timedelta(minutes=10))
    stack.sweep()  # 10 min: 610 / 60 = 10.17 -> 11

    move_to(stack, midnight + timedelta(seconds=10))  # ARR's elapsed 20:40, none of it in the new day
    assert stack.sweep()["metered"] == 1
    # 20 min: 1220 / 60 = 20.33 -> 21, all on the old day
    assert spent(stack, "night", Period.DAY, before) == 21
    assert spent(stack, "night", Period.DAY, after) == 0
    assert stack.store.get_entry("night", SID).charged == 21


def test_an_arr_clock_ahead_of_the_governors_puts_no_minute_before_the_sessions_request(stack):
    """The emulator's virtual clock moved by hand, as the gate's tests and a developer do, runs
    ahead of the governor's real one: ARR counts 37 minutes while the governor's clock, just past
    midnight, has moved seconds. Those minutes cannot be the old day's: the session did not exist."""
    midnight = next_midnight(stack, month_end=False)
    move_to(stack, midnight + timedelta(seconds=5))
    policy = project(stack, 1_000_001)
    admit(stack, policy, 60, reservation=1_000_001)  # requested at 00:00:05
    stack.emulator.advance(5 + 37 * 60)  # ARR only: Ready, then 37 minutes
    stack.now = midnight + timedelta(seconds=40)
    assert stack.sweep()["metered"] == 1
    # 37 min: 1_000_001 * 37 / 60 = 616_667.28 -> 616_668, all on the day it was requested in
    assert stack.store.get_entry("night", SID).charged == 616_668
    assert spent(stack, "night", Period.DAY, midnight - timedelta(minutes=1)) == 0
    assert spent(stack, "night", Period.DAY, midnight + timedelta(minutes=1)) == 616_668

    stack.emulator.advance(3 * 60)
    stack.now = midnight + timedelta(seconds=50)
    stack.store.put_project(replace(stack.store.get_project("night"), enabled=False))
    stack.sweep(checkpoint_minutes=60)  # the stop's close: 40 min, still none on the old day
    entry = stack.store.get_entry("night", SID)
    assert (entry.state, entry.charged_minutes) == (LedgerState.CLOSED, 40)
    assert spent(stack, "night", Period.DAY, midnight - timedelta(minutes=1)) == 0
    assert spent(stack, "night", Period.DAY, midnight + timedelta(minutes=1)) == entry.charged


def test_an_adopted_session_whose_start_arr_does_not_give_splits_by_arrs_minutes_alone(stack):
    """A v1 listing has no creation time, so an adopted row's `requested_at` is when the sweep
    adopted it: no bound on the minutes before midnight (a claim's adoption is the same)."""
    midnight = next_midnight(stack, month_end=False)
    move_to(stack, midnight - timedelta(hours=2, seconds=5))  # made at 21:59:55, Ready at 22:00:00
    project(stack, 1_000_001)
    stack.arr["default"].create(VmSize.STANDARD, timedelta(hours=3), session_id=SID)
    move_to(stack, midnight - timedelta(minutes=2))
    listed = replace(stack.arr["default"].get(SID), created=None)  # what a v1 listing gives
    stack.store.adopt("night", listed, stack.now)  # at 23:58
    move_to(stack, midnight + timedelta(seconds=30))  # ARR's elapsed 2:00:30
    stack.sweep()
    # 120 minutes, all counted before midnight: 1_000_001 * 120 / 60 = 2_000_002 on the old day
    assert stack.store.get_entry("night", SID).charged_minutes == 120
    assert spent(stack, "night", Period.DAY, midnight - timedelta(minutes=1)) == 2_000_002
    assert spent(stack, "night", Period.DAY, midnight + timedelta(minutes=1)) == 0


# ARR's clock at another rate than the governor's: `make run` and the demo run the emulator at x60
# (GOVERNOR_ARR_TIME_SCALE), so a minute after midnight on the governor's clock ARR has counted an
# hour. Here the governor's clock (`stack.now`) is set apart from the emulator's and moves 1/SCALE of
# what ARR's does: what matters is ARR's elapsed time and the governor's time of day. Each reading
# of ARR's elapsed time sits 30 ARR seconds from a tick (half a governor second), and the sweeps
# run at that scale, as the local stack's do.
SCALE = 60  # ARR seconds per governor second


def run_arr(stack, arr_seconds: float) -> None:
    """ARR's clock moves `arr_seconds`; the governor's only 1/SCALE of that."""
    stack.emulator.advance(arr_seconds)
    stack.now += timedelta(seconds=arr_seconds / SCALE)


def admit_ready_at(stack, policy, ready_at: datetime) -> None:
    """Admitted (60 min) so that the session is Ready, and ARR's minutes start, at `ready_at` on the
    governor's clock."""
    stack.now = ready_at - timedelta(seconds=5 / SCALE)
    admit(stack, policy, 60, reservation=policy.rate(VmSize.STANDARD))  # 60 min: the hourly rate exactly
    run_arr(stack, 5)  # the emulator's startup


def arr_minutes(stack) -> int:
    return stack.truth()[SID]["elapsedMinutes"]


def test_a_time_scaled_arr_clock_charges_the_minutes_after_midnight_to_the_new_day(stack):
    midnight = next_midnight(stack, month_end=False)
    before, after = midnight - timedelta(minutes=1), midnight + timedelta(minutes=1)
    policy = project(stack, rate=1_000_001)
    # Ready at 23:59:49.75: by midnight ARR has counted 10.25 s x 60 = 10:15, 10 whole minutes.
    admit_ready_at(stack, policy, midnight - timedelta(seconds=10.25))

    run_arr(stack, 5 * 60 + 30)  # 23:59:55.25, ARR's elapsed 5:30
    stack.sweep(arr_time_scale=SCALE)
    assert spent(stack, "night", Period.DAY, before) == 83_334  # 5 min: 1_000_001 * 5 / 60 = 83_333.42

    run_arr(stack, 15 * 60)  # 00:00:10.25, ARR's elapsed 20:30, of which 10.25 s x 60 = 10:15 since midnight
    assert arr_minutes(stack) == 20
    assert stack.sweep(arr_time_scale=SCALE)["metered"] == 1
    # 20 min in all: 1_000_001 * 20 / 60 = 333_333.67 -> 333_334. By midnight ARR counted 10 of them:
    # 1_000_001 * 10 / 60 = 166_666.83 -> 166_667 on the old day, 333_334 - 166_667 = 166_667 on the new.
    assert stack.store.get_entry("night", SID).charged == 333_334
    assert spent(stack, "night", Period.DAY, before) == 166_667
    assert spent(stack, "night", Period.DAY, after) == 166_667


def test_a_time_scaled_arr_clock_charges_a_session_of_the_new_month_to_it(stack):
    midnight = next_midnight(stack, month_end=True)
    before, after = midnight - timedelta(minutes=1), midnight + timedelta(minutes=1)
    policy = project(stack, rate=7_777_777)
    admit_ready_at(stack, policy, midnight + timedelta(seconds=1))  # Ready at 00:00:01: none of it before

    run_arr(stack, 29 * 60 + 30)  # 00:00:30.5, ARR's elapsed 29:30
    assert arr_minutes(stack) == 29
    assert stack.sweep(arr_time_scale=SCALE)["metered"] == 1
    # 29 min: 7_777_777 * 29 / 60 = 3_759_258.9 -> 3_759_259, all in the new day and month
    assert stack.store.get_entry("night", SID).charged == 3_759_259
    assert spent(stack, "night", Period.DAY, after) == 3_759_259
    assert spent(stack, "night", Period.MONTH, after) == 3_759_259
    assert spent(stack, "night", Period.MONTH, before) == 0


# A stop's final charge: the session ended at about the stop, so the minutes ARR counted before
# midnight and not metered yet are the old day's too, whoever stops it.


def test_a_gate_stop_after_midnight_charges_the_minutes_before_it_to_the_old_day(stack):
    from governor.service.gate import Caller, GateService

    midnight, before, after = admitted_before_midnight(stack, 1_000_001)
    caller = Caller(key=stack.store.rotate_key("night", scope="project"))
    move_to(stack, midnight - timedelta(minutes=10))  # 23:50:00, ARR's elapsed 10:30
    stack.sweep()  # 10 min: 166_667 on the old day

    move_to(stack, midnight + timedelta(minutes=5))  # 00:05:00, ARR's elapsed 25:30; no sweep since 23:50
    GateService(stack.store, stack.arr, stack.clock).stop("night", caller, SID)
    entry = stack.store.get_entry("night", SID)
    # 25 min: 1_000_001 * 25 / 60 = 416_667.08 -> 416_668 in all. By midnight ARR counted 20 (20:30):
    # 333_334 on the old day, 416_668 - 333_334 = 83_334 on the new one.
    assert (entry.state, entry.charged_minutes, entry.charged) == (LedgerState.CLOSED, 25, 416_668)
    assert spent(stack, "night", Period.DAY, before) == 333_334
    assert spent(stack, "night", Period.DAY, after) == 83_334
    assert stack.store.usage("night", Period.DAY, Period.DAY.key(after)).reserved == 0  # the rest released


def test_a_gate_stop_whose_final_count_comes_after_midnight_charges_that_minute_to_the_new_day(stack, monkeypatch):
    from governor.service.gate import Caller, GateService

    midnight, before, after = admitted_before_midnight(stack, 1_000_001)
    caller = Caller(key=stack.store.rotate_key("night", scope="project"))
    move_to(stack, midnight - timedelta(seconds=15))  # 23:59:45, ARR's elapsed 20:15
    stack.sweep()  # 20 min: 333_334 on the old day
    answers_late(stack, monkeypatch, "stop")  # at 00:01:15
    GateService(stack.store, stack.arr, stack.clock).stop("night", caller, SID)
    entry = stack.store.get_entry("night", SID)
    # ARR's final count 21 (21:45): 350_001 in all, the minute after midnight 16_667 on the new day
    assert (entry.state, entry.charged_minutes, entry.charged) == (LedgerState.CLOSED, 21, 350_001)
    assert spent(stack, "night", Period.DAY, before) == 333_334
    assert spent(stack, "night", Period.DAY, after) == 16_667


def test_a_session_gone_by_a_sweep_that_crossed_midnight_closes_at_its_count(stack, monkeypatch):
    midnight, before, after = admitted_before_midnight(stack, 1_000_001)
    move_to(stack, midnight - timedelta(seconds=15))  # 23:59:45, ARR's elapsed 20:15
    stack.sweep()  # 20 min: 333_334 on the old day
    # the list answers at 00:01:15; someone stopped the session just before
    answers_late(stack, monkeypatch, "list", meanwhile=lambda: stack.arr["default"].stop(SID))
    stack.sweep()  # starts at 23:59:45: the session is not listed, its GET says Stopped at 21:45
    entry = stack.store.get_entry("night", SID)
    assert (entry.state, entry.charged_minutes, entry.charged) == (LedgerState.CLOSED, 21, 350_001)
    assert spent(stack, "night", Period.DAY, before) == 333_334
    assert spent(stack, "night", Period.DAY, after) == 16_667


def test_a_sweep_stop_after_the_last_midnight_of_a_month_splits_its_final_charge(stack):
    midnight, before, after = admitted_before_midnight(stack, 7_777_777, month_end=True)

    move_to(stack, midnight + timedelta(minutes=2))  # 00:02:00, ARR's elapsed 22:30; never metered
    stack.store.put_project(replace(stack.store.get_project("night"), enabled=False))
    stack.sweep(checkpoint_minutes=60)  # no checkpoint is due: the stop's close charges everything
    assert stack.truth()[SID]["status"] in ("Stopped", "Stopping")
    # 22 min: 7_777_777 * 22 / 60 = 2_851_851.57 -> 2_851_852 in all; 20 by midnight: 2_592_593
    assert stack.store.get_entry("night", SID).charged == 2_851_852
    assert spent(stack, "night", Period.MONTH, before) == 2_592_593
    assert spent(stack, "night", Period.MONTH, after) == 2_851_852 - 2_592_593


def test_a_sweep_stop_whose_final_count_comes_after_midnight_charges_that_minute_to_the_new_day(stack, monkeypatch):
    midnight, before, after = admitted_before_midnight(stack, 1_000_001)
    move_to(stack, midnight - timedelta(minutes=10))  # 23:50:00, ARR's elapsed 10:30
    stack.sweep()

    move_to(stack, midnight - timedelta(seconds=15))  # 23:59:45, ARR's elapsed 20:15
    stack.sweep()  # 20 min: 333_334 on the old day
    stack.store.put_project(replace(stack.store.get_project("night"), enabled=False))
    answers_late(stack, monkeypatch, "stop")  # at 00:01:15
    stack.sweep()  # starts at 23:59:45: stops the session of a disabled project
    entry = stack.store.get_entry("night", SID)
    # ARR's final count 21 (21:45): 350_001 in all, the minute after midnight 16_667 on the new day
    assert (entry.state, entry.charged_minutes, entry.charged) == (LedgerState.CLOSED, 21, 350_001)
    assert spent(stack, "night", Period.DAY, before) == 333_334
    assert spent(stack, "night", Period.DAY, after) == 16_667
    # the stop's saving (the 39 minutes of the lease left) is the close's day's, as its charge is
    saved = [stack.store.usage("night", Period.DAY, Period.DAY.key(day)).saved for day in (before, after)]
    assert saved == [0, 1_000_001 - 350_001]
