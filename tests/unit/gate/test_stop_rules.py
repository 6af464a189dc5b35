"""A caller's stop ends its request: the mark its row carries and what it stops (placement's rules)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from governor.core.model import LedgerEntry, LedgerState, RetryPlan, SessionStatus, VmSize
from governor.core.policy import placement
from governor.store.entities import entity_to_entry, entry_to_entity, plan_to_json

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
AUTO = RetryPlan(VmSize.STANDARD, auto_retry=True, first="s-0")
KEYED = RetryPlan(VmSize.STANDARD, idempotency_key="order-1")


def closed(plan: RetryPlan | None) -> LedgerEntry:
    return LedgerEntry(
        "alpha", "s-0", "east", VmSize.STANDARD, LedgerState.CLOSED, NOW, timedelta(minutes=30),
        final_status=SessionStatus.ERROR, plan=plan,
    )  # fmt: skip


def test_a_stop_marks_a_request_a_next_attempt_could_follow_once():
    for plan in (AUTO, KEYED):
        marked = placement.stopped_plan(plan)
        assert marked == replace(plan, stopped=True)
        assert placement.stopped_plan(marked) is None  # already marked: nothing to write
    # nothing could follow these: no write
    assert placement.stopped_plan(None) is None
    assert placement.stopped_plan(RetryPlan(VmSize.STANDARD, regions=("east",))) is None


def test_a_stopped_request_retries_nothing_and_a_keyed_retry_gets_it_back():
    assert placement.retries_itself(AUTO)
    assert not placement.retries_itself(placement.stopped_plan(AUTO))  # type: ignore[arg-type]
    assert not placement.retries_itself(KEYED)  # no autoRetry: only a keyed retry moves on
    assert not placement.stopped_by_caller(closed(AUTO)) and not placement.stopped_by_caller(closed(None))
    assert placement.stopped_by_caller(closed(placement.stopped_plan(KEYED)))


def test_a_next_attempts_plan_is_not_stopped():
    assert not placement.next_plan(placement.stopped_plan(AUTO)).stopped  # type: ignore[arg-type]


def test_the_mark_round_trips_through_the_row_and_old_rows_read_unstopped():
    marked = placement.stopped_plan(AUTO)
    assert entity_to_entry(entry_to_entity(closed(marked), "closed|s-0")).plan == marked
    # unstopped plans are written as before the mark existed, and such rows read unstopped
    assert "stopped" not in plan_to_json(AUTO)
    assert not entity_to_entry(entry_to_entity(closed(AUTO), "closed|s-0")).plan.stopped  # type: ignore[union-attr]
