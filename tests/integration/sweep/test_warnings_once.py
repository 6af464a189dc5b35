"""A warning comes once per crossing, even when a sweep in between could not see the session:
each sweep passes on the horizons it saw sessions inside, and keeps the previous sweep's for a
session it decided nothing about (its account's list failed), so the sweep after does not take
a session still inside its horizon for a new crossing."""

from datetime import timedelta


def test_a_failed_list_between_two_sweeps_repeats_no_warning(stack):
    policy = stack.project("alpha", hard_max_duration=timedelta(minutes=60), idle_timeout=timedelta(hours=2))
    sid = stack.admit(policy, 60)
    stack.advance(5 + 51 * 60)  # Ready, then 51 ARR minutes: 9 to the cap
    stack.sweep()
    stack.emulator.set_faults(rate=1.0, statuses=[503], retryAfter=0, methods=["GET"], paths=r"/sessions$")
    stack.advance(60)
    blind = stack.sweep()
    stack.emulator.clear_faults()
    assert blind["outcome"] == "errors" and blind["decisions"] == 0, blind  # the list failed: nothing decided
    stack.advance(60)
    stack.sweep()
    warned = [r.figures["elapsed_minutes"] for r in stack.audit("alpha") if r.reason == "hard-cap-soon"]
    assert warned == [51], warned
    assert stack.store.get_entry("alpha", sid) is not None
