"""The gate and the sweep over one real stack, and the money invariant checked against ARR's truth.

`Governed` shares one store, one set of ARR clients (either API generation) and one clock that
follows the emulator's virtual clock between the in-process function app and the sweep.
`violations()` is the invariant of docs/governor.md, from the emulator's ground truth: every
session ARR runs is charged to an open ledger row (cases 3, unmanaged sessions, never occur here:
every session in these tests was asked for by the governor, so none may run without a row). On v1,
where ARR picks the ids, a session that young requests may have made but that nobody can yet tell
whose it is has no row under its id: the requests' reservations hold its money until a gate
activates it or, past the grace, their claims charge it from its start and stop it
(`held_by_requests()`), so it is no violation and no money gap in that window.
`money_gaps()` compares ARR's billed minutes with the ledger's charge, session by session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from governor.arr import clients_from_settings
from governor.bootstrap import Context, set_context
from governor.core.model import CLOCK_SKEW, PENDING_GRACE, LedgerState, Period, cost_of
from governor.core.policy.sweep import CLAIM_TTL
from governor.settings import load
from tests.integration.gate.conftest import Gate
from tests.integration.sweep.conftest import parse_time

ACTIVE = ("Starting", "Ready")
# The client gives up on a call after 0.5 s and on its retries after 0.3 s, so a fault that
# lasts (latency above the timeout) reaches the gate and the sweep without slowing the tests.
CLIENT_TIMEOUT_SECONDS = 0.5
TIMEOUT_LATENCY_MS = 1200


def settings_for(stack, api_version: str):
    return load(
        {
            **stack.env,
            "ARR_API_VERSION": api_version,
            "ARR_RETRY_TOTAL_SECONDS": "0.3",
            "ARR_HTTP_TIMEOUT_SECONDS": str(CLIENT_TIMEOUT_SECONDS),
        }
    )


@dataclass
class Governed:
    stack: object
    gate: Gate
    api_version: str
    projects: dict[str, str] = field(default_factory=dict)  # name -> caller key

    @classmethod
    def build(cls, stack, api_version: str) -> Governed:
        settings = settings_for(stack, api_version)
        stack.arr = clients_from_settings(settings)
        set_context(Context(settings=settings, store=stack.store, arr=stack.arr, clock=stack.clock))
        return cls(stack, Gate(stack.store, stack.emulator), api_version)

    def close(self) -> None:
        self.stack.emulator.clear_faults()
        set_context(None)
        for client in self.stack.arr.values():
            client.close()

    def restart_gate(self) -> None:
        """A new gate process: fresh ARR clients and context; the store and ARR keep their state."""
        for client in self.stack.arr.values():
            client.close()
        settings = settings_for(self.stack, self.api_version)
        self.stack.arr = clients_from_settings(settings)
        set_context(Context(settings=settings, store=self.stack.store, arr=self.stack.arr, clock=self.stack.clock))

    def project(self, name: str, **policy) -> str:
        self.projects[name] = self.gate.project(name, **policy)
        return self.projects[name]

    def create_faults(self, **faults) -> None:
        """Faults on the create call only (PUT in 2021-01-01, POST in v1), so ARR can be read back."""
        method = "PUT" if self.api_version == "2021-01-01" else "POST"
        self.stack.emulator.set_faults(paths="/sessions", methods=[method], **faults)

    def entries(self, include_closed: bool = True):
        return [e for p in self.projects for e in self.stack.store.list_entries(p, include_closed=include_closed)]

    def violations(self) -> list[dict]:
        """ARR sessions running without an open ledger row (or young v1 requests holding their money)."""
        owned = {e.session_id for e in self.entries(include_closed=False)} | self.held_by_requests()
        return [s for s in self.stack.emulator.truth() if s["status"] in ACTIVE and s["id"] not in owned]

    def held_by_requests(self) -> set[str]:
        """v1 sessions no open row names that a pending request younger than the grace may have made:
        the same size and lease, made within its window."""
        if self.api_version != "v1":
            return set()
        now = self.stack.now
        young = [
            e
            for e in self.entries(include_closed=False)
            if e.state is LedgerState.PENDING and now - e.requested_at <= PENDING_GRACE
        ]
        held = set()
        for session in self.stack.emulator.truth():
            made = parse_time(session["createdAt"])
            for entry in young:
                same = (
                    session["size"] == entry.size.value
                    and session["maxLeaseMinutes"] * 60 == entry.lease.total_seconds()
                )
                if same and entry.requested_at - CLOCK_SKEW <= made <= entry.requested_at + CLAIM_TTL:
                    held.add(session["id"])
        return held

    def money_gaps(self, interval: timedelta) -> list[tuple]:
        """Sessions whose billed minutes and ledger charge differ by more than one sweep interval
        (a session with no row is charged nothing)."""
        slack = interval.total_seconds() // 60
        charged = {e.session_id: e.charged_minutes for e in self.entries()}
        held = self.held_by_requests()
        gaps = []
        for session in self.stack.emulator.truth():
            if session["id"] in held and session["id"] not in charged:
                continue  # charged from its start once activated or claimed
            billed = session["billedSeconds"] // 60
            if abs(billed - charged.get(session["id"], 0)) > slack:
                gaps.append((session["id"], session["status"], billed, charged.get(session["id"])))
        return gaps

    def overcommitted(self, interval: timedelta) -> list[tuple]:
        """Projects whose ARR cost passed their budget by more than one interval of the sessions that
        ran in it (still running, or ended within it)."""
        since = self.stack.now - interval
        truth = {s["id"]: s for s in self.stack.emulator.truth()}
        over = []
        for name in self.projects:
            policy = self.stack.store.get_project(name)
            budget = policy.monthly_budget if policy.monthly_budget is not None else policy.daily_budget
            if budget is None:
                continue
            cost, running = 0, 0
            for entry in self.stack.store.list_entries(name, include_closed=True):
                session = truth.get(entry.session_id)
                if session is not None:
                    cost += cost_of(entry.rate, int(session["billedSeconds"] // 60))
                    ended = session["endedAt"] and parse_time(session["endedAt"]) >= since
                    running += session["status"] in ACTIVE or bool(ended)
            slack = running * cost_of(
                policy.rate(next(iter(policy.allowed_sizes))), int(interval.total_seconds() // 60)
            )
            if cost > budget + slack:
                over.append((name, cost, budget, running))
        return over

    def reserved_matches_rows(self) -> list[tuple]:
        """Projects whose held money is not the sum of their open rows' reservations."""
        wrong = []
        for name in self.projects:
            held = sum(e.reserved for e in self.stack.store.list_entries(name) if e.state is not LedgerState.CLOSED)
            usage = self.stack.store.usage(name, Period.MONTH, Period.MONTH.key(self.stack.now))
            if usage.reserved != held:
                wrong.append((name, usage.reserved, held))
        return wrong
