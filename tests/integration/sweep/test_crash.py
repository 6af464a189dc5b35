"""Kill the sweep CLI at random points; re-runs still charge exactly ARR's minutes, extend once."""

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta

from governor.core.model import LedgerState, Period, cost_of, utcnow
from governor.service.sweep.run import LOCK_NAME
from governor.store.audit import LOCK_PARTITION
from governor.store.entities import etag_of
from tests.integration.sweep.conftest import RATE

KILLS = 20
SWEEP = [sys.executable, "-m", "governor", "sweep", "--json", "--lock-ttl", "0.01"]


def lock_etag(store) -> str | None:
    """The sweep lock row's ETag: a run has taken the lock (is at work) once it changes. Read
    through the store's private point read: the lock has no public reader, only try/release."""
    row = store._point(store.tables.health, LOCK_PARTITION, LOCK_NAME)
    return etag_of(row) if row is not None else None


def run_cli(env):
    process = subprocess.Popen(SWEEP, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out, err = process.communicate(timeout=60)
    assert process.returncode in (0, 1), err[-2000:]
    return out


def run_at_work(env, store, kill_after: float | None = None) -> tuple[int, float]:
    """One run, SIGKILLed `kill_after` seconds after it took the lock (start-up is not counted: it
    varies with the box's load, and a kill there tests nothing). Returns its exit code (-SIGKILL
    if it died mid-way) and how long it worked after taking the lock."""
    before = lock_etag(store)
    process = subprocess.Popen(SWEEP, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while process.poll() is None and lock_etag(store) == before and time.monotonic() < deadline:
        time.sleep(0.005)
    locked = time.monotonic()
    try:
        process.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode in (0, 1, -signal.SIGKILL), err[-2000:]
    return process.returncode, time.monotonic() - locked


def months_money(stack, project: str, months: set[str]) -> tuple[int, int, int]:
    """A project's spent, reserved and saved over `months`: the CLI meters on the real clock and the
    stack reserves on the emulator's (01:00 UTC of the next day), which are in two months when the
    test runs late on the last day of one. The project is this test's own: all of it is this test's money."""
    usages = [stack.store.usage(project, Period.MONTH, month) for month in months]
    return sum(u.spent for u in usages), sum(u.reserved for u in usages), sum(u.saved for u in usages)


def test_killed_sweeps_never_double_charge_lose_minutes_or_double_extend(stack):
    months = {Period.MONTH.key(utcnow()), Period.MONTH.key(stack.now)}
    rng = random.Random(int(os.environ.get("SWEEP_CRASH_SEED", "6")))
    env = {**os.environ, **stack.env, "GOVERNOR_SWEEP_CONCURRENCY": "8"}
    projects = [stack.project("alpha"), stack.project("beta")]
    beating, idle = [], []
    for index in range(8):
        policy = projects[index % 2]
        sid = stack.admit(policy, 30)
        (idle if index % 4 == 3 else beating).append((policy.name, sid))
    stack.advance(5 + 19 * 60)
    for project, sid in beating:
        stack.store.heartbeat(project, sid, utcnow())
    # Kill runs at random points of their work, timed against the last run that finished (how long
    # a run works on this machine now), until KILLS of them have died mid-way.
    _, at_work = run_at_work(env, stack.store)  # nothing to act on yet
    codes = []
    while codes.count(-signal.SIGKILL) < KILLS:
        assert len(codes) < 3 * KILLS, codes  # the kills keep missing: the runs are not being tested
        stack.advance(rng.randint(10, 30))
        for project, sid in beating:
            stack.store.heartbeat(project, sid, utcnow())  # the CLI decides with the real clock
        code, worked = run_at_work(env, stack.store, kill_after=rng.uniform(0.0, 0.8) * at_work)
        codes.append(code)
        if code != -signal.SIGKILL:
            at_work = worked
    for _ in range(2):
        stack.advance(60)
        for project, sid in beating:
            stack.store.heartbeat(project, sid, utcnow())
        run_cli(env)

    for project, sid in beating + idle:
        if stack.store.get_entry(project, sid).state is not LedgerState.CLOSED:
            stack.arr["default"].stop(sid)
    run_cli(env)

    truth = stack.truth()
    months |= {Period.MONTH.key(utcnow()), Period.MONTH.key(stack.now)}
    for policy in projects:
        expected = 0
        for project, sid in beating + idle:
            if project != policy.name:
                continue
            entry = stack.store.get_entry(project, sid)
            billed = int(truth[sid]["billedSeconds"] // 60)
            assert entry.state is LedgerState.CLOSED and entry.charged_minutes == billed, (sid, entry, truth[sid])
            # the ledger's lease is ARR's, and no lease ever ran past elapsed + one step
            assert entry.lease.total_seconds() // 60 == truth[sid]["maxLeaseMinutes"]
            assert truth[sid]["maxLeaseMinutes"] <= max(billed + 30, 30)
            expected += cost_of(RATE, billed)
        spent, reserved, _ = months_money(stack, policy.name, months)
        assert (spent, reserved) == (expected, 0)
    # an action whose run died before recording its outcome was completed by a later run
    assert stack.store.unfinished_audit(stack.now - timedelta(days=1)) == []
    assert any(truth[sid]["maxLeaseMinutes"] > 30 for _, sid in beating)  # extensions did happen
    assert all(truth[sid]["status"] == "Stopped" for _, sid in idle)
    # a governor stop saved the lease it cut short, whichever run died on the way; nothing else saved
    stopped = {r.session_id for r in stack.audit() if (r.action, r.outcome) == ("stop", "ok")}
    assert {sid for _, sid in idle} <= stopped  # the idle ones were the governor's stops
    saved = dict.fromkeys((policy.name for policy in projects), 0)
    for project, sid in beating + idle:
        entry = stack.store.get_entry(project, sid)
        billed = int(truth[sid]["billedSeconds"] // 60)
        cut_short = cost_of(RATE, truth[sid]["maxLeaseMinutes"]) - cost_of(RATE, billed)
        assert entry.saved_lease == (cut_short if sid in stopped else 0), (sid, entry, truth[sid])
        saved[project] += entry.saved_lease + entry.saved_extension
    assert {name: months_money(stack, name, months)[2] for name in saved} == saved
