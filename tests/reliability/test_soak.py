"""Soak (make soak): 24 emulated hours of mixed traffic and ARR faults in about 5 minutes of wall.

The gate (the function app in process) and the sweep share one store, one set of ARR clients and
one clock that follows the emulator's virtual clock; every step moves it by one sweep interval.
Clients of four projects ask for sessions, heartbeat, extend, stop, or vanish (their sessions
must idle out); for 30 minutes of every two hours ARR fails 30% of calls, before or after taking
effect, and is slow, or answers a create with the chain that used to leak (acted, answer lost
to a 500 or a time-out, retries throttled). After every step:
- no project's ARR cost exceeds its budget by more than one sweep interval of its open sessions;
- no session has run more than one sweep interval past the lease the ledger reserved for it;
- every open ARR session older than one sweep interval is open in the ledger (no orphan).
At the end (faults off, clients gone) the ledger and ARR agree: every session closed, charged
exactly ARR's billed minutes, nothing reserved, nothing left running.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from governor.arr import clients_from_settings
from governor.bootstrap import Context, set_context
from governor.core.model import MICROS, LedgerState, Period, cost_of
from governor.settings import load
from tests.integration.gate.conftest import RATE, Gate
from tests.integration.sweep.conftest import parse_time

HOURS = int(os.environ.get("SOAK_HOURS", "24"))
INTERVAL = timedelta(minutes=5)  # one sweep per step
# monthly budgets at 6 an hour: 7, 25 and 60 session-hours run out in the day, 100 does not
BUDGETS = {"soak-a": 40 * MICROS, "soak-b": 150 * MICROS, "soak-c": 360 * MICROS, "soak-d": 600 * MICROS}
PROJECTS = tuple(BUDGETS)
FAULTS = {"rate": 0.3, "statuses": [429, 500, 503], "retryAfter": 0, "latencyMs": 5}
SLACK = cost_of(RATE, int(INTERVAL.total_seconds() // 60))
THROTTLED = {"status": 429, "phase": "before"}
CREATES = {"paths": "/sessions/[^/?:]+$", "methods": ["PUT"], "retryAfter": 0}
# The chain that leaked: the create acts and its answer is lost (a 5xx, or so late the client
# gave up), then every retry is throttled before it takes effect, the gate's last word a 429.
LEAKING_CHAINS = [
    {**CREATES, "sequence": [{"status": 500, "phase": "after"}] + [THROTTLED] * 6},
    {**CREATES, "sequence": [{"status": 503, "phase": "after", "latencyMs": 1500}] + [THROTTLED] * 6},
]


@dataclass
class Client:
    project: str
    key: str
    sessions: dict[str, datetime] = field(default_factory=dict)  # session -> when the client leaves it


@pytest.fixture
def soak(sweep_stack):
    stack = sweep_stack
    # start at the top of a month, so the monthly budget is one period for all 24 hours
    now = stack.now
    first = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, 1, tzinfo=UTC)
    stack.advance((first - now).total_seconds())
    # a short retry budget, so that faults outlast the client's retries and reach gate and sweep
    settings = load({**stack.env, "ARR_RETRY_TOTAL_SECONDS": "0.05", "ARR_HTTP_TIMEOUT_SECONDS": "1"})
    stack.arr = clients_from_settings(settings)
    set_context(Context(settings=settings, store=stack.store, arr=stack.arr, clock=stack.clock))
    try:
        yield stack, Gate(stack.store, stack.emulator)
    finally:
        stack.emulator.clear_faults()
        set_context(None)
        for client in stack.arr.values():
            client.close()


def faults_for(step: int, rng: random.Random) -> dict | None:
    """30 emulated minutes of faults in every two hours."""
    minute = step * INTERVAL.total_seconds() / 60 % 120
    if not 60 <= minute < 90:
        return None
    # a 4xx means "not done"; only a 5xx may come after the call took effect (a gateway time-out),
    # or a time-out; and throttling may follow either (the leaking chain)
    return rng.choice(
        [{**FAULTS, "phase": "before"}, {**FAULTS, "statuses": [500, 503], "phase": "after"}, *LEAKING_CHAINS]
    )


def traffic(gate: Gate, clients: list[Client], now: datetime, rng: random.Random, counts: dict) -> None:
    for client in clients:
        if rng.random() < 0.4:
            body = {"size": "Standard", "maxLeaseTime": rng.choice([15, 30, 45, 60])}
            reply = gate.create(client.project, client.key, body)
            outcome = "admitted" if reply.status == 202 else reply.reason
            counts[outcome] = counts.get(outcome, 0) + 1
            assert reply.status < 500 or reply.reason == "upstream-unavailable", reply
            if reply.status == 202:
                client.sessions[reply.body["sessionId"]] = now + timedelta(minutes=rng.randint(5, 150))
        for sid, leaves_at in list(client.sessions.items()):
            if now >= leaves_at:
                del client.sessions[sid]
                if rng.random() < 0.5:  # the other half vanish: idle timeout
                    gate.stop(client.project, client.key, sid)
                continue
            if gate.heartbeat(client.project, client.key, sid).status == 404:
                del client.sessions[sid]  # stopped by the governor (budget, hard max)
            elif rng.random() < 0.1:
                gate.extend(client.project, client.key, sid, {"maxLeaseTime": rng.choice([60, 90, 120])})


def check_invariants(stack, now: datetime) -> None:
    truth = stack.truth()
    managed = set()
    for project in PROJECTS:
        entries = stack.store.list_entries(project, include_closed=True)
        managed |= {e.session_id for e in entries if e.state is not LedgerState.CLOSED}
        open_count, actual = 0, 0
        for entry in entries:
            session = truth.get(entry.session_id)
            if session is None:
                continue  # reserved, not created (yet or ever)
            billed = int(session["billedSeconds"] // 60)
            actual += cost_of(entry.rate, billed)
            open_count += session["status"] in ("Starting", "Ready")
            lease = entry.lease.total_seconds() / 60
            assert billed <= lease + INTERVAL.total_seconds() / 60, (now, entry, session)
        assert actual <= BUDGETS[project] + open_count * SLACK, (
            now,
            project,
            actual,
            open_count,
            ledger(stack, project),
        )
    for sid, session in truth.items():
        if session["status"] in ("Starting", "Ready") and sid not in managed:
            assert now - parse_time(session["createdAt"]) <= INTERVAL, ("orphan", now, session)


def ledger(stack, project: str) -> list[tuple]:
    """The project's rows beside ARR's view of them, for an assertion message."""
    truth = stack.truth()
    return [
        (e.session_id[:8], e.state.value, e.lease, e.extensions, e.charged_minutes, e.reserved, truth.get(e.session_id))
        for e in stack.store.list_entries(project, include_closed=True)
    ]


def check_agreement(stack) -> None:
    truth = stack.truth()
    assert not [s for s in truth.values() if s["status"] in ("Starting", "Ready")]
    for project in PROJECTS:
        spent = 0
        for entry in stack.store.list_entries(project, include_closed=True):
            billed = int(truth[entry.session_id]["billedSeconds"] // 60) if entry.session_id in truth else 0
            assert entry.state is LedgerState.CLOSED, entry
            assert entry.charged_minutes == billed, (entry, truth.get(entry.session_id))
            spent += cost_of(entry.rate, billed)
        usage = stack.store.usage(project, Period.MONTH, Period.MONTH.key(stack.now))
        assert (usage.spent, usage.reserved) == (spent, 0), project


@pytest.mark.slow
def test_a_day_of_mixed_traffic_and_faults_keeps_every_budget(soak):
    stack, gate = soak
    rng = random.Random(int(os.environ.get("SOAK_SEED", "9")))
    clients = []
    for name in PROJECTS:
        key = gate.project(name, daily_budget=None, monthly_budget=BUDGETS[name], max_concurrent=3)
        clients.append(Client(name, key))
    counts: dict = {}
    for step in range(int(timedelta(hours=HOURS) / INTERVAL)):
        faults = faults_for(step, rng)
        if faults:
            stack.emulator.set_faults(**faults)
        else:
            stack.emulator.clear_faults()
        traffic(gate, clients, stack.now, rng, counts)
        stack.advance(INTERVAL.total_seconds())
        stack.sweep()
        check_invariants(stack, stack.now)

    stack.emulator.clear_faults()
    for client in clients:
        for sid in client.sessions:
            gate.stop(client.project, client.key, sid)
    for _ in range(4):  # idle timeouts and the closing of what stopped
        stack.advance(INTERVAL.total_seconds())
        stack.sweep()
    check_agreement(stack)
    injected = stack.emulator.stats()["faults"]
    print(f"soak: {HOURS} emulated hours, {len(stack.sweeps)} sweeps, creates {counts}, faults injected {injected}")
    assert injected.get("500 after", 0) + injected.get("503 after", 0) > 0, injected
    assert counts.get("admitted", 0) > 2 * HOURS and counts.get("budget-exhausted", 0) > 0, counts
    assert any(report["errors"] for report in stack.sweeps), "the faults never reached a sweep"
