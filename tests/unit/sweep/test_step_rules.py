"""The pure rules of the sweep's steps (governor.core.policy.sweep_steps, and `caller_of` in the table):
facts in, decision out."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.errors import Conflict, NotFound, Refusal, Unavailable
from governor.core.model import (
    AuditRecord,
    CallerFigures,
    CallerLimits,
    LedgerSnapshot,
    LedgerState,
    Period,
    SessionStatus,
    Usage,
    cost_of,
    extension_saving,
)
from governor.core.policy import sweep_steps as steps
from governor.core.policy.sweep import Action, Decision, caller_of
from tests.unit.sweep.test_decisions import NOW, RATE, M, entry, policy, session

STOPPED = replace(session(elapsed=47), status=SessionStatus.STOPPED)


# ---------------------------------------------------------------- act
def failed_call(error, code=None, status=None):
    error.code, error.status = code, status
    return error


@pytest.mark.parametrize(
    ("exc", "outcome"),
    [
        (Refusal("extension-refused-budget", "no money"), ("skipped", "extension-refused-budget")),
        (failed_call(Unavailable("arr"), code="TooManyRequests", status=429), ("failed", "TooManyRequests")),
        (failed_call(Unavailable("arr"), status=503), ("failed", "http-503")),
        (failed_call(Conflict("etag")), ("failed", "Conflict")),
        (NotFound("gone"), ("failed", "NotFound")),
        (KeyError("account"), ("failed", "KeyError")),  # anything else fails too, named by its kind
    ],
)
def test_a_refused_act_is_skipped_any_other_error_fails_it(exc, outcome):
    assert steps.act_outcome(exc) == outcome


def test_a_failure_is_named_by_code_then_status_then_kind():
    assert steps.failure(failed_call(Unavailable(), code="Throttled", status=429)) == "Throttled"
    assert steps.failure(failed_call(Unavailable(), status=500)) == "http-500"
    assert steps.failure(Unavailable()) == "Unavailable"


def test_a_close_writes_the_decided_minutes_and_arrs_status_else_the_rows_and_stopped():
    decided = Decision(Action.CLOSE, "ended-expired", {"final_minutes": 47})
    assert steps.close_terms(decided, entry(charged_minutes=45), replace(STOPPED, status=SessionStatus.EXPIRED)) == (
        47,
        "Expired",
    )
    assert steps.close_terms(Decision(Action.CLOSE, "vanished"), entry(charged_minutes=45), None) == (45, "Stopped")


def test_a_stop_is_settled_at_arrs_final_minutes_once_arr_has_ended_it():
    assert steps.stop_settled(STOPPED) == 47
    assert steps.stop_settled(replace(STOPPED, elapsed=timedelta(minutes=47, seconds=59))) == 47
    assert steps.stop_settled(session()) is None  # still running: the next sweep settles it


def test_a_refused_extension_is_reverted_only_when_arr_holds_less_than_the_target():
    assert steps.must_revert(60 * M, 90 * M)
    assert not steps.must_revert(90 * M, 90 * M)  # ARR already holds it
    assert not steps.must_revert(120 * M, 90 * M)
    assert not steps.must_revert(89 * M + timedelta(seconds=30), 90 * M)  # the same whole minute


def test_a_lease_raised_outside_is_recorded_once():
    assert steps.recorded_lease(entry(lease=60), 90 * M) == 90 * M
    assert steps.recorded_lease(entry(lease=90), 90 * M) == 90 * M  # a re-run writes nothing new
    assert steps.recorded_lease(entry(lease=120), 90 * M) == 120 * M


# ---------------------------------------------------------------- meter
def managed(project, sid, elapsed, charged):
    return entry(project=project, session_id=sid, charged_minutes=charged), session(elapsed=elapsed)


def test_a_project_is_metered_when_a_session_is_a_checkpoint_behind_with_all_its_sessions_behind():
    rows = [
        managed("alpha", "a1", 65, 60),  # 5 behind: due
        managed("alpha", "a2", 62, 60),  # 2 behind: rides along
        managed("alpha", "a3", 60, 60),  # not behind
        managed("beta", "b1", 64, 60),  # 4 behind: deferred
    ]
    (due,) = steps.checkpoints(rows, NOW, 5)
    assert (due.project, due.rows, due.minutes) == ("alpha", [("alpha", "a1", 65), ("alpha", "a2", 62)], 7)


def test_near_the_end_of_the_utc_day_every_project_behind_is_metered():
    rows = [managed("alpha", "a1", 61, 60), managed("beta", "b1", 60, 60)]
    late = datetime(2026, 3, 10, 23, 54, tzinfo=UTC)
    assert [c.project for c in steps.checkpoints(rows, late, 5)] == ["alpha"]
    assert steps.checkpoints(rows, late - M, 5) == []  # 23:53 + 6 minutes is still the same day


# ---------------------------------------------------------------- record
def test_an_intent_row_is_written_for_an_act_that_runs():
    assert steps.intends(Decision(Action.STOP, "idle"))
    assert not steps.intends(Decision(Action.STOP, "idle", dry_run=True))
    assert not steps.intends(Decision(Action.WARN, "hard-cap-soon"))


@pytest.mark.parametrize(
    ("action", "reason", "kept"),
    [
        (Action.LEAVE, "ok", False),
        (Action.LEAVE, "extension-refused-cap", False),
        (Action.LEAVE, "lookup-failed", True),
        (Action.LEAVE, "pending-ambiguous", True),  # nobody can tell whose it is yet
        (Action.WARN, "hard-cap-soon", True),
        (Action.REPORT, "unmanaged", True),
        (Action.STOP, "idle", True),
    ],
)
def test_every_decision_but_leaving_is_audited(action, reason, kept):
    assert steps.audited(Decision(action, reason)) is kept


@pytest.mark.parametrize(
    ("event", "warning", "outcome", "dry_run", "told"),
    [
        ("stop", None, "ok", False, [("stop", "why")]),
        ("stop", None, "failed", False, []),  # not done: nothing to tell yet
        ("stop", None, "skipped", True, [("stop", "why")]),  # in dry-run, what would have been done
        ("extend", "hard-cap-soon", "failed", False, [("warn", "hard-cap-soon")]),
        ("warn", None, "ok", False, [("warn", "why")]),
        ("refused", None, "failed", False, [("refused", "why")]),  # told whatever happened
        (None, None, "ok", False, []),
    ],
)
def test_a_decisions_webhook_events(event, warning, outcome, dry_run, told):
    decision = Decision(Action.STOP, "why", event=event, warning=warning, dry_run=dry_run)
    assert steps.events(decision, outcome) == told


def test_unfinished_rows_are_looked_for_since_the_previous_run_less_its_lock_or_a_day():
    assert steps.unfinished_since(None, NOW, 10 * M) == NOW - timedelta(days=1)
    assert steps.unfinished_since(NOW - 2 * M, NOW, 10 * M) == NOW - 12 * M


def test_a_gate_row_is_judged_once_older_than_any_gate_request_lasts():
    row = AuditRecord(NOW - 5 * M, "gate", "alpha", "s1", "stop", "caller", outcome="unknown")
    assert steps.gate_row_judged(row, NOW)
    assert not steps.gate_row_judged(replace(row, at=NOW - 4 * M), NOW)


def test_an_interrupted_row_is_completed_with_what_the_next_sweep_sees():
    row = AuditRecord(NOW, "sweep", "alpha", "s1", "stop", "idle", {"rate": RATE}, outcome="unknown", key="k")
    done = steps.complete_interrupted(row, None, None)  # ARR no longer lists it: the stop happened
    assert (done.outcome, done.figures, done.key) == ("ok", {"rate": RATE, "completed": "next-sweep"}, "k")
    failed = steps.complete_interrupted(row, session(), entry())
    assert (failed.outcome, failed.figures["error"]) == ("failed", "interrupted")
    assert row.outcome == "unknown" and "completed" not in row.figures  # the read row is left as it was


def test_a_sweep_with_an_error_or_a_failed_act_has_errors():
    assert steps.health_outcome(0, 0) == "ok"
    assert steps.health_outcome(1, 0) == steps.health_outcome(0, 1) == "errors"


# ---------------------------------------------------------------- savings
STEP = extension_saving(RATE, timedelta(minutes=30))


@pytest.mark.parametrize(
    ("action", "reason", "dry_run", "saved"),
    [
        (Action.WARN, "extension-refused-cap", False, STEP),
        (Action.LEAVE, "extension-refused-budget", False, STEP),  # refused earlier, told already: still saves once
        (Action.WARN, "closed-hours", False, STEP),
        (Action.WARN, "hard-cap-soon", False, 0),  # a warning is no refusal
        (Action.STOP, "closed-hours", False, 0),  # a stop saves its lease (record_stop), not a step
        (Action.WARN, "extension-refused-cap", True, 0),
    ],
)
def test_a_refused_extension_saves_one_step(action, reason, dry_run, saved):
    assert steps.refusal_saving(Decision(action, reason, dry_run=dry_run), entry(), policy()) == saved


def test_a_refusal_saves_once_and_only_for_a_governed_session():
    refused = Decision(Action.WARN, "extension-refused-cap")
    assert steps.refusal_saving(refused, entry(saved_extension=STEP), policy()) == 0
    assert steps.refusal_saving(refused, None, policy()) == 0
    assert steps.refusal_saving(refused, entry(), None) == 0


def test_an_interrupted_stop_saves_what_the_row_does_not_record_yet():
    stop = AuditRecord(NOW, "sweep", "alpha", "s1", "stop", "idle", outcome="ok")
    row = entry(lease=120, state=LedgerState.CLOSED, final_status=SessionStatus.STOPPED, charged_minutes=20)
    assert steps.stop_saving_due(stop, row) == cost_of(RATE, 100)
    assert steps.stop_saving_due(stop, replace(row, saved_lease=cost_of(RATE, 100))) == 0  # recorded already
    assert steps.stop_saving_due(stop, replace(row, state=LedgerState.ACTIVE)) == 0
    assert steps.stop_saving_due(stop, None) == 0
    assert steps.stop_saving_due(replace(stop, source="gate"), row) == 0


# ---------------------------------------------------------------- capacity
CAPACITY = replace(session(elapsed=0), status=SessionStatus.ERROR, error_code="InsufficientCapacity")


def test_a_capacity_failure_is_a_done_close_of_an_attempt_arr_ended_for_want_of_servers():
    closed = Decision(Action.CLOSE, "ended-error")
    assert steps.capacity_failure(closed, "ok", entry(), CAPACITY)
    assert not steps.capacity_failure(closed, "failed", entry(), CAPACITY)
    assert not steps.capacity_failure(closed, "ok", None, CAPACITY)
    assert not steps.capacity_failure(closed, "ok", entry(), None)
    assert not steps.capacity_failure(closed, "ok", entry(), replace(CAPACITY, error_code="Other"))
    assert not steps.capacity_failure(Decision(Action.LEAVE, "listed-late"), "ok", entry(), CAPACITY)


def test_a_next_attempt_is_started_only_outside_dry_run():
    project = policy()
    assert steps.next_attempt_policy(project, False) is project
    assert steps.next_attempt_policy(project, True) is None
    assert steps.next_attempt_policy(policy(dry_run=True), False) is None
    assert steps.next_attempt_policy(None, False) is None


# ---------------------------------------------------------------- observe
def test_actions_and_warnings_are_logged_done_acts_counted():
    assert steps.logged(Decision(Action.STOP, "idle")) and steps.logged(Decision(Action.WARN, "hard-cap-soon"))
    assert not steps.logged(Decision(Action.LEAVE, "ok")) and not steps.logged(Decision(Action.REPORT, "unmanaged"))
    assert steps.counted(Decision(Action.STOP, "idle"), "ok")
    assert not steps.counted(Decision(Action.STOP, "idle"), "failed")
    assert not steps.counted(Decision(Action.STOP, "idle", dry_run=True), "ok")


def test_the_budget_utilization_counts_spent_and_held_money_as_a_ratio():
    assert steps.budget_utilization(Usage("alpha", Period.DAY, "d", 1_000, spent=250, reserved=125)) == 0.375
    assert steps.budget_utilization(Usage("alpha", Period.DAY, "d", 3_000, spent=1_000, reserved=-5)) == 1 / 3
    assert steps.budget_utilization(Usage("alpha", Period.DAY, "d", 1_000, spent=900)) == 90 / 100.0  # the alert's
    assert steps.budget_utilization(Usage("alpha", Period.DAY, "d", 1_000, spent=1_200)) == 1.2  # over a lowered budget
    assert steps.budget_utilization(Usage("alpha", Period.DAY, "d", None, spent=1_000)) is None
    assert steps.budget_utilization(Usage("alpha", Period.DAY, "d", 0, spent=1_000)) is None


# ---------------------------------------------------------------- the caller's limits
def test_a_caller_with_limits_of_its_own_is_held_to_them():
    limits = CallerLimits(daily_budget=5_000_000)
    snapshot = LedgerSnapshot({}, [], {}, key_limits={"alpha": {"ci": limits}})
    held = CallerFigures("ci", active=2)
    assert caller_of(entry(caller="ci"), policy(), snapshot, {("alpha", "ci"): held}) == (limits, held)
    assert caller_of(entry(caller="ci"), policy(), snapshot, {}) == (limits, CallerFigures("ci"))
    assert caller_of(entry(caller="other"), policy(), snapshot, {}) is None  # no limits of its own
    assert caller_of(entry(caller=None), policy(), snapshot, {}) is None
    assert caller_of(entry(caller="ci"), None, snapshot, {}) is None  # the project is gone
    principal = policy(principal_limits={"p-1": limits})
    assert caller_of(entry(caller="principal:p-1"), principal, snapshot, {}) == (limits, CallerFigures("principal:p-1"))


@pytest.mark.parametrize(
    ("elapsed", "threshold", "told"),
    [
        (111, 10, [("refused", "extension-refused-cap")]),  # 9 min left, at the cap: refused (and cap soon)
        (111, 5, [("warn", "hard-cap-soon")]),  # not yet at the threshold: the cap's warning alone
        (60, 10, []),
    ],
)
def test_a_pending_rows_activation_tells_the_event_it_was_governed_by_once(elapsed, threshold, told):
    """Not a second event under the activation's own reason ("pending-confirmed")."""
    from governor.core.policy.sweep import SweepOptions, decide
    from tests.unit.sweep.test_decisions import entry, policy, session, usage

    cap = policy(hard_max_duration=timedelta(minutes=120), extension_threshold=timedelta(minutes=threshold))
    pending = entry(lease=120, state=LedgerState.PENDING)
    d = decide(session(elapsed=elapsed, lease=120), pending, cap, usage(), NOW, SweepOptions(seen=frozenset()))
    assert d.action is Action.ACTIVATE
    assert steps.events(d, "ok") == told
