"""v1 claims as pure rules: a claim's adopted session is stopped until it is gone, a session several
young requests may have made is nobody's yet, and the oldest claim pays for what claims share."""

from dataclasses import replace
from datetime import timedelta

import pytest

from governor.core.model import LedgerState, UnmanagedMode
from governor.core.policy.sweep import Action
from governor.core.policy.sweep_reconcile import decide_strays
from tests.unit.sweep.test_decisions import NOW, OPTS, entry, policy, run, session


def request(project, sid, minutes_ago, lease=30, **kw):
    at = NOW - timedelta(minutes=minutes_ago)
    return entry(project=project, session_id=sid, state=LedgerState.PENDING, requested_at=at, lease=lease, **kw)


def made(sid, minutes_ago=1, account="default"):
    return replace(session(elapsed=0, lease=30), id=sid, account=account, created=NOW - timedelta(minutes=minutes_ago))


def strays(found, claims=(), starting=(), mode=UnmanagedMode.STOP):
    listed = {(s.account, s.id): s for s in found}
    return decide_strays(listed, {}, claims, starting, mode, policy(name="orphans"), NOW, OPTS)


def test_a_session_adopted_for_a_claim_is_stopped_by_every_sweep_whatever_the_project_allows():
    adopted = entry(adopted=True, claim=True, heartbeat_ago=None)
    d = run(e=adopted)
    assert (d.action, d.reason, d.event, d.dry_run) == (Action.STOP, "claimed", "stop", False)
    assert not run(e=adopted, p=policy(dry_run=True)).dry_run  # as when it was claimed
    assert run(e=adopted, opts=replace(OPTS, dry_run=True)).dry_run
    assert run(e=replace(adopted, claim=False)).action is Action.LEAVE  # an ordinary adopted session runs


@pytest.mark.parametrize("mode", list(UnmanagedMode))
def test_a_session_two_projects_young_requests_may_have_made_is_left_to_them_whatever_the_mode(mode):
    alpha, beta = request("alpha", "a-req", 2), request("beta", "b-req", 1)
    claim = request("gamma", "c-req", 3, claim=True)
    (stray,) = strays([made("arr-1")], claims=[claim], starting=[alpha, beta], mode=mode)
    assert (stray.project, stray.entry, stray.claim) == ("", None, None)
    assert (stray.decision.action, stray.decision.reason, stray.decision.acts) == (
        Action.LEAVE,
        "pending-ambiguous",
        False,
    )
    assert stray.decision.figures["requests"] == ["alpha/a-req", "beta/b-req"]


def test_a_request_takes_a_session_only_when_nothing_else_may_have_made_it_or_been_made_by_it():
    alpha, beta = request("alpha", "a-req", 2), request("beta", "b-req", 1, lease=45)
    (mine,) = strays([made("arr-1")], starting=[alpha, beta])  # beta asked for another lease
    assert (mine.project, mine.entry, mine.decision.action) == ("alpha", alpha, Action.ACTIVATE)
    elsewhere = made("arr-2", account="other")  # another account: not alpha's
    first, other = strays([made("arr-1"), elsewhere], starting=[alpha])
    assert (first.entry, other.entry, other.decision.reason) == (alpha, None, "unmanaged")


def test_the_oldest_claim_pays_for_a_session_several_claims_may_have_made_in_any_order():
    older, newer = request("beta", "b-req", 4, claim=True), request("alpha", "a-req", 3, claim=True)
    for claims in ([older, newer], [newer, older]):
        (stray,) = strays([made("arr-1")], claims=claims)
        assert (stray.project, stray.claim, stray.decision.reason) == ("beta", older, "claimed")
    tied = [request(p, f"{p}-req", 3, claim=True) for p in ("gamma", "alpha", "beta")]
    for claims in (tied, tied[::-1]):
        (stray,) = strays([made("arr-1")], claims=claims)
        assert stray.project == "alpha"
