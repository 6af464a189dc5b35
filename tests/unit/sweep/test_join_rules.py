"""The join's pure rules (governor.core.policy.sweep_reconcile): facts in, what each row and listed session is."""

from dataclasses import replace
from datetime import timedelta

from governor.core.model import LedgerState, SessionStatus, UnmanagedMode
from governor.core.policy.sweep import Action
from governor.core.policy.sweep_reconcile import (
    LOOKUP_FAILED,
    decide_looked_up,
    decide_lookup_failed,
    decide_strays,
    join,
    strays,
)
from tests.unit.sweep.test_decisions import NOW, OPTS, entry, policy, session


def pending(sid, minutes_ago, **kw):
    return entry(session_id=sid, state=LedgerState.PENDING, requested_at=NOW - timedelta(minutes=minutes_ago), **kw)


def listed(sid, account="default", **kw):
    return replace(session(), id=sid, account=account, **kw)


def test_a_listed_row_is_managed_a_missing_one_looked_up_and_an_unlisted_account_skipped():
    rows = {
        ("default", "a"): entry(session_id="a"),
        ("default", "b"): entry(session_id="b"),
        ("down", "c"): entry(session_id="c", account="down"),  # its account's list failed
    }
    live = {("default", "a"): listed("a")}
    joined = join(rows, live, {"default"}, NOW, OPTS)
    assert [(e.session_id, s.id) for e, s in joined.managed] == [("a", "a")]
    assert [e.session_id for e in joined.to_look_up] == ["b"]
    assert (joined.claims, joined.starting, joined.released) == ([], [], [])


def test_a_listed_pending_row_is_managed_a_missing_one_looked_up_once_past_the_grace():
    rows = {
        ("default", "listed"): pending("listed", 1),
        ("default", "young"): pending("young", 4),
        ("default", "due"): pending("due", 6),
    }
    joined = join(rows, {("default", "listed"): listed("listed")}, {"default"}, NOW, OPTS)
    assert [e.session_id for e, _ in joined.managed] == ["listed"]
    assert [e.session_id for e in joined.to_look_up] == ["due"]  # the young one: nothing this run


def test_v1_rows_are_requests_at_work_or_claims_by_request_time_and_expired_claims_are_released():
    rows = {
        ("v1", "late"): pending("late", 3, account="v1"),
        ("v1", "early"): pending("early", 4, account="v1"),
        ("v1", "ambiguous"): pending("ambiguous", 2, account="v1", claim=True),
        ("v1", "gone"): pending("gone", 7, account="v1"),  # the gate is gone: a claim
        ("v1", "expired"): pending("expired", 11, account="v1", claim=True),
    }
    joined = join(rows, {}, {"v1"}, NOW, OPTS, v1_accounts={"v1"})
    assert [e.session_id for e in joined.starting] == ["early", "late"]
    assert [e.session_id for e in joined.claims] == ["expired", "gone", "ambiguous"]  # still matched this run
    ((released, decision),) = joined.released
    assert (released.session_id, decision.action, decision.reason) == ("expired", Action.RELEASE, "claim-expired")
    assert joined.to_look_up == [] and joined.managed == []


def test_a_looked_up_row_is_decided_as_pending_or_vanished():
    assert decide_looked_up(pending("p", 6), None, NOW).reason == "pending-orphaned"
    assert decide_looked_up(pending("p", 6), session(), NOW).action is Action.ACTIVATE
    assert decide_looked_up(entry(charged_minutes=7), None, NOW).reason == "vanished-unknown"
    ended = decide_looked_up(entry(), replace(session(elapsed=9), status=SessionStatus.STOPPED), NOW)
    assert (ended.action, ended.reason, ended.figures["final_minutes"]) == (Action.CLOSE, "ended-stopped", 9)


def test_a_failed_look_up_leaves_the_row_with_its_error():
    d = decide_lookup_failed("http-503")
    assert (d.action, d.reason, d.figures, d.acts) == (Action.LEAVE, LOOKUP_FAILED, {"error": "http-503"}, False)


def test_strays_are_the_listed_sessions_no_open_row_owns():
    live = {("default", "a"): listed("a"), ("default", "b"): listed("b")}
    assert list(strays(live, {("default", "a"): entry(session_id="a")})) == [("default", "b")]
    assert strays(live, live.keys()) == {}


def decide(found, closed=None, claims=(), starting=(), mode=UnmanagedMode.REPORT, adopt_into=None):
    return decide_strays(found, closed or {}, claims, starting, mode, adopt_into, NOW, OPTS)


def test_a_session_under_a_closed_row_of_its_account_is_stopped_and_charged_to_nobody_new():
    closed = {"x": entry(session_id="x", project="beta", state=LedgerState.CLOSED)}
    (stray,) = decide({("default", "x"): listed("x")}, closed)
    assert (stray.project, stray.decision.reason, stray.entry, stray.claim) == (
        "beta",
        "released-still-running",
        None,
        None,
    )
    (other,) = decide({("elsewhere", "x"): listed("x", account="elsewhere")}, closed)  # same id, other account
    assert (other.project, other.decision.action, other.decision.reason) == ("", Action.REPORT, "unmanaged")


def test_a_request_at_work_takes_its_one_session_first_and_leaves_two_it_cannot_tell_apart():
    made = replace(listed("arr-1"), created=NOW - timedelta(minutes=2))
    again = replace(listed("arr-2"), created=NOW - timedelta(minutes=1))
    request = pending("row", 3)
    starting = [request]
    (first,) = decide({("default", "arr-1"): made}, starting=starting)
    assert (first.entry, first.decision.action, first.decision.reason) == (
        request,
        Action.ACTIVATE,
        "pending-confirmed",
    )
    both = decide({("default", "arr-1"): made, ("default", "arr-2"): again}, starting=starting)
    assert [(s.entry, s.claim, s.project, s.decision.action, s.decision.reason) for s in both] == [
        (None, None, "", Action.LEAVE, "pending-ambiguous")
    ] * 2
    assert both[0].decision.figures["requests"] == ["alpha/row"]
    assert starting == [request]  # the caller's lists are left as they were


def test_a_claims_session_is_charged_to_its_project_and_stopped():
    claim = pending("row", 3, project="beta", claim=True)
    made = replace(listed("arr-1"), created=NOW - timedelta(minutes=2))
    (stray,) = decide({("default", "arr-1"): made}, claims=[claim])
    assert (stray.project, stray.claim, stray.entry, stray.decision.action) == ("beta", claim, None, Action.STOP)


def test_the_rest_go_to_the_unmanaged_mode_adopted_into_its_project():
    found = {("default", "u"): listed("u")}
    (adopted,) = decide(found, mode=UnmanagedMode.ADOPT, adopt_into=policy(name="orphans"))
    assert (adopted.project, adopted.decision.action) == ("orphans", Action.ADOPT)
    (nowhere,) = decide(found, mode=UnmanagedMode.ADOPT)
    assert (nowhere.project, nowhere.decision.reason) == ("", "unmanaged-adopt-project-missing")
    (stopped,) = decide(found, mode=UnmanagedMode.STOP)
    assert (stopped.project, stopped.decision.action) == ("", Action.STOP)
