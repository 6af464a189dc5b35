"""An extension whose PATCH failed ambiguously (a timeout, 5xx) keeps its reservation: ARR may apply
the lease after the gate gave up, and a lease nobody pays for must never run. The caller gets a 503,
the gate's audit row stays "unknown", and the sweep settles it whichever way ARR went.

Found in review: the gate read ARR's old lease right after a timed-out PATCH, took that for a refusal
and gave the money back; ARR applied the lease seconds later, and the sweep re-reserved it as
`lease-raised-outside`, past the budget, after the refund had been free to admit other sessions.
"""

from __future__ import annotations

import time

import pytest

from governor.bootstrap import get_context, reset_context
from governor.core.model import MICROS, PENDING_GRACE, Period, utcnow
from governor.service.sweep import SweepConfig, Sweeper
from tests.integration.gate.test_faults import ONLY_SESSION_PATH

LATE_MS = 4000  # longer than the client's timeout (1 s): ARR applies the lease after the gate gave up


def held(gate) -> int:
    return gate.store.usage("alpha", Period.DAY, Period.DAY.key(utcnow())).reserved


def gate_extend_rows(gate) -> list:
    return [r for r in gate.store.recent_audit(limit=100) if r.source == "gate" and r.action == "extend"]


def sweep(later=False) -> dict:
    """A sweep now, or once the gate's row is past the grace in which a gate request may be at work."""
    context = get_context()
    clock = (lambda: utcnow() + PENDING_GRACE) if later else utcnow
    return Sweeper(context.store, context.arr, clock, SweepConfig.from_settings(context.settings, dry_run=False)).run()


def arr_lease(gate, sid: str) -> int:
    return {s["id"]: s for s in gate.emulator.truth()}[sid]["maxLeaseMinutes"]


@pytest.fixture
def running(gate, monkeypatch):
    """A Ready session with a 30 min lease (3.00 reserved at 6.00/h), the ARR client's timeout 1 s."""
    monkeypatch.setenv("ARR_HTTP_TIMEOUT_SECONDS", "1")
    reset_context()
    key = gate.project("alpha")
    sid = gate.create("alpha", key, {"size": "Standard", "maxLeaseTime": 30}).body["sessionId"]
    gate.settle()
    gate.emulator.advance(60)
    assert held(gate) == 3 * MICROS
    return key, sid


def extend_unconfirmed(gate, key: str, sid: str, faults: dict) -> None:
    """The caller's extension to 90 min while ARR's PATCH fails with `faults`: 503, money kept."""
    gate.emulator.set_faults(paths=ONLY_SESSION_PATH, methods=["PATCH"], retryAfter=0, **faults)
    reply = gate.extend("alpha", key, sid, {"maxLeaseTime": 90})
    assert (reply.status, reply.reason) == (503, "upstream-unavailable"), reply.body
    assert int(reply.headers["Retry-After"]) > 0
    entry = gate.store.get_entry("alpha", sid)
    assert (entry.lease.total_seconds(), entry.reserved, entry.extensions) == (90 * 60, 9 * MICROS, 1)
    assert held(gate) == 9 * MICROS  # the extension's 6.00 stays reserved
    (row,) = gate_extend_rows(gate)
    assert (row.outcome, row.figures) == ("unknown", {"leaseMinutes": 90})


def test_a_lease_arr_applies_after_the_gate_gave_up_stays_reserved_and_the_sweep_confirms_it(gate, running):
    key, sid = running
    extend_unconfirmed(gate, key, sid, {"sequence": [{"latencyMs": LATE_MS}] + [{"status": 503}] * 20})
    deadline = time.monotonic() + 10
    while arr_lease(gate, sid) != 90:  # the timed-out PATCH lands
        assert time.monotonic() < deadline, "ARR never applied the late PATCH"
        time.sleep(0.1)
    gate.emulator.clear_faults()

    report = sweep()
    assert report["outcome"] == "ok" and report["counts"] == {"leave": 1}, report  # no lease-raised-outside
    entry = gate.store.get_entry("alpha", sid)
    assert (entry.lease.total_seconds(), entry.reserved, entry.extensions) == (90 * 60, 9 * MICROS, 1)
    assert held(gate) == 9 * MICROS  # reserved once: what ARR bills
    assert [r.outcome for r in gate_extend_rows(gate)] == ["unknown"]  # too young to judge

    sweep(later=True)
    (row,) = gate_extend_rows(gate)
    assert (row.outcome, row.figures) == ("ok", {"leaseMinutes": 90, "completed": "next-sweep"})


def test_a_lease_arr_never_applied_stays_reserved_and_the_sweep_applies_it(gate, running):
    key, sid = running
    extend_unconfirmed(gate, key, sid, {"rate": 1, "statuses": [503]})
    assert arr_lease(gate, sid) == 30
    gate.emulator.clear_faults()

    report = sweep()
    assert report["counts"] == {"extend": 1}, report
    (applied,) = [r for r in gate.store.recent_audit(limit=100) if r.source == "sweep" and r.action == "extend"]
    assert (applied.reason, applied.outcome) == ("extension-pending", "ok")
    assert arr_lease(gate, sid) == 90
    entry = gate.store.get_entry("alpha", sid)
    assert (entry.lease.total_seconds(), entry.reserved, entry.extensions) == (90 * 60, 9 * MICROS, 1)
    assert held(gate) == 9 * MICROS  # re-applied without reserving again

    sweep(later=True)
    (row,) = gate_extend_rows(gate)
    assert (row.outcome, row.figures) == ("ok", {"leaseMinutes": 90, "completed": "next-sweep"})


def test_a_lease_arr_then_refuses_for_good_is_given_back_by_the_sweep(gate, running):
    key, sid = running
    extend_unconfirmed(gate, key, sid, {"rate": 1, "statuses": [503]})
    gate.emulator.set_faults(rate=1, statuses=[422], paths=ONLY_SESSION_PATH, methods=["PATCH"])

    report = sweep()
    assert report["counts"] == {"extend": 1} and report["failed"] == 1, report
    assert arr_lease(gate, sid) == 30
    entry = gate.store.get_entry("alpha", sid)
    assert (entry.lease.total_seconds(), entry.reserved, entry.extensions) == (30 * 60, 3 * MICROS, 0)
    assert held(gate) == 3 * MICROS  # ARR holds 30 min: only that is reserved

    gate.emulator.clear_faults()
    sweep(later=True)
    (row,) = gate_extend_rows(gate)
    assert (row.outcome, row.figures["error"]) == ("failed", "interrupted")
