"""The sweep settles an attempt ARR ended for want of capacity when no client polls it: charged what
ARR billed, remembered for its region and size, and with autoRetry the next attempt is started, so
the id the client holds leads to a session that runs.
"""

from __future__ import annotations

from governor.bootstrap import get_context
from governor.core.model import VmSize
from governor.service.sweep import Sweeper
from tests.fixtures.regions import servers, sessions_by_account
from tests.integration.gate.conftest import Gate
from tests.integration.gate.test_placement import AUTO, failed_attempts, project


def sweep() -> dict:
    return Sweeper.from_context(get_context(), dry_run=False).run()


def test_the_sweep_starts_the_next_attempt_of_an_auto_retry_request_nobody_polls(regions_env, store, regions_emulator):
    gate = Gate(store, regions_emulator)
    servers(regions_emulator, default=0)
    key = project(gate, placement=["default", "japaneast"])
    first = gate.create("alpha", key, AUTO).body
    keyed = gate.create("alpha", key, {**AUTO, "maxLeaseTime": 30}, headers={"Idempotency-Key": "k1"}).body
    gate.settle()
    regions_emulator.advance(6)

    report = sweep()
    assert report["outcome"] == "ok", report
    assert report["counts"]["close"] == 2
    assert sessions_by_account(regions_emulator) == {"japaneast": 2}  # started by the sweep, nobody asked
    (failed_a, failed_b) = sorted(failed_attempts(gate, "alpha"), key=lambda e: e.lease)
    assert failed_a.charged == failed_b.charged == 0
    audit = store.recent_audit(limit=100, project="alpha")
    assert {(r.source, r.action, r.figures["account"]) for r in audit if r.action == "capacity"} == {
        ("sweep", "capacity", "default")
    }

    regions_emulator.advance(6)
    for sid in (first["sessionId"], keyed["sessionId"]):
        answer = gate.get("alpha", key, sid).body
        assert (answer["status"], answer["account"]) == ("Ready", "japaneast")
        assert [p["sessionId"] for p in answer["previousAttempts"]] == [sid]
    # a retry with the key replays the attempt the sweep started, never a third session
    again = gate.create("alpha", key, {**AUTO, "maxLeaseTime": 30}, headers={"Idempotency-Key": "k1"})
    assert again.body["replayed"] is True and again.body["account"] == "japaneast"
    assert sessions_by_account(regions_emulator) == {"japaneast": 2}


def test_in_dry_run_the_sweep_remembers_the_failure_but_starts_nothing(regions_env, store, regions_emulator):
    gate = Gate(store, regions_emulator)
    servers(regions_emulator, default=0)
    key = project(gate, placement=["default", "japaneast"], dryRun=True)
    gate.create("alpha", key, AUTO)
    gate.settle()
    regions_emulator.advance(6)
    sweep()
    assert sessions_by_account(regions_emulator) == {}
    assert set(store.capacity_failures("alpha")) == {("default", VmSize.STANDARD)}
