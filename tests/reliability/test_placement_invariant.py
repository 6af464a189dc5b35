"""The money invariant with placement on: three regions (one server, none, plenty), requests with
autoRetry, and ARR's create failing under the fault mixes of test_invariant_faults.py, for both API
generations. After polls and two sweeps: no ARR session runs without an open ledger row, ARR's billed
minutes equal the ledger's charge (every attempt that failed for capacity: nothing), the money held is
exactly the open rows' reservations, and every admitted request ends up running somewhere.
"""

from __future__ import annotations

import pytest

from governor.core.model import PlacementAccount
from governor.core.policy.sweep import CLAIM_TTL
from tests.fixtures.azurite import azurite_env
from tests.fixtures.regions import regions_settings, servers
from tests.integration.sweep.conftest import Stack, parse_time
from tests.reliability.governed import Governed
from tests.reliability.test_invariant_faults import FAULT_MIXES, INTERVAL

AUTO = {"size": "Standard", "maxLeaseTime": 30, "autoRetry": True}


@pytest.fixture(params=["2021-01-01", "v1"])
def governed(request, regions_emulator, azurite, table_prefix, store):
    regions_emulator.reset()
    env = {
        **regions_settings(regions_emulator, request.param),
        **azurite_env(table_prefix, azurite),
        "GOVERNOR_GATE_READ_SECONDS": "0",  # polls jump ARR's clock: never an answer cached on ours
    }
    stack = Stack(regions_emulator, store, {}, env, parse_time(regions_emulator.now()))
    governed = Governed.build(stack, request.param)
    yield governed
    governed.close()


@pytest.mark.parametrize("phase", ["before", "after"])
@pytest.mark.parametrize("mix", ["500", "timeout"])
def test_no_session_runs_unbudgeted_and_failed_attempts_cost_nothing_with_placement_on(governed, mix, phase):
    stack, gate = governed.stack, governed.gate
    servers(stack.emulator, default=1, westeurope=0)
    key = governed.project(
        "alpha",
        daily_budget=None,
        monthly_budget=1000 * 6_000_000,
        max_concurrent=50,
        placement=tuple(PlacementAccount(name) for name in ("default", "westeurope", "japaneast")),
    )
    stack.sweep()
    replies = [gate.create("alpha", key, AUTO) for _ in range(2)]  # one server in the first region
    governed.create_faults(**FAULT_MIXES[mix](phase), retryAfter=0)
    replies += [gate.create("alpha", key, AUTO) for _ in range(2)]
    keyed = gate.create("alpha", key, AUTO, headers={"Idempotency-Key": f"order-{mix}-{phase}"})
    stack.emulator.clear_faults()
    for reply in [*replies, keyed]:
        assert reply.status == 202 or (reply.status, reply.reason) == (503, "upstream-unavailable"), reply
    admitted = [r.body["sessionId"] for r in [*replies, keyed] if r.status == 202]
    for round_ in range(4):  # ARR's startup passes; polls and sweeps settle failures and start next attempts
        stack.advance(6)
        if round_ == 0:  # the next attempts' creates meet the faults too
            governed.create_faults(**FAULT_MIXES[mix](phase), retryAfter=0)
        for sid in admitted:
            assert gate.get("alpha", key, sid).status == 200
        stack.emulator.clear_faults()
        stack.sweep()
    stack.advance(CLAIM_TTL.total_seconds())  # v1: a next attempt whose create failed is a claim until then
    stack.sweep()
    for _ in range(3):  # past the window too: a full region may be tried once more
        for sid in admitted:
            gate.get("alpha", key, sid)
        stack.advance(6)
    stack.sweep()

    assert governed.violations() == []
    assert governed.money_gaps(INTERVAL) == []
    assert governed.reserved_matches_rows() == []
    failed = [s for s in stack.emulator.truth() if s["status"] == "Error"]
    assert failed and all(s["billedSeconds"] == 0 for s in failed)
    answers = [gate.get("alpha", key, sid).body for sid in admitted]
    assert all(a["status"] == "Ready" for a in answers), answers  # each admitted request runs somewhere
    charged = {e.session_id: e.charged for e in governed.entries()}
    assert all(charged.get(s["id"], 0) == 0 for s in failed)
