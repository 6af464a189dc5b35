"""Cross-project access matrix: project A's key never touches project B (403/404, never data)."""

import pytest

ROUTES = ("get", "heartbeat", "extend", "stop", "list", "usage", "create")


def attempt(gate, route, project, key, sid):
    if route in ("get", "heartbeat", "stop"):
        return getattr(gate, route)(project, key, sid)
    if route == "extend":
        return gate.extend(project, key, sid, {"maxLeaseTime": 90})
    if route in ("list", "usage"):
        return getattr(gate, route)(project, key)
    return gate.create(project, key)


@pytest.fixture
def two_projects(gate):
    keys = {"alpha": gate.project("alpha"), "beta": gate.project("beta")}
    sessions = {p: gate.create(p, keys[p]).body["sessionId"] for p in keys}
    return keys, sessions


def test_every_route_with_a_foreign_key_is_refused_without_data(gate, two_projects):
    keys, sessions = two_projects
    for route in ROUTES:
        # alpha's key on beta's project and session; and alpha's key on alpha's URL with beta's session
        foreign = attempt(gate, route, "beta", keys["alpha"], sessions["beta"])
        assert foreign.status == 403, (route, foreign.body)
        assert set(foreign.body) == {"type", "title", "status", "detail", "instance"}  # a problem, no data
        assert sessions["beta"] not in foreign.body["detail"]
        if route in ("get", "heartbeat", "extend", "stop"):
            smuggled = attempt(gate, route, "alpha", keys["alpha"], sessions["beta"])
            assert smuggled.status == 404, (route, smuggled.body)
            assert smuggled.reason == "not-found"
    # nothing of beta moved
    gate.settle()
    beta = gate.store.get_entry("beta", sessions["beta"])
    assert beta.last_heartbeat is None and beta.lease.total_seconds() == 3600 and beta.state.value == "active"
    assert len(gate.open_sessions_in_arr()) == 2
    assert gate.create("beta", keys["beta"]).status == 202  # beta's own key still works


def test_a_principal_is_honoured_only_when_app_service_auth_is_on(gate, monkeypatch):
    import base64
    import json

    from governor.bootstrap import reset_context

    gate.project("alpha", principals=frozenset({"role:viewers-alpha"}))
    claims = {"claims": [{"typ": "roles", "val": "viewers-alpha"}]}
    header = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(claims).encode()).decode()}
    assert gate.list("alpha", None, headers=header).status == 401
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "True")
    reset_context()
    assert gate.list("alpha", None, headers=header).status == 200
    other = {"claims": [{"typ": "roles", "val": "viewers-beta"}]}
    header = {"X-MS-CLIENT-PRINCIPAL": base64.b64encode(json.dumps(other).encode()).decode()}
    assert gate.list("alpha", None, headers=header).status == 401
