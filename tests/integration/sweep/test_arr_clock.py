"""Idleness on ARR's clock: under an emulator running 60 times faster (as `make run` does), a session whose
heartbeat went through the gate is idle once the timeout has passed in ARR time, although the
governor's own clock has moved only seconds."""

from datetime import timedelta

from governor.service.gate import Caller, GateService

SCALE = 60  # ARR seconds per governor second


def run_arr(stack, arr_seconds: float) -> None:
    """ARR's clock moves `arr_seconds`; the governor's only 1/SCALE of that."""
    stack.emulator.advance(arr_seconds)
    stack.now += timedelta(seconds=arr_seconds / SCALE)


def test_a_heartbeated_session_goes_idle_after_the_timeout_in_arr_time(stack):
    policy = stack.project("alpha", idle_timeout=timedelta(minutes=15))
    caller = Caller(key=stack.store.rotate_key("alpha", scope="project"))  # the rows are admitted keyless
    gate = GateService(stack.store, stack.arr, stack.clock)
    via_gate = stack.admit(policy, 60)
    unread = stack.admit(policy, 60)  # its heartbeat records no ARR reading (as when ARR was unreadable)
    run_arr(stack, 5 + 5 * 60)

    gate.heartbeat("alpha", caller, via_gate)
    stack.store.heartbeat("alpha", unread, stack.now)
    assert stack.store.get_entry("alpha", via_gate).heartbeat_elapsed == timedelta(minutes=5)
    assert stack.store.get_entry("alpha", unread).heartbeat_elapsed is None

    run_arr(stack, 14 * 60)
    stack.sweep()
    assert {s["status"] for s in stack.truth().values()} == {"Ready"}

    run_arr(stack, 2 * 60)  # 16 ARR minutes since the heartbeat, 16 governor seconds
    stack.sweep()
    truth = stack.truth()
    assert truth[via_gate]["status"] in ("Stopping", "Stopped")
    assert truth[unread]["status"] == "Ready"  # its heartbeat is 16 s old on the governor's clock
    (row,) = [r for r in stack.audit("alpha") if r.session_id == via_gate and r.action == "stop"]
    assert (row.reason, row.figures["idle_minutes"]) == ("idle", 16)

    gate.heartbeat("alpha", caller, unread)  # a heartbeat that reads ARR switches it to ARR's clock
    run_arr(stack, 16 * 60)
    stack.sweep()
    assert stack.truth()[unread]["status"] in ("Stopping", "Stopped")


def test_each_session_is_warned_of_its_cap_once_when_arrs_minutes_jitter(stack):
    """At x60 a sweep every 5 s is 5 ARR minutes by the sweeps' starts, but the list answers a little
    sooner or later each time: here ARR moves 6, then 4 minutes. Sessions started a minute apart
    cross the cap's 10-minute horizon at every phase of that; each is warned exactly once, before
    its cap (judged by the window alone, one of them was warned twice)."""
    policy = stack.project("alpha", hard_max_duration=timedelta(minutes=60), idle_timeout=timedelta(hours=2))
    sessions = []
    for _ in range(6):
        sessions.append(stack.admit(policy, 60))
        run_arr(stack, 60)
    for turn in range(16):
        stack.emulator.advance((6 if turn % 2 == 0 else 4) * 60)
        stack.now += timedelta(seconds=5)
        stack.sweep(arr_time_scale=SCALE, schedule="*/5 * * * * *")
    rows = [r for r in stack.audit("alpha") if r.action == "warn" and r.reason == "hard-cap-soon"]
    warned = {sid: [r.figures["elapsed_minutes"] for r in rows if r.session_id == sid] for sid in sessions}
    assert all(len(at) == 1 and 50 <= at[0] < 60 for at in warned.values()), warned
    assert {s["status"] for s in stack.truth().values()} <= {"Stopped", "Stopping", "Expired"}
