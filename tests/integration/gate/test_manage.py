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
    fine = {**DOC, "account": "main", "currency": "EUR", "principals": ["role:viewers"]}
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
