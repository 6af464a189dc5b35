"""The gate and the sweep judge an extension by one rule (governor.core.policy.extension): given the same
facts, both grant the same lease or refuse for the same limit, and record the same saving.

The gate may grant part of a step the budget cannot pay in full; the sweep extends by a whole step or
not at all. The cases here are the ones both meet: a full step, or none.
"""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import (
    CallerFigures,
    CallerLimits,
    LedgerEntry,
    LedgerState,
    Period,
    ProjectPolicy,
    SavingKind,
    Session,
    SessionStatus,
    Usage,
    VmSize,
    extension_saving,
)
from governor.core.policy import document as documents
from governor.core.policy.extension import SWEEP_REFUSALS, decide_extension, reserve_step
from governor.core.policy.sweep import Action, SweepOptions, decide
from governor.service.gate.actions import save_refused_extension
from governor.service.ports import Refusal
from governor.service.sweep.items import item_for
from governor.service.sweep.record import record_refusals

M = timedelta(minutes=1)
RATE = 3_000_000  # 3.00 per hour
CLOSES = datetime(2026, 11, 24, 17, 0, tzinfo=UTC)  # Tuesday 18:00 in Berlin
NOW = CLOSES - timedelta(hours=2)
ELAPSED, LEASE = 55 * M, 60 * M
STEP_SAVING = extension_saving(RATE, 30 * M)


def policy(hard_max=8 * 60, schedule=None) -> ProjectPolicy:
    doc = {"name": "alpha", "rates": {"Standard": 3}, "maxLeaseMinutes": 60, "hardMaxMinutes": hard_max}
    if schedule:
        doc["schedule"] = {"timeZone": "Europe/Berlin", "hours": {"tue": ["08:00-18:00"]}, "closing": schedule}
    return documents.policy_from_document(doc).policy


def usage(remaining: int | None) -> dict:
    budget = None if remaining is None else 10 * RATE
    spent = 0 if remaining is None else budget - remaining
    return {Period.DAY: Usage("alpha", Period.DAY, Period.DAY.key(NOW), budget, spent)}


CALLER = CallerLimits(daily_budget=RATE)
CASES = {
    "a full step": (policy(), NOW, usage(None), None),
    "the project's budget": (policy(), NOW, usage(1), None),
    "the caller's budget": (policy(), NOW, usage(None), CallerFigures("kiosk", 1, 0, {Period.DAY: RATE - 1})),
    "the hard cap": (policy(hard_max=60), NOW, usage(None), None),
    "closing time": (policy(schedule="finish"), CLOSES - 5 * M, usage(None), None),
}


def entry(now: datetime) -> LedgerEntry:
    return LedgerEntry(
        "alpha", "s1", "default", VmSize.STANDARD, LedgerState.ACTIVE, now - ELAPSED, LEASE,
        rate=RATE, last_heartbeat=now - M, caller="kiosk",
    )  # fmt: skip


class SavingStore:
    def __init__(self):
        self.saved: list[tuple[SavingKind, int]] = []

    def save(self, project, session_id, kind, amount, now):
        self.saved.append((kind, amount))


def gate_path(pol, now, use, caller) -> tuple[timedelta | str, list]:
    limits = CALLER if caller else None
    try:
        return decide_extension(pol, entry(now), ELAPSED, use, None, now, limits, caller).lease, []
    except Refusal as refusal:
        gate = type("Gate", (), {"store": SavingStore()})()
        limit = refusal.figures["limit"]
        save_refused_extension(gate, pol, entry(now), limit, now)
        return limit, gate.store.saved


def sweep_path(pol, now, use, caller) -> tuple[timedelta | str, list]:
    session = Session("s1", "default", SessionStatus.READY, VmSize.STANDARD, ELAPSED, LEASE)
    held = (CALLER, caller) if caller else None
    decision = decide(session, entry(now), pol, use, now, SweepOptions(warn_before=10 * M, window=M), 0, held)
    if decision.action is Action.EXTEND:
        return reserve_step(entry(now), session.max_lease, decision.new_lease, use, CALLER, caller), []
    store = SavingStore()
    record_refusals(store, [item_for(entry(now), decision, session, pol)], now, [])
    return SWEEP_REFUSALS[decision.reason], store.saved


@pytest.mark.parametrize("case", CASES)
def test_the_gate_and_the_sweep_give_the_same_answer(case):
    assert gate_path(*CASES[case]) == sweep_path(*CASES[case])


def test_the_answers_are_a_step_or_a_refusal_that_saves_one_step():
    assert gate_path(*CASES["a full step"]) == (ELAPSED + 30 * M, [])
    for case, limit in [("the project's budget", "budget"), ("the caller's budget", "caller"),
                        ("the hard cap", "hard-cap"), ("closing time", "closing")]:  # fmt: skip
        assert sweep_path(*CASES[case]) == (limit, [(SavingKind.EXTENSION, STEP_SAVING)])


def test_a_refusal_saves_once_per_session():
    pol, now, use, _ = CASES["the hard cap"]
    store = SavingStore()
    session = Session("s1", "default", SessionStatus.READY, VmSize.STANDARD, ELAPSED, LEASE)
    decision = decide(session, entry(now), pol, use, now, SweepOptions(warn_before=10 * M, window=M))
    saved = replace(entry(now), saved_extension=STEP_SAVING)
    record_refusals(store, [item_for(saved, decision, session, pol)], now, [])
    assert store.saved == []


def test_a_stop_at_closing_saves_no_extension_step():
    pol = policy(schedule="stop")
    session = Session("s1", "default", SessionStatus.READY, VmSize.STANDARD, ELAPSED, LEASE)
    decision = decide(session, entry(CLOSES), pol, usage(None), CLOSES, SweepOptions(warn_before=10 * M, window=M))
    assert (decision.action, decision.reason) == (Action.STOP, "closed-hours")
    store = SavingStore()
    record_refusals(store, [item_for(entry(CLOSES), decision, session, pol)], CLOSES, [])
    assert store.saved == []  # a stop saves the lease it cut short (record_stop), not a step
