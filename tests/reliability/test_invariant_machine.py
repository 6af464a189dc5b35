"""A stateful property test of the money invariant over the real stack (gate, sweep, Azurite, emulator).

Hypothesis drives clients (request, with or without an Idempotency-Key, and its retry; extend;
heartbeat; stop), the sweep, the clock, ARR's faults (rate, statuses, phase, latency above the
client's timeout, capacity failures, and the chain that used to leak: an attempt that acts and
answers 5xx or times out, then retries throttled before effect) and a gate that dies in the
middle of a request (before or after ARR's create) and is restarted. Each example is a fresh
ledger (its own tables) and a reset emulator, on one API generation.

After every sweep (docs/governor.md, "The invariant"):
- every session ARR runs is charged to an open ledger row, or was stopped by this sweep (its
  audit row says so; under faults ARR may refuse the stop, and the next sweep repeats it);
- no project's ARR cost passed its budget by more than one sweep interval of its open sessions;
- ARR's billed minutes equal the ledger's charge, session by session, within one sweep interval;
- the money held is exactly the open rows' reservations.
At the end of each example faults clear, two sweeps run, and the invariant holds strictly.

A short run is part of `make test`; `make soak` runs a long one. Both print what they tried.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from governor.core.model import MICROS
from governor.core.policy.gate import still_working
from governor.store import TableStore
from tests.fixtures.azurite import unique_prefix
from tests.integration.sweep.conftest import Stack, parse_time, stack_env
from tests.reliability.governed import TIMEOUT_LATENCY_MS, Governed

SESSION_CALLS = (
    "/sessions/[^/?]+"  # create, read, update, stop; never the list (a sweep that cannot list decides nothing)
)
BUDGETS = {"tight": 12 * MICROS, "roomy": 60 * MICROS}  # at 6 an hour: 2 and 10 session-hours
THROTTLED = {"status": 429, "phase": "before"}
LEAKING_CHAINS = [
    [{"status": 500, "phase": "after"}] + [THROTTLED] * 8,
    [{"status": 503, "phase": "after", "latencyMs": TIMEOUT_LATENCY_MS}] + [THROTTLED] * 8,
]
STATS: Counter = Counter()


class Dies(BaseException):
    """The gate's process going away mid-request (not an Exception: nothing in the gate catches it)."""


class DyingArr:
    """ARR clients of a gate that dies before asking ARR to create, or right after ARR made it."""

    def __init__(self, client, after: bool):
        self.client, self.after = client, after

    def __getattr__(self, name):
        return getattr(self.client, name)

    def create(self, *args, **kwargs):
        if self.after:
            self.client.create(*args, **kwargs)
        raise Dies()


class GovernorMachine(RuleBasedStateMachine):
    emulator = None
    azurite = None

    def __init__(self):
        super().__init__()
        self.governed: Governed | None = None
        self.sessions: list[tuple[str, str]] = []  # (project, session id) the gate answered 202 for
        self.keys: dict[str, tuple[str, str | None]] = {}  # Idempotency-Key -> (project, first 202's id)
        self.died_working: dict[str, object] = {}  # Idempotency-Key -> when its request died before ARR's create
        self.last_sweep = None
        self.trace: list = []  # what happened, for a failure's message
        # ledger = ARR "within one sweep interval": a session ARR ended between two sweeps (v1 cannot
        # list ended sessions) was billed at most the gap it ran in, which may be any gap so far
        self.longest = timedelta(minutes=1)

    @initialize(api=st.sampled_from(["2021-01-01", "v1"]), chain=st.sampled_from(range(len(LEAKING_CHAINS))))
    def start(self, api, chain):
        emulator = self.emulator
        emulator.reset()
        prefix = unique_prefix()
        store = TableStore(self.azurite.connection_string, prefix)
        stack = Stack(emulator, store, {}, stack_env(emulator, self.azurite, prefix), parse_time(emulator.now()))
        self.governed = Governed.build(stack, api)
        for name, budget in BUDGETS.items():
            self.governed.project(name, daily_budget=None, monthly_budget=budget, max_concurrent=3)
        self.last_sweep = stack.now
        # every example starts with the chain that used to leak (the simplest draw is a fault, not none)
        self.arr_changes("leaking chain", 1.0, [429], "before", 0, chain)
        STATS["examples"] += 1
        STATS[f"api {api}"] += 1

    @property
    def stack(self):
        return self.governed.stack

    @property
    def gate(self):
        return self.governed.gate

    def _reply_ok(self, reply) -> None:
        assert reply.status != 500, reply
        assert reply.status < 500 or reply.reason == "upstream-unavailable", reply

    # ------------------------------------------------------------ clients
    @rule(
        project=st.sampled_from(list(BUDGETS)), lease=st.sampled_from([15, 30, 60]), key=st.none() | st.integers(0, 3)
    )
    def request(self, project, lease, key):
        STATS["requests"] += 1
        self.trace.append(("request", project, lease, key))
        headers = {} if key is None else {"Idempotency-Key": f"k{key}"}
        name = headers.get("Idempotency-Key")
        if name in self.keys and self.keys[name][0] != project:
            return  # a key belongs to one project's request
        reply = self.gate.create(
            project, self.governed.projects[project], {"size": "Standard", "maxLeaseTime": lease}, headers=headers
        )
        self._reply_ok(reply)
        STATS[f"request {reply.status} {reply.reason or ''}".strip()] += 1
        if reply.status == 409:
            # never "use a new key" when ARR may hold a session; only a request still at work: v1's,
            # or one that died before its create and cannot yet be told from one at work
            assert name is not None, reply
            died = self.died_working.get(name)
            working = died is not None and still_working(died, self.stack.now)
            assert self.governed.api_version == "v1" or working, (reply, died, self.stack.now)
            assert "in progress" in reply.body["detail"], reply
        elif reply.status == 202 and name is not None:
            self.died_working.pop(name, None)
        if name is not None:
            first = self.keys.get(name, (project, None))[1]
            if reply.status == 202 and first is not None:
                assert reply.body["sessionId"] == first and reply.body.get("replayed"), (reply, first)
            self.keys[name] = (project, first or (reply.body["sessionId"] if reply.status == 202 else None))
        if reply.status == 202 and (project, reply.body["sessionId"]) not in self.sessions:
            self.sessions.append((project, reply.body["sessionId"]))

    @rule(project=st.sampled_from(list(BUDGETS)), after=st.booleans(), key=st.none() | st.integers(0, 3))
    def request_while_the_gate_dies(self, project, after, key):
        from governor.bootstrap import Context, get_context, set_context

        name = None if key is None else f"k{key}"
        if name in self.keys and self.keys[name][0] != project:
            return
        STATS["gate deaths"] += 1
        self.trace.append(("gate dies", project, "after create" if after else "before create", key))
        real = get_context()
        dying = {account: DyingArr(client, after) for account, client in self.stack.arr.items()}
        set_context(Context(real.settings, real.store, dying, real.clock))
        headers = {} if name is None else {"Idempotency-Key": name}
        body = {"size": "Standard", "maxLeaseTime": 30}
        try:
            reply = self.gate.create(project, self.governed.projects[project], body, headers=headers)
        except Dies:
            reply = None
            if name is not None and not after:
                self.died_working[name] = self.stack.now
        finally:
            self.governed.restart_gate()
        if reply is not None:  # refused (or replayed) before the gate reached ARR
            self._reply_ok(reply)
            assert reply.status != 202 or reply.body.get("replayed"), reply
        if name is not None:
            self.keys.setdefault(name, (project, None))

    # No preconditions: what the stack answered decides which sessions exist, and hypothesis needs
    # the same draws to lead to the same rules whatever the timing of a real stack.
    @rule(index=st.integers(0, 1000), what=st.sampled_from(["heartbeat", "extend", "stop", "get"]))
    def use_session(self, index, what):
        if not self.sessions:
            return
        project, sid = self.sessions[index % len(self.sessions)]
        key = self.governed.projects[project]
        STATS[what] += 1
        self.trace.append((what, sid[:8]))
        if what == "heartbeat":
            reply = self.gate.heartbeat(project, key, sid)
        elif what == "extend":
            reply = self.gate.extend(project, key, sid, {"maxLeaseTime": 90})
        elif what == "stop":
            reply = self.gate.stop(project, key, sid)
        else:
            reply = self.gate.get(project, key, sid)
        self._reply_ok(reply)

    # ------------------------------------------------------------ the world
    @rule(minutes=st.integers(1, 12))
    def advance(self, minutes):
        self.trace.append(("advance", minutes))
        self.stack.advance(minutes * 60)

    @rule(
        kind=st.sampled_from(["leaking chain", "rate", "slow", "heal"]),
        rate=st.sampled_from([0.3, 1.0]),
        statuses=st.lists(st.sampled_from([429, 500, 503]), min_size=1, max_size=3, unique=True),
        phase=st.sampled_from(["before", "after"]),
        capacity=st.integers(0, 2),
        chain=st.sampled_from(range(len(LEAKING_CHAINS))),
    )
    def arr_changes(self, kind, rate, statuses, phase, capacity, chain):
        """ARR's behaviour from now on: errors at a rate (and capacity failures), the chain that
        leaked (acted, answered 5xx or too late, then throttled), one call answered after the
        client gave up and acted on late, or healthy again. Never the list (see SESSION_CALLS)."""
        self.trace.append(("arr", kind, rate, statuses, phase, capacity, chain))
        emulator = self.stack.emulator
        if kind == "heal":
            emulator.clear_faults()
            return
        STATS[f"fault settings: {kind}"] += 1
        if kind == "rate":
            emulator.set_faults(
                rate=rate, statuses=statuses, phase=phase, retryAfter=0, paths=SESSION_CALLS, capacityFailures=capacity
            )
        elif kind == "leaking chain":
            emulator.set_faults(sequence=LEAKING_CHAINS[chain], paths=SESSION_CALLS, retryAfter=0)
        else:
            slow = [{"status": None, "phase": "before", "latencyMs": TIMEOUT_LATENCY_MS}]
            emulator.set_faults(sequence=slow, paths=SESSION_CALLS, retryAfter=0)

    # ------------------------------------------------------------ the sweep and the invariant
    @rule()
    def sweep(self):
        STATS["sweeps"] += 1
        interval = max(self.stack.now - self.last_sweep, timedelta(minutes=1))
        self.longest = max(self.longest, interval)
        report = self.stack.sweep()
        self.trace.append(("sweep", report.get("counts"), report.get("errors")))
        self.last_sweep = self.stack.now
        self.check(interval, strict=False, report=report)

    def check(self, interval: timedelta, strict: bool, report: dict) -> None:
        governed = self.governed
        report = {"api": governed.api_version, "trace": self.trace, "entries": self._entries()}
        stopped_now = {
            r.session_id
            for r in self.stack.store.recent_audit(1000)
            if r.source == "sweep" and r.action == "stop" and r.at == self.stack.now
        }
        violations = governed.violations()
        dump = os.environ.get("MACHINE_DUMP")  # the whole story of the first failing check, to read it
        gaps = governed.money_gaps(self.longest)
        if dump and (violations or gaps) and not Path(dump).exists():
            Path(dump).write_text(json.dumps({"violations": violations, "gaps": gaps, **report}, default=str))
        failed_stops = {s["id"] for s in violations if s["id"] in stopped_now}
        if strict:
            assert violations == [], (violations, report)
        else:
            assert [s for s in violations if s["id"] not in failed_stops] == [], (violations, report)
        STATS["violations"] += len(violations) if strict else len(violations) - len(failed_stops)
        STATS["stops refused by ARR, repeated next sweep"] += len(failed_stops)
        assert governed.overcommitted(interval) == [], report
        gaps = [g for g in governed.money_gaps(self.longest) if g[0] not in failed_stops]
        assert gaps == [], (gaps, report)
        assert governed.reserved_matches_rows() == []

    def _entries(self) -> list[tuple]:
        return [
            (e.project, e.session_id[:8], e.state.value, e.claim, e.charged_minutes, e.final_status)
            for e in self.governed.entries()
        ]

    @invariant()
    def no_500s_and_nothing_held_without_a_row(self):
        if self.governed is not None:
            assert self.governed.reserved_matches_rows() == []

    def teardown(self):
        if self.governed is None:
            return
        try:
            self.stack.emulator.clear_faults()
            time.sleep(
                TIMEOUT_LATENCY_MS / 1000 + 0.3
            )  # a slow call still under way acts in this example, not the next
            for _ in range(2):
                self.stack.advance(60)
                interval = max(self.stack.now - self.last_sweep, timedelta(minutes=1))
                self.longest = max(self.longest, interval)
                report = self.stack.sweep()
                self.last_sweep = self.stack.now
            self.check(interval, strict=True, report=report)
            faults = self.stack.emulator.stats().get("faults", {})
            STATS["faults injected"] += sum(faults.values())
            for kind, count in faults.items():
                STATS[f"fault {kind}"] += count
        finally:
            self.governed.close()


def run_machine(emulator, azurite, examples: int, steps: int) -> None:
    GovernorMachine.emulator, GovernorMachine.azurite = emulator, azurite
    STATS.clear()
    run_state_machine_as_test(
        GovernorMachine,
        settings=settings(
            max_examples=examples,
            stateful_step_count=steps,
            deadline=None,
            derandomize=os.environ.get("MACHINE_RANDOM") is None,
            database=None,
            suppress_health_check=list(HealthCheck),
            # shrinking replays a real stack whose timing differs run to run: report the first failure
            phases=[Phase.explicit, Phase.reuse, Phase.generate],
        ),
    )
    print(f"\nproperty machine: {examples} examples x up to {steps} steps: {dict(sorted(STATS.items()))}")
    assert STATS["sweeps"] > 0 and STATS["faults injected"] > 0, STATS


def test_the_invariant_holds_under_random_traffic_faults_and_gate_deaths(emulator, azurite):
    run_machine(emulator, azurite, examples=int(os.environ.get("MACHINE_EXAMPLES", "6")), steps=40)


@pytest.mark.slow
def test_the_invariant_holds_over_a_long_run(emulator, azurite):
    run_machine(emulator, azurite, examples=int(os.environ.get("MACHINE_EXAMPLES", "60")), steps=60)
