"""The gate's acting decisions (the caller's stop, an extension's ARR lease update) write their
audit row, outcome "unknown", before ARR is asked, and complete that same row after."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from governor.arr import clients_from_settings
from governor.core.model import PENDING_GRACE, utcnow
from governor.service.sweep import SweepConfig, Sweeper
from governor.settings import load
from tests.integration.gate.test_faults import ONLY_SESSION_PATH

ROOT = Path(__file__).resolve().parents[3]

STOP_PATH = r"/:stop$"
SLOW_MS = 1500  # below the client's timeout (5 s): the call succeeds, late


def gate_rows(gate, action: str) -> list:
    return [r for r in gate.store.recent_audit(limit=100) if r.source == "gate" and r.action == action]


def in_flight(gate, call, action: str):
    """Run `call` in a thread; the gate's `action` rows seen while ARR is still answering, and the reply."""
    replies = []
    thread = threading.Thread(target=lambda: replies.append(call()))
    thread.start()
    deadline = time.monotonic() + SLOW_MS / 1000
    seen = []
    while not seen and time.monotonic() < deadline:
        seen = gate_rows(gate, action)
    thread.join(30)
    return seen, replies[0]


def wait_for(condition, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_callers_stop_is_audited_unknown_while_arr_stops_it_and_completed_after(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.set_faults(latencyMs=SLOW_MS, paths=STOP_PATH)
    seen, reply = in_flight(gate, lambda: gate.stop("alpha", key, sid), "stop")
    assert [(r.session_id, r.outcome) for r in seen] == [(sid, "unknown")]
    assert reply.status == 200, reply.body
    assert gate.open_sessions_in_arr() == []
    (done,) = gate_rows(gate, "stop")  # the same row, completed in place
    assert (done.key, done.outcome, done.reason) == (seen[0].key, "ok", "caller")
    assert done.figures["minutes"] == 0 and "charged" in done.figures


def test_an_extension_is_audited_unknown_while_arr_applies_the_lease_and_completed_after(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.advance(5 + 50 * 60)
    gate.emulator.set_faults(latencyMs=SLOW_MS, paths=ONLY_SESSION_PATH, methods=["PATCH"])
    seen, reply = in_flight(gate, lambda: gate.extend("alpha", key, sid), "extend")
    assert [(r.session_id, r.outcome, r.figures) for r in seen] == [(sid, "unknown", {"leaseMinutes": 80})]
    assert (reply.status, reply.body["leaseMinutes"]) == (200, 80), reply.body
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 80
    (done,) = gate_rows(gate, "extend")
    assert (done.key, done.outcome, done.figures) == (seen[0].key, "ok", {"leaseMinutes": 80})


def test_a_stop_arr_did_not_answer_leaves_its_row_unknown_for_the_sweep(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=STOP_PATH)
    assert gate.stop("alpha", key, sid).status == 503
    (row,) = gate_rows(gate, "stop")
    assert (row.session_id, row.outcome) == (sid, "unknown")  # ARR may or may not have stopped it


def test_a_gate_killed_after_arr_stopped_the_session_leaves_a_row_the_next_sweep_completes(gate, gate_env):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    gate.settle()
    # ARR stops the session, then its answer takes 4 s (under the client's timeout): the gate is killed meanwhile
    gate.emulator.set_faults(latencyMs=4000, paths=STOP_PATH, phase="after")
    stop = f"from tests.integration.gate.conftest import Gate; Gate(None, None).stop('alpha', {key!r}, {sid!r})"
    process = subprocess.Popen([sys.executable, "-c", stop], cwd=ROOT, env={**os.environ, **gate_env})
    try:
        wait_for(lambda: gate.open_sessions_in_arr() == [])
    finally:
        process.kill()
        process.wait(30)
    (row,) = gate_rows(gate, "stop")
    assert (row.session_id, row.outcome) == (sid, "unknown")
    gate.emulator.clear_faults()
    arr = clients_from_settings(load(gate_env))
    try:
        Sweeper(gate.store, arr, lambda: utcnow() + PENDING_GRACE, SweepConfig()).run()
    finally:
        for client in arr.values():
            client.close()
    (done,) = gate_rows(gate, "stop")
    assert (done.key, done.outcome, done.figures) == (row.key, "ok", {"completed": "next-sweep"})
    assert gate.store.list_entries("alpha") == []  # and the sweep closed the stopped session's row
