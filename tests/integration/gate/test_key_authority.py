"""Issue 22: a key acts only on the sessions it started, unless the manage API gave it the whole
project; an extension is charged to the session's own caller whoever asks."""

from __future__ import annotations

from governor.core.model import MICROS, CallerLimits, utcnow

BODY = {"size": "Standard", "maxLeaseTime": 30}


def _keys(gate):
    gate.project(max_concurrent=10)
    now = utcnow()
    kiosk = gate.store.add_key("alpha", "kiosk", now, limits=CallerLimits(daily_budget=3 * MICROS))
    other = gate.store.add_key("alpha", "other", now)
    operator = gate.store.add_key("alpha", "operator", now, scope="project")
    return kiosk, other, operator


def test_another_own_scope_key_can_do_nothing_to_a_session(gate):
    kiosk, other, _ = _keys(gate)
    sid = gate.create("alpha", kiosk, BODY).body["sessionId"]
    gate.emulator.advance(6)
    for reply in (
        gate.get("alpha", other, sid),
        gate.heartbeat("alpha", other, sid),
        gate.extend("alpha", other, sid, {"maxLeaseTime": 60}),
        gate.connect("alpha", other, sid),
        gate.stop("alpha", other, sid),
    ):
        assert (reply.status, reply.reason, reply.body["limit"]) == (403, "forbidden", "scope"), reply.body
    assert [s["status"] for s in gate.open_sessions_in_arr()] == ["Ready"]
    assert gate.open_sessions_in_arr()[0]["maxLeaseMinutes"] == 30
    assert gate.get("alpha", kiosk, sid).status == 200  # its own caller still can


def test_a_project_key_acts_on_every_session_but_pays_from_the_sessions_caller(gate):
    kiosk, _, operator = _keys(gate)
    sid = gate.create("alpha", kiosk, BODY).body["sessionId"]  # 3.00 held of the kiosk's 3.00
    gate.emulator.advance(6)
    assert gate.get("alpha", operator, sid).status == 200
    assert gate.heartbeat("alpha", operator, sid).status == 200
    refused = gate.extend("alpha", operator, sid, {"maxLeaseTime": 90})  # the project could pay; the kiosk not
    assert (refused.status, refused.reason, refused.body["limit"]) == (402, "budget-exhausted", "caller")
    assert gate.open_sessions_in_arr()[0]["maxLeaseMinutes"] == 30
    stopped = gate.stop("alpha", operator, sid)
    assert stopped.status == 200 and stopped.body["status"] == "Stopped"


def test_the_list_shows_an_own_scope_key_only_its_sessions_and_a_project_key_all(gate):
    kiosk, other, operator = _keys(gate)
    mine = gate.create("alpha", kiosk, BODY).body["sessionId"]
    theirs = gate.create("alpha", other, BODY).body["sessionId"]
    listed = {name: gate.list("alpha", key) for name, key in (("kiosk", kiosk), ("other", other), ("op", operator))}
    assert all(reply.status == 200 for reply in listed.values())
    ids = {name: sorted(s["sessionId"] for s in reply.body["sessions"]) for name, reply in listed.items()}
    assert ids == {"kiosk": [mine], "other": [theirs], "op": sorted([mine, theirs])}
    assert listed["kiosk"].body["budget"] == listed["op"].body["budget"]  # the project's figures either way


def test_an_idempotency_key_does_not_reach_another_callers_session(gate):
    """An own-scope key cannot read, resume or restart another caller's request by sending its
    Idempotency-Key; a project key may replay it, as it may act on the session anyway."""
    kiosk, other, operator = _keys(gate)
    headers = {"Idempotency-Key": "shared-key-1"}
    first = gate.create("alpha", kiosk, BODY, headers=headers)
    assert first.status == 202, first.body
    taken = gate.create("alpha", other, BODY, headers=headers)
    assert (taken.status, taken.reason, taken.body.get("field")) == (403, "forbidden", "Idempotency-Key"), taken.body
    assert first.body["sessionId"] not in str(taken.body)
    assert len(gate.open_sessions_in_arr()) == 1
    replayed = gate.create("alpha", operator, BODY, headers=headers)
    assert replayed.status == 202 and replayed.body["replayed"] is True, replayed.body
    assert replayed.body["sessionId"] == first.body["sessionId"]
    assert replayed.body["caller"] == "kiosk"


def test_the_project_dashboard_shows_an_own_scope_key_only_its_sessions(gate):
    """As the session list does: another own-scope key's page names none of the kiosk's sessions,
    decisions or spend; the kiosk's and the project key's pages do."""
    from tests.integration.gate.test_placement import dashboard_page

    kiosk, other, operator = _keys(gate)
    sid = gate.create("alpha", kiosk, BODY).body["sessionId"]
    gate.emulator.advance(6)
    assert gate.connect("alpha", kiosk, sid).status == 200  # an audited action of the kiosk's
    seen = {name: dashboard_page(gate, "alpha", key) for name, key in (("kiosk", kiosk), ("other", other))}
    seen["operator"] = dashboard_page(gate, "alpha", operator)
    assert sid[:8] in seen["kiosk"] and sid[:8] in seen["operator"]
    assert sid[:8] not in seen["other"]
    assert ">kiosk<" in seen["operator"] and ">kiosk<" not in seen["other"]
