"""The sweep's side of the money invariant: released rows, v1 claims, audit rows that outlive a crash."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest

from governor.arr import clients_from_settings
from governor.core.model import LedgerEntry, LedgerState, Period, UnmanagedMode, VmSize, cost_of
from governor.service.gate import Caller, GateService
from governor.service.ports import ServiceError
from governor.settings import load
from tests.integration.sweep.conftest import RATE


def audit_of(stack, sid):
    return sorted((r for r in stack.audit() if r.session_id == sid), key=lambda r: r.at)


def reserve(stack, policy, sid, minutes=30):
    lease = timedelta(minutes=minutes)
    entry = LedgerEntry(policy.name, sid, "default", VmSize.STANDARD, LedgerState.PENDING, stack.now, lease, rate=RATE)
    stack.store.reserve(policy.name, entry, lambda snap: cost_of(RATE, minutes), stack.now)


@pytest.mark.parametrize("mode", list(UnmanagedMode))
def test_a_session_running_under_a_released_row_is_stopped_whatever_the_unmanaged_mode(stack, mode):
    policy = stack.project("alpha")
    stack.project("orphans")
    reserve(stack, policy, "given-back")
    stack.store.release("alpha", "given-back", stack.now)  # the governor concluded ARR made nothing
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="given-back")
    stack.advance(5 + 60)
    report = stack.sweep(unmanaged_mode=mode, unmanaged_project="orphans")
    assert report["counts"] == {"stop": 1}
    assert stack.truth()["given-back"]["status"] == "Stopped"
    (row,) = audit_of(stack, "given-back")
    assert (row.action, row.reason, row.outcome, row.project) == ("stop", "released-still-running", "ok", "alpha")
    assert stack.store.list_entries("orphans") == []


@pytest.fixture
def v1(stack):
    stack.arr = clients_from_settings(load({**stack.env, "ARR_API_VERSION": "v1"}))
    yield stack
    for client in stack.arr.values():
        client.close()


def test_a_v1_claim_stops_the_sessions_it_made_charged_and_leaves_others_to_the_unmanaged_mode(v1):
    stack = v1
    policy = stack.project("alpha")
    stack.advance(10 * 60)
    reserve(stack, policy, "claim-1", minutes=30)
    assert stack.store.claim("alpha", "claim-1").claim
    client = stack.arr["default"]
    made = [client.create(VmSize.STANDARD, timedelta(minutes=30)).id for _ in range(2)]  # a retry made two
    other = client.create(VmSize.STANDARD, timedelta(minutes=45)).id  # not the claim's lease
    stack.advance(5 + 3 * 60)
    report = stack.sweep(unmanaged_mode=UnmanagedMode.REPORT)
    assert report["counts"] == {"report": 1, "stop": 2}
    truth = stack.truth()
    assert [truth[sid]["status"] for sid in made] == ["Stopped", "Stopped"] and truth[other]["status"] == "Ready"
    for sid in made:
        entry = stack.store.get_entry("alpha", sid)
        assert entry.state is LedgerState.CLOSED and entry.charged_minutes == truth[sid]["billedSeconds"] // 60 == 3
        assert [(r.action, r.reason, r.outcome) for r in audit_of(stack, sid)] == [("stop", "claimed", "ok")]
    assert stack.store.get_entry("alpha", "claim-1").state is LedgerState.PENDING  # until the claim expires
    stack.advance(8 * 60)
    assert stack.sweep()["counts"] == {"release": 1, "report": 1}
    usage = stack.store.usage("alpha", Period.DAY, Period.DAY.key(stack.now))
    assert (usage.spent, usage.reserved) == (2 * cost_of(RATE, 3), 0)


def test_a_v1_session_made_before_the_claim_window_is_not_the_claims(v1):
    stack = v1
    policy = stack.project("alpha")
    old = stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30)).id
    stack.advance(5 + 10 * 60)  # Ready 10 minutes before the claim's request
    reserve(stack, policy, "claim-2", minutes=30)
    stack.store.claim("alpha", "claim-2")
    assert stack.sweep()["counts"] == {"report": 1}
    assert stack.truth()[old]["status"] == "Ready"


def test_a_v1_session_whose_gate_died_before_activating_it_is_governed_from_the_first_sweep(v1):
    stack = v1
    policy = stack.project("alpha")
    reserve(stack, policy, "gate-died")  # reserved, created in ARR, never activated
    made = stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30)).id
    stack.advance(60)
    assert stack.sweep()["counts"] == {"activate": 1}
    entry = stack.store.get_entry("alpha", made)
    assert entry.state is LedgerState.ACTIVE
    assert stack.store.get_entry("alpha", "gate-died").session_id == made  # the reservation leads to it
    stack.advance(20 * 60)  # nobody heartbeats it: governed like any other session
    assert stack.sweep()["counts"] == {"stop": 1}
    assert stack.truth()[made]["status"] == "Stopped"


def test_a_v1_claim_made_after_the_grace_stops_what_the_dead_gate_made(v1):
    stack = v1
    policy = stack.project("alpha")
    stack.advance(10 * 60)
    reserve(stack, policy, "gate-died")
    stack.advance(6 * 60)  # past the grace: the gate is gone; its create lands late
    made = stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30)).id
    stack.advance(5 + 60)
    assert stack.sweep()["counts"] == {"stop": 1}
    assert stack.truth()[made]["status"] == "Stopped"
    assert stack.store.get_entry("alpha", made).state is LedgerState.CLOSED


class AdoptThenDie:
    """The store of a sweep that dies right after charging a claim's session, before its stop."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def adopt(self, *args, **kwargs):
        self.store.adopt(*args, **kwargs)
        raise RuntimeError("the process died")


@pytest.mark.parametrize("failure", ["stop-refused", "died-after-adopt"])
def test_a_v1_claims_session_left_running_is_stopped_by_the_next_sweep(v1, failure):
    stack = v1
    policy = stack.project("alpha")
    stack.advance(10 * 60)
    reserve(stack, policy, "claim-1", minutes=30)
    stack.store.claim("alpha", "claim-1")
    made = stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30)).id
    stack.advance(5 + 3 * 60)
    real = stack.store
    if failure == "stop-refused":
        stack.emulator.set_faults(rate=1, statuses=[500], retryAfter=0, methods=["DELETE"])
    else:
        stack.store = AdoptThenDie(real)
    stack.sweep()
    stack.emulator.clear_faults()
    stack.store = real
    assert stack.truth()[made]["status"] == "Ready"
    assert [(r.action, r.reason, r.outcome) for r in audit_of(stack, made)] == [("stop", "claimed", "failed")]
    assert stack.store.get_entry("alpha", made).state is LedgerState.ACTIVE  # charged before the stop
    stack.advance(60)
    stack.sweep()
    truth = stack.truth()[made]
    assert truth["status"] == "Stopped"
    entry = stack.store.get_entry("alpha", made)
    assert entry.state is LedgerState.CLOSED and entry.charged_minutes == truth["billedSeconds"] // 60 == 4
    assert [(r.action, r.reason, r.outcome) for r in audit_of(stack, made)][1:] == [("stop", "claimed", "ok")]
    stack.advance(60)
    assert "stop" not in stack.sweep()["counts"]  # stopped once; ARR no longer lists it


class AuditLost:
    """The store of a sweep that dies after acting and before recording what happened."""

    def __init__(self, store):
        self.store = store

    def __getattr__(self, name):
        return getattr(self.store, name)

    def complete_audit(self, records):
        raise RuntimeError("the process died")


def test_an_action_whose_outcome_was_never_recorded_is_completed_by_the_next_sweep(stack):
    policy = stack.project("alpha", idle_timeout=timedelta(minutes=15))
    idle = stack.admit(policy, 60)
    beating = stack.admit(policy, 30)
    stack.advance(5 + 21 * 60)
    stack.heartbeat("alpha", beating)
    real = stack.store
    stack.store = AuditLost(real)
    stack.sweep()
    stack.store = real
    rows = {r.session_id: r for r in stack.audit()}
    assert (rows[idle].action, rows[idle].outcome) == ("stop", "unknown")
    assert (rows[beating].action, rows[beating].outcome) == ("extend", "unknown")
    assert stack.truth()[idle]["status"] == "Stopped"
    stack.advance(60)
    stack.sweep()
    rows = {r.session_id: r for r in stack.audit() if r.figures.get("completed")}
    assert (rows[idle].action, rows[idle].outcome, rows[idle].figures["completed"]) == ("stop", "ok", "next-sweep")
    assert (rows[beating].action, rows[beating].outcome) == ("extend", "ok")  # ARR holds the new lease
    assert stack.store.unfinished_audit(stack.now - timedelta(hours=1)) == []


def test_a_v1_request_that_may_have_made_two_sessions_activates_neither_and_its_claim_stops_both(v1):
    stack = v1
    policy = stack.project("alpha")
    reserve(stack, policy, "retried")  # the gate died after a create its transport had to retry
    made = [stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30)).id for _ in range(2)]
    stack.advance(60)
    assert stack.sweep(unmanaged_mode=UnmanagedMode.STOP)["counts"] == {"leave": 2}  # whose is whose: unknown
    assert [stack.truth()[sid]["status"] for sid in made] == ["Ready", "Ready"]
    assert [[r.reason for r in audit_of(stack, sid)] for sid in made] == [["pending-ambiguous"]] * 2
    assert stack.store.get_entry("alpha", "retried").state is LedgerState.PENDING  # holds their money
    stack.advance(5 * 60)  # past the grace: a claim
    assert stack.sweep(unmanaged_mode=UnmanagedMode.STOP)["counts"] == {"stop": 2}
    truth = stack.truth()
    for sid in made:
        entry = stack.store.get_entry("alpha", sid)
        assert truth[sid]["status"] == "Stopped" and entry.state is LedgerState.CLOSED
        assert entry.charged_minutes == truth[sid]["billedSeconds"] // 60 == 5  # charged from their start


def two_projects_one_session(stack):
    """alpha's and beta's v1 requests at work in one account, 2 s apart; ARR has made beta's session
    only (alpha's create is still on its way)."""
    alpha, beta = stack.project("alpha"), stack.project("beta")
    stack.project("orphans")
    reserve(stack, alpha, "a-req", 30)
    stack.advance(2)
    reserve(stack, beta, "b-req", 30)
    session = stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30))
    stack.advance(60)
    return session


def charged_in(stack, project):
    usage = stack.store.usage(project, Period.DAY, Period.DAY.key(stack.now))
    return usage.spent + usage.reserved


@pytest.mark.parametrize("mode", [UnmanagedMode.STOP, UnmanagedMode.ADOPT])
def test_a_v1_session_two_projects_requests_may_have_made_is_nobodys_until_a_gate_or_a_claim_says(v1, mode):
    stack = v1
    made = two_projects_one_session(stack).id
    stack.sweep(unmanaged_mode=mode, unmanaged_project="orphans")
    assert stack.truth()[made]["status"] == "Ready"  # not unmanaged: not stopped, not adopted
    assert [(r.action, r.reason, r.project) for r in audit_of(stack, made)] == [("leave", "pending-ambiguous", "")]
    assert [stack.store.get_entry(p, made) for p in ("alpha", "beta", "orphans")] == [None, None, None]
    assert {p: stack.store.get_entry(p, f"{p[0]}-req").state for p in ("alpha", "beta")} == {
        "alpha": LedgerState.PENDING,
        "beta": LedgerState.PENDING,
    }
    stack.advance(5 * 60)  # both past the grace: claims, which stop what they match
    stack.sweep(unmanaged_mode=mode, unmanaged_project="orphans")
    truth = stack.truth()[made]
    assert truth["status"] == "Stopped"
    (row,) = [r for r in audit_of(stack, made) if r.action == "stop"]
    assert (row.reason, row.outcome, row.project) == ("claimed", "ok", "alpha")  # the oldest claim pays
    assert stack.store.get_entry("alpha", made).charged_minutes == truth["billedSeconds"] // 60 == 5
    stack.advance(5 * 60)  # the claims expire
    stack.sweep(unmanaged_mode=mode, unmanaged_project="orphans")
    assert (charged_in(stack, "alpha"), charged_in(stack, "beta")) == (cost_of(RATE, 5), 0)
    assert stack.store.list_entries("orphans") == []


def test_a_v1_session_two_projects_requests_may_have_made_is_charged_to_the_one_whose_gate_activates_it(v1):
    stack = v1
    session = two_projects_one_session(stack)
    stack.sweep()
    stack.store.activate("beta", "b-req", session)  # beta's gate, still at work, got its create's answer
    for _ in range(11):  # alpha's request becomes a claim, matches nothing and expires
        stack.advance(60)
        stack.sweep()
    assert stack.truth()[session.id]["status"] == "Ready"
    assert stack.store.get_entry("alpha", session.id) is None
    assert stack.store.get_entry("alpha", "a-req").released
    assert stack.store.get_entry("beta", session.id).state is LedgerState.ACTIVE
    assert charged_in(stack, "alpha") == 0 and charged_in(stack, "beta") == cost_of(RATE, 30)


def test_gate_rows_a_dead_gate_left_unknown_are_completed_by_the_sweep_after_the_grace(stack):
    policy = stack.project("alpha")
    caller = Caller(key=stack.store.rotate_key("alpha", scope="project"))  # the rows are admitted keyless
    stopped, extended, unanswered = (stack.admit(policy, 30) for _ in range(3))
    stack.advance(5 + 20 * 60)
    dying = GateService(AuditLost(stack.store), stack.arr, stack.clock)  # dies before each completion
    dying.stop("alpha", caller, stopped)
    dying.extend("alpha", caller, extended, {})
    stack.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=r"/:stop$")
    with pytest.raises(ServiceError):  # ARR never answers: the gate cannot say what happened
        GateService(stack.store, stack.arr, stack.clock).stop("alpha", caller, unanswered)
    stack.emulator.clear_faults()
    assert stack.truth()[stopped]["status"] == "Stopped" and stack.truth()[unanswered]["status"] == "Ready"
    assert stack.truth()[extended]["maxLeaseMinutes"] == 50

    def gate_rows():
        return {r.session_id: r for r in stack.audit() if r.source == "gate"}

    assert {sid: (r.action, r.outcome) for sid, r in gate_rows().items()} == {
        stopped: ("stop", "unknown"),
        extended: ("extend", "unknown"),
        unanswered: ("stop", "unknown"),
    }
    stack.advance(60)
    stack.heartbeat("alpha", extended)
    stack.heartbeat("alpha", unanswered)
    stack.sweep()
    assert {r.outcome for r in gate_rows().values()} == {"unknown"}  # younger than a gate request may last
    stack.advance(5 * 60)
    stack.heartbeat("alpha", extended)
    stack.heartbeat("alpha", unanswered)
    stack.sweep()
    rows = gate_rows()
    assert {sid: (r.action, r.outcome) for sid, r in rows.items()} == {
        stopped: ("stop", "ok"),  # ARR no longer lists it
        extended: ("extend", "ok"),  # ARR holds the granted lease
        unanswered: ("stop", "failed"),  # still listed: the stop did not happen
    }
    assert all(r.figures["completed"] == "next-sweep" for r in rows.values())
    assert rows[unanswered].figures["error"] == "interrupted"
    assert stack.store.get_entry("alpha", stopped).saved_lease == 0  # the caller's stop is no governor saving
    assert stack.store.unfinished_audit(stack.now - timedelta(hours=1), source="gate") == []


@pytest.mark.parametrize("mode", [UnmanagedMode.STOP, UnmanagedMode.ADOPT])
def test_a_session_admitted_while_the_sweep_lists_arr_is_governed_not_unmanaged(stack, mode):
    """ARR's list is slow (2 s, as a real one can be), and an ordinary admission (reserve, create,
    activate) lands while it is on its way. The session was reserved before ARR made it, so the
    sweep must find its row: not stop it as unmanaged, nor adopt it into a second row and charge
    its minutes twice."""
    alpha = stack.project("alpha")
    stack.project("orphans")
    stack.emulator.set_faults(latencyMs=2000, paths=r"/sessions$", methods=["GET"])
    swept: dict = {}
    sweep = threading.Thread(target=lambda: swept.update(stack.sweep(unmanaged_mode=mode, unmanaged_project="orphans")))
    sweep.start()
    time.sleep(0.7)  # the sweep is waiting for ARR's list
    sid = stack.admit(alpha, 30)
    sweep.join()
    stack.emulator.clear_faults()
    assert swept.get("outcome") == "ok", swept
    assert stack.truth()[sid]["status"] != "Stopped"
    assert [r.reason for r in audit_of(stack, sid) if r.action in ("stop", "adopt")] == []
    assert stack.store.get_entry("orphans", sid) is None
    stack.advance(10 * 60)
    stack.sweep(unmanaged_mode=mode, unmanaged_project="orphans")
    assert 9 <= stack.store.get_entry("alpha", sid).charged_minutes <= 10  # metered under its own row
    assert stack.store.get_entry("orphans", sid) is None
