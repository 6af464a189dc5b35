"""Admin routes under manage/: project documents and key rotation."""

import pytest

DOC = {
    "allowedSizes": ["Standard"],
    "rates": {"Standard": "6"},
    "budget": {"daily": "50"},
    "maxConcurrent": 2,
    "maxLeaseMinutes": 120,
    "webhookSecret": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}


REVOKE_OTHERS = {"revokeOthers": True}


def manage(gate, name, method, project=None, body=None):
    route = "manage/projects" + (f"/{project}" if project else "")
    if name == "manage_rotate_key":
        route += "/keys"
    return gate.call(name, method, route, {"project": project} if project else {}, body)


def test_put_get_list_rotate_delete(gate):
    created = manage(gate, "manage_put_project", "PUT", "demo", DOC)
    assert created.status == 201, created.body
    assert created.body["name"] == "demo" and created.body["budget"]["daily"] == "50.000000"
    assert "webhookSecret" not in created.body
    assert manage(gate, "manage_put_project", "PUT", "demo", {**DOC, "maxConcurrent": 3}).status == 200
    assert manage(gate, "manage_get_project", "GET", "demo").body["maxConcurrent"] == 3
    assert [p["name"] for p in manage(gate, "manage_list_projects", "GET").body["projects"]] == ["demo"]

    first = manage(gate, "manage_rotate_key", "POST", "demo", REVOKE_OTHERS)
    assert first.status == 201 and first.headers["Cache-Control"] == "no-store"
    assert gate.create("demo", first.body["key"]).status == 202
    second = manage(gate, "manage_rotate_key", "POST", "demo", REVOKE_OTHERS).body["key"]
    assert gate.list("demo", first.body["key"]).status == 403
    assert gate.list("demo", second).status == 200

    assert manage(gate, "manage_delete_project", "DELETE", "demo").status == 204
    assert manage(gate, "manage_get_project", "GET", "demo").reason == "unknown-project"
    assert manage(gate, "manage_delete_project", "DELETE", "demo").status == 404


def test_bad_documents_name_the_field(gate):
    reply = manage(gate, "manage_put_project", "PUT", "demo", {**DOC, "maxConcurrent": "many"})
    assert (reply.status, reply.reason, reply.body["field"]) == (400, "bad-request", "maxConcurrent")
    reply = manage(gate, "manage_put_project", "PUT", "demo", {**DOC, "name": "other"})
    assert (reply.status, reply.body["field"]) == (400, "name")
    assert manage(gate, "manage_put_project", "PUT", "demo", b"[").status == 400
    assert manage(gate, "manage_rotate_key", "POST", "ghost", REVOKE_OTHERS).status == 404


def test_trailing_newlines_case_duplicate_rates_and_duplicate_keys_are_bad_requests(gate):
    cases = [
        ({**DOC, "account": "main\n"}, "account"),
        ({**DOC, "currency": "EUR\n"}, "currency"),
        ({**DOC, "principals": ["role:viewers\n"]}, "principals[0]"),
        ({**DOC, "rates": {"Standard": "6", "standard": "7"}}, "rates.standard"),
        (
            b'{"allowedSizes": ["Standard"], "rates": {"Standard": 6}, "maxConcurrent": 1, "maxConcurrent": 9}',
            "maxConcurrent",
        ),
    ]
    for body, field in cases:
        reply = manage(gate, "manage_put_project", "PUT", "demo", body)
        assert (reply.status, reply.reason, reply.body["field"]) == (400, "bad-request", field), body
        assert reply.mimetype == "application/problem+json"
    assert manage(gate, "manage_get_project", "GET", "demo").status == 404  # nothing was stored
    fine = {**DOC, "account": "default", "currency": "EUR", "principals": ["role:viewers"]}  # a configured account
    assert manage(gate, "manage_put_project", "PUT", "demo", fine).status == 201


def test_manage_routes_are_admin_level():
    from tests.integration.gate.conftest import functions

    for name, function in functions().items():
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger":
            continue
        auth, route = trigger["authLevel"], trigger["route"]
        if route.startswith("manage/"):
            assert auth.value == "admin", name
        assert not name.lower().startswith("admin") and not route.lower().startswith("admin")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (None, "body"),  # no body at all
        (b"null", "body"),
        (b"   ", "body"),
        (b"[]", "body"),
        (b'"revokeOthers"', "body"),
        (b"true", "body"),
        (b"{}", "name"),
        ({"revokeOthers": False}, "revokeOthers"),
        ({"revokeOthers": "true"}, "revokeOthers"),
        ({"revokeOthers": 1}, "revokeOthers"),
        ({"revokeOthers": None}, "revokeOthers"),
        ({"revokeOthers": True, "colour": "red"}, "colour"),
        ({"revokeOthers": True, "scope": "everything"}, "scope"),
    ],
)
def test_only_an_explicit_revoke_others_revokes_every_key(gate, body, field):
    """Issue 22: a body of null or blanks answered 201 and revoked every key; now a 400 naming the field."""
    assert manage(gate, "manage_put_project", "PUT", "demo", DOC).status == 201
    kept = manage(gate, "manage_rotate_key", "POST", "demo", {"name": "kept"}).body["key"]
    reply = manage(gate, "manage_rotate_key", "POST", "demo", body)
    assert (reply.status, reply.reason, reply.body["field"]) == (400, "bad-request", field)
    assert gate.list("demo", kept).status == 200  # nothing was revoked


def test_revoke_others_with_a_name_scope_and_limits(gate):
    assert manage(gate, "manage_put_project", "PUT", "demo", DOC).status == 201
    old = manage(gate, "manage_rotate_key", "POST", "demo", {"name": "old"}).body["key"]
    body = {"revokeOthers": True, "name": "ops", "scope": "project", "maxConcurrent": 1}
    reply = manage(gate, "manage_rotate_key", "POST", "demo", body)
    assert reply.status == 201 and reply.body["name"] == "ops" and reply.body["scope"] == "project"
    assert reply.body["limits"]["maxConcurrent"] == 1 and "revokeOthers" not in reply.body
    assert gate.list("demo", old).status == 403 and gate.list("demo", reply.body["key"]).status == 200


def test_a_rate_is_at_most_what_the_ledger_can_sum(gate):
    """A rate of a trillion an hour was accepted and its first 24-hour session answered 500 (its
    cost overflows Table Storage's Int64 of micros): rates stop at 10,000 an hour, where a
    session's largest cost and a month's sums fit with room to spare."""
    from governor.core.policy.document import MAX_RATE

    long = {**DOC, "maxLeaseMinutes": 1440, "hardMaxMinutes": 1440, "budget": {"daily": "1000000000000"}}
    reply = manage(gate, "manage_put_project", "PUT", "rich", {**long, "rates": {"Standard": "1000000000000"}})
    assert (reply.status, reply.body["field"]) == (400, "rates.Standard"), reply.body
    assert str(MAX_RATE) in reply.body["detail"]
    placed = {**long, "placement": [{"account": "default", "rates": {"Standard": str(MAX_RATE + 1)}}]}
    assert manage(gate, "manage_put_project", "PUT", "rich", placed).body["field"] == "placement[0].rates.Standard"
    most = {**long, "rates": {"Standard": str(MAX_RATE)}}
    assert manage(gate, "manage_put_project", "PUT", "rich", most).status == 201
    key = gate.store.rotate_key("rich")
    for _ in range(2):  # the largest rate, the longest lease: admitted, twice
        made = gate.create("rich", key, {"size": "Standard", "maxLeaseTime": 1440})
        assert made.status == 202, made.body
    assert made.body["reservedCost"] == f"{MAX_RATE * 24}.000000"


def test_a_project_naming_an_account_the_app_lacks_is_refused(gate):
    """Otherwise every request of the project answers 503 'not configured' until someone notices."""
    reply = manage(gate, "manage_put_project", "PUT", "lost", {**DOC, "account": "nowhere"})
    assert (reply.status, reply.body["field"]) == (400, "account"), reply.body
    assert "'nowhere' is not configured (configured: default)" in reply.body["detail"]
    reply = manage(gate, "manage_put_project", "PUT", "lost", {**DOC, "placement": ["default", "nowhere"]})
    assert (reply.status, reply.body["field"]) == (400, "placement[1]"), reply.body
    assert manage(gate, "manage_get_project", "GET", "lost").status == 404  # nothing was stored
    assert manage(gate, "manage_put_project", "PUT", "lost", {**DOC, "account": "default"}).status == 201
