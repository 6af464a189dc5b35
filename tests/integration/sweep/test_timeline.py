"""Hours of virtual time against the emulator and Azurite: every stop and extension, and the money."""

from dataclasses import replace
from datetime import timedelta

from governor.core.model import LedgerState, Period, cost_of
from tests.integration.sweep.conftest import RATE


def day_keys(start, end):
    keys, at = set(), start
    while at <= end + timedelta(days=1):
        keys.add(Period.DAY.key(at))
        at += timedelta(days=1)
    return keys


def spent(stack, project, start):
    return sum(stack.store.usage(project, Period.DAY, key).spent for key in day_keys(start, stack.now))


def decisions(stack, sid, action=None):
    rows = [r for r in stack.audit() if r.session_id == sid and r.source == "sweep"]
    rows.sort(key=lambda r: r.at)
    return [r for r in rows if action is None or r.action == action]


def test_two_hours_across_projects(stack):
    start = stack.now
    alpha = stack.project("alpha")  # hard cap 2 h, step 30 min, threshold 10 min, idle 15 min
    beta = stack.project("beta", daily_budget=cost_of(RATE, 40))  # 40 minutes of money
    gamma = stack.project("gamma")
    active = stack.admit(alpha, 30)
    idle = stack.admit(alpha, 60)
    poor = stack.admit(beta, 30)
    doomed = stack.admit(gamma, 60)
    beating = {("alpha", active), ("beta", poor), ("gamma", doomed)}
    stack.advance(5)  # Starting -> Ready

    for step in range(1, 66):  # a sweep every 2 minutes for 130 minutes; metering checkpoints every 5
        stack.advance(120)
        for project, sid in beating:
            stack.heartbeat(project, sid)  # a closed entry ignores it
        if step == 10:
            stack.store.put_project(replace(gamma, enabled=False))
        report = stack.sweep(checkpoint_minutes=5)
        assert report["failed"] == 0 and not report["errors"], report

    truth = stack.truth()
    # the active session was extended to elapsed + 30 each time, never past the 2 h cap, then expired
    extensions = decisions(stack, active, "extend")
    leases = [r.figures["new_lease_minutes"] for r in extensions]
    elapsed = [r.figures["elapsed_minutes"] for r in extensions]
    assert leases == [min(e + 30, 120) for e in elapsed] == [52, 74, 96, 118, 120]
    assert all(r.figures["remaining_lease_minutes"] < 10 for r in extensions)
    assert truth[active]["maxLeaseMinutes"] == 120 and truth[active]["status"] == "Expired"
    assert stack.store.get_entry("alpha", active).extensions == 5
    refused = decisions(stack, active, "warn")
    assert [r.reason for r in refused] == ["hard-cap-soon", "extension-refused-cap"]

    # no heartbeat: stopped for idleness once Ready longer than 15 minutes
    (stop,) = decisions(stack, idle, "stop")
    assert stop.reason == "idle" and stop.figures["elapsed_minutes"] == 16
    assert truth[idle]["status"] == "Stopped"

    # beta's budget cannot cover a step: refused once, the session runs out its lease
    (warn,) = decisions(stack, poor, "warn")
    assert warn.reason == "extension-refused-budget"
    assert truth[poor]["maxLeaseMinutes"] == 30 and truth[poor]["status"] == "Expired"

    (stop,) = decisions(stack, doomed, "stop")
    assert stop.reason == "project-disabled"
    assert truth[doomed]["status"] == "Stopped"

    # every session settled, and the money equals ARR's ground truth to the micro
    for project, sids in (("alpha", [active, idle]), ("beta", [poor]), ("gamma", [doomed])):
        expected = 0
        for sid in sids:
            entry = stack.store.get_entry(project, sid)
            minutes = int(truth[sid]["billedSeconds"] // 60)
            assert entry.state is LedgerState.CLOSED and entry.charged_minutes == minutes, (sid, entry)
            expected += cost_of(RATE, minutes)
        assert spent(stack, project, start) == expected
    assert stack.sweeps[-1]["counts"] == {}
    assert stack.store.last_sweep()["startedAt"] == stack.sweeps[-1]["startedAt"]
