"""The sweep's decision table: every rule and its boundaries."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from governor.core.model import (
    CallerFigures,
    CallerLimits,
    LedgerEntry,
    LedgerSnapshot,
    LedgerState,
    Period,
    ProjectPolicy,
    Session,
    SessionStatus,
    Usage,
    VmSize,
    cost_of,
)
from governor.core.policy.callers import limits_of
from governor.core.policy.sweep import (
    ARR_MAX_UPDATE_LEASE,
    Action,
    SweepOptions,
    decide,
    extension_target,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
RATE = 3_000_000  # 3.00 per hour = 50_000 micros per minute
M = timedelta(minutes=1)


def policy(**kw) -> ProjectPolicy:
    base = dict(
        name="alpha",
        rates={VmSize.STANDARD: RATE},
        daily_budget=100_000_000,
        monthly_budget=None,
        hard_max_duration=timedelta(hours=8),
        extension_step=timedelta(minutes=30),
        extension_threshold=timedelta(minutes=10),
        idle_timeout=timedelta(minutes=15),
    )
    base.update(kw)
    return ProjectPolicy(**base)


def session(elapsed=60, lease=120, status=SessionStatus.READY) -> Session:
    return Session("s1", "default", status, VmSize.STANDARD, elapsed * M, lease * M)


def entry(lease=120, heartbeat_ago=1, **kw) -> LedgerEntry:
    base = dict(
        project="alpha",
        session_id="s1",
        account="default",
        size=VmSize.STANDARD,
        state=LedgerState.ACTIVE,
        requested_at=NOW - timedelta(hours=2),
        lease=lease * M,
        rate=RATE,
        last_heartbeat=None if heartbeat_ago is None else NOW - heartbeat_ago * M,
    )
    base.update(kw)
    return LedgerEntry(**base)


def usage(spent=0, reserved=0, budget=100_000_000, period=Period.DAY) -> dict:
    return {period: Usage("alpha", period, period.key(NOW), budget, spent, reserved)}


OPTS = SweepOptions(warn_before=timedelta(minutes=10), window=M)


def run(s=None, e=None, p=None, u=None, opts=OPTS, burn=0):
    return decide(
        s if s is not None else session(),
        e if e is not None else entry(),
        p if p is not None else policy(),
        u if u is not None else usage(),
        NOW,
        opts,
        burn,
    )


def test_healthy_session_is_left_with_its_figures():
    d = run()
    assert (d.action, d.reason) == (Action.LEAVE, "ok")
    assert d.figures["elapsed_minutes"] == 60 and d.figures["lease_minutes"] == 120
    assert d.figures["day_budget"] == 100_000_000


def test_vanished_session_is_closed():
    d = decide(None, entry(), policy(), usage(), NOW, OPTS)
    assert (d.action, d.reason) == (Action.CLOSE, "vanished")


def test_unknown_project_stops():
    d = decide(session(), entry(), None, {}, NOW, OPTS)
    assert (d.action, d.reason, d.event) == (Action.STOP, "project-missing", "stop")


def test_disabled_project_stops_even_a_starting_session():
    d = run(s=session(elapsed=0, status=SessionStatus.STARTING), p=policy(enabled=False))
    assert (d.action, d.reason) == (Action.STOP, "project-disabled")


@pytest.mark.parametrize(
    ("spent", "action"),
    [(99_999_999, Action.LEAVE), (100_000_000, Action.STOP), (100_000_001, Action.STOP)],
)
def test_budget_exhausted_boundary(spent, action):
    d = run(u=usage(spent=spent))
    assert d.action is action
    if action is Action.STOP:
        assert d.reason == "budget-exhausted" and d.figures["period"] == "day"
        assert d.figures["day_spent"] == spent


def test_monthly_budget_counts_too():
    u = {**usage(), **usage(spent=5, budget=5, period=Period.MONTH)}
    d = run(u=u)
    assert (d.action, d.figures["period"]) == (Action.STOP, "month")


def test_reserved_money_is_not_spent_money():
    # the session's own reservation fills the budget: it is covered, not exhausted
    d = run(u=usage(spent=10_000_000, reserved=90_000_000))
    assert d.action is Action.LEAVE


def test_no_budget_means_no_budget_stop():
    d = run(u=usage(spent=10**12, budget=None))
    assert d.action is Action.LEAVE


@pytest.mark.parametrize(("elapsed", "action"), [(479, Action.LEAVE), (480, Action.STOP), (481, Action.STOP)])
def test_hard_cap_boundary(elapsed, action):
    d = run(s=session(elapsed=elapsed, lease=600), e=entry(lease=600), opts=replace(OPTS, window=None))
    assert d.action is action or (action is Action.LEAVE and d.action is Action.WARN)
    if action is Action.STOP:
        assert d.reason == "hard-cap" and d.figures["hard_cap_minutes"] == 480


@pytest.mark.parametrize(
    ("heartbeat_ago", "action"),
    [(15, Action.LEAVE), (16, Action.STOP), (None, Action.STOP)],
)
def test_idle_boundary_on_heartbeat(heartbeat_ago, action):
    d = run(e=entry(heartbeat_ago=heartbeat_ago))
    assert d.action is action
    if action is Action.STOP:
        assert d.reason == "idle" and d.figures["idle_timeout_minutes"] == 15


@pytest.mark.parametrize(("elapsed", "action"), [(15, Action.LEAVE), (16, Action.STOP)])
def test_idle_counts_only_once_ready_longer_than_the_timeout(elapsed, action):
    d = run(s=session(elapsed=elapsed), e=entry(heartbeat_ago=None))
    assert d.action is action


def test_a_starting_session_is_never_stopped_for_idleness():
    s = session(elapsed=0, status=SessionStatus.STARTING)
    d = run(s=s, e=entry(heartbeat_ago=None, requested_at=NOW - timedelta(hours=3)))
    assert (d.action, d.reason) == (Action.LEAVE, "starting")


def test_adopted_session_without_heartbeats_is_not_idle_stopped():
    d = run(e=entry(heartbeat_ago=None, adopted=True))
    assert d.action is Action.LEAVE
    d = run(e=entry(heartbeat_ago=20, adopted=True))
    assert (d.action, d.reason) == (Action.STOP, "idle")


def test_stop_reasons_in_order():
    p = policy(enabled=False)
    s = session(elapsed=500, lease=600)
    assert run(s=s, p=p, e=entry(heartbeat_ago=None), u=usage(spent=10**9)).reason == "project-disabled"
    assert run(s=s, e=entry(heartbeat_ago=None), u=usage(spent=10**9)).reason == "budget-exhausted"
    assert run(s=s, e=entry(heartbeat_ago=None)).reason == "hard-cap"


# ---------------------------------------------------------------- extension
@pytest.mark.parametrize(("remaining", "action"), [(10, Action.LEAVE), (9, Action.EXTEND)])
def test_extension_threshold_boundary(remaining, action):
    d = run(s=session(elapsed=120 - remaining, lease=120))
    assert d.action is action


def test_extension_is_total_since_start_from_elapsed_never_doubling():
    d = run(s=session(elapsed=115, lease=120))
    assert (d.action, d.reason, d.event) == (Action.EXTEND, "lease-low", "extend")
    assert d.new_lease == 145 * M  # elapsed 115 + step 30, not 120 + 120 nor 120 * 2
    assert d.reserve is True
    assert d.figures["extra_cost"] == cost_of(RATE, 145) - cost_of(RATE, 120)


def test_extension_is_rounded_up_to_whole_minutes():
    s = replace(session(elapsed=115, lease=120), elapsed=timedelta(minutes=115, seconds=20))
    assert run(s=s).new_lease == 146 * M


def test_extension_needs_a_recent_heartbeat():
    d = run(s=session(elapsed=115, lease=120), e=entry(heartbeat_ago=14))
    assert d.action is Action.EXTEND
    d = run(s=session(elapsed=115, lease=120), e=entry(heartbeat_ago=None, adopted=True))
    assert d.action is Action.LEAVE


def test_extension_is_capped_by_the_hard_cap():
    d = run(s=session(elapsed=465, lease=470), e=entry(lease=470), opts=replace(OPTS, window=timedelta(hours=1)))
    assert d.action is Action.EXTEND and d.new_lease == 480 * M


def test_extension_refused_at_the_hard_cap_once():
    s = session(elapsed=471, lease=480)
    d = run(s=s, e=entry(lease=480))
    assert (d.action, d.reason, d.event) == (Action.WARN, "extension-refused-cap", "refused")
    later = run(s=session(elapsed=472, lease=480), e=entry(lease=480))
    assert (later.action, later.reason) == (Action.LEAVE, "extension-refused-cap")


def test_extension_never_past_arr_limit():
    p = policy(hard_max_duration=timedelta(hours=48))
    s = session(elapsed=1425, lease=1430)
    d = run(s=s, e=entry(lease=1430), p=p, opts=replace(OPTS, window=None))
    assert d.action is Action.EXTEND and d.new_lease == ARR_MAX_UPDATE_LEASE


@pytest.mark.parametrize(("room", "action"), [(0, Action.EXTEND), (-1, Action.WARN)])
def test_extension_only_if_the_budget_covers_the_step(room, action):
    extra = cost_of(RATE, 141) - cost_of(RATE, 120)
    budget, reserved = 100_000_000, 1_000_000
    u = usage(spent=budget - reserved - extra - room, reserved=reserved, budget=budget)  # remaining = extra + room
    d = run(s=session(elapsed=111, lease=120), u=u)  # the first sweep below the 10-minute threshold
    assert d.action is action
    if action is Action.WARN:
        assert (d.reason, d.event) == ("extension-refused-budget", "refused")


@pytest.mark.parametrize(("room", "action"), [(0, Action.EXTEND), (-1, Action.WARN)])
def test_extension_only_if_the_callers_own_budget_covers_the_step(room, action):
    """A key (or principal) with a budget of its own: its spent and reserved money count, and the
    step must fit what is left of it, even when the project's budget has plenty."""
    extra = cost_of(RATE, 141) - cost_of(RATE, 120)
    limits = CallerLimits(daily_budget=20_000_000)
    spent, reserved = 10_000_000, 20_000_000 - 10_000_000 - extra - room  # left = extra + room
    figures = CallerFigures("kiosk", active=1, reserved=reserved, spent={Period.DAY: spent})
    d = decide(
        session(elapsed=111, lease=120), entry(caller="kiosk"), policy(), usage(), NOW, OPTS, 0, (limits, figures)
    )
    assert d.action is action
    if action is Action.WARN:
        assert (d.reason, d.event, d.figures["caller"]) == ("extension-refused-caller", "refused", "kiosk")
        again = decide(
            session(elapsed=112, lease=120), entry(caller="kiosk"), policy(), usage(), NOW, OPTS, 0, (limits, figures)
        )
        assert (again.action, again.reason) == (Action.LEAVE, "extension-refused-caller")  # told once


def test_a_caller_without_a_budget_of_its_own_extends_on_the_projects():
    figures = CallerFigures("kiosk", active=9, reserved=10**12)
    d = decide(
        session(elapsed=111, lease=120),
        entry(caller="kiosk"),
        policy(),
        usage(),
        NOW,
        OPTS,
        0,
        (CallerLimits(max_concurrent=10), figures),
    )
    assert d.action is Action.EXTEND


def test_limits_of_a_key_or_a_principal():
    p = policy(principal_limits={"abc": CallerLimits(daily_budget=5)})
    keys = {"kiosk": CallerLimits(monthly_budget=7)}
    assert limits_of("kiosk", p, keys) == CallerLimits(monthly_budget=7)
    assert limits_of("principal:abc", p, keys) == CallerLimits(daily_budget=5)
    assert limits_of("principal:other", p, keys) is None
    assert limits_of("default", p, keys) is None and limits_of(None, p, keys) is None


def test_the_snapshot_counts_each_callers_sessions_reservations_and_spend():
    e1 = entry(caller="kiosk", reserved=5)
    e2 = replace(entry(caller="kiosk", reserved=7), session_id="s2")
    e3 = replace(entry(caller="other", reserved=11), session_id="s3")
    e4 = replace(entry(reserved=13), session_id="s4")  # no caller recorded
    e5 = replace(entry(caller="kiosk", reserved=17), session_id="s5", project="beta")
    snap = LedgerSnapshot(
        projects={},
        open_entries=[e1, e2, e3, e4, e5],
        usage={},
        caller_spent={("alpha", Period.DAY): {"kiosk": 100, "other": 1}, ("alpha", Period.MONTH): {"kiosk": 300}},
    )
    figures = snap.caller_figures()
    assert figures[("alpha", "kiosk")] == CallerFigures(
        "kiosk", active=2, reserved=12, spent={Period.DAY: 100, Period.MONTH: 300}
    )
    assert figures[("alpha", "other")].reserved == 11 and figures[("beta", "kiosk")].active == 1
    assert figures[("beta", "kiosk")].spent == {}
    assert set(figures) == {("alpha", "kiosk"), ("alpha", "other"), ("beta", "kiosk")}


def test_ledger_lease_ahead_of_arr_is_reapplied_without_new_reservation():
    d = run(s=session(elapsed=100, lease=120), e=entry(lease=145))
    assert (d.action, d.reason, d.new_lease, d.reserve) == (Action.EXTEND, "extension-pending", 145 * M, False)


def test_extension_counts_the_ledger_lease_so_it_never_double_extends():
    # ARR shows 120 but the ledger already holds 145 from an earlier sweep: reapply, no second step
    d = run(s=session(elapsed=119, lease=120), e=entry(lease=145))
    assert d.new_lease == 145 * M and d.reserve is False


def test_extension_target_never_shortens():
    p = policy()
    assert extension_target(session(elapsed=10, lease=600), p) == 40 * M  # below the lease: caller refuses


# ---------------------------------------------------------------- warnings
def test_warn_before_hard_cap_once():
    d = run(s=session(elapsed=470, lease=480), e=entry(lease=480))
    assert (d.action, d.reason, d.event) == (Action.WARN, "hard-cap-soon", "warn")
    assert d.figures["minutes_to_hard_cap"] == 10
    assert run(s=session(elapsed=469, lease=480), e=entry(lease=480)).action is Action.LEAVE
    assert run(s=session(elapsed=471, lease=480), e=entry(lease=480)).reason != "hard-cap-soon"


def test_missed_sweeps_widen_the_warn_window():
    opts = replace(OPTS, window=3 * M)
    d = run(s=session(elapsed=472, lease=480), e=entry(lease=480), opts=opts)
    assert "hard-cap-soon" in (d.reason, d.warning)
    assert run(s=session(elapsed=472, lease=480), e=entry(lease=480)).action is Action.LEAVE


def test_warn_before_budget_stop_at_the_burn_rate():
    # 10 minutes of money left at a burn of 2 sessions (100_000 micros per minute)
    u = usage(spent=100_000_000 - 1_000_000)
    d = run(u=u, burn=2 * RATE)
    assert (d.action, d.reason) == (Action.WARN, "budget-stop-soon")
    assert d.figures["minutes_to_budget_stop"] == 10
    assert run(u=usage(spent=100_000_000 - 1_100_000), burn=2 * RATE).action is Action.LEAVE


def test_extension_carries_a_due_warning():
    s = session(elapsed=470, lease=475)
    d = run(s=s, e=entry(lease=475))
    assert d.action is Action.EXTEND and d.new_lease == 480 * M and d.warning == "hard-cap-soon"


def test_dry_run_is_carried_from_options_or_policy():
    assert run(opts=replace(OPTS, dry_run=True)).dry_run
    assert run(p=policy(dry_run=True)).dry_run
    assert not run().dry_run


def test_a_listed_pending_entry_is_governed_and_marked_active_when_nothing_else_acts():
    """ARR lists the session, so the create happened (the gate may not have written the
    activation yet: it rides the project's next transaction)."""
    d = run(e=entry(state=LedgerState.PENDING))
    assert (d.action, d.reason) == (Action.ACTIVATE, "pending-confirmed")
    assert not d.dry_run and not run(e=entry(state=LedgerState.PENDING), opts=replace(OPTS, dry_run=True)).dry_run


def test_a_listed_pending_entry_is_stopped_like_an_active_one():
    d = run(e=entry(state=LedgerState.PENDING), u=usage(spent=10**9))
    assert (d.action, d.reason) == (Action.STOP, "budget-exhausted")
