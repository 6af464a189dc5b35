"""The OpenAPI document validates and lists exactly the registered HTTP routes."""

import re

from openapi_spec_validator import validate

import function_app
from governor.functions import http
from governor.functions import openapi_doc as openapi


def registered() -> set[tuple[str, str]]:
    routes = set()
    for function in openapi.registered_functions(function_app.app):
        trigger = function.get_trigger().get_dict_repr()
        if trigger["type"] != "httpTrigger":
            continue
        path = "/api/" + re.sub(r"{(\w+)(:[^}]*)?}", r"{\1}", trigger["route"])
        routes |= {(path, m.value.lower()) for m in trigger["methods"]}
    return routes


def test_document_is_valid_openapi_31_and_matches_the_routes():
    document = openapi.document(openapi.registered_functions(function_app.app), "1.2.3")
    validate(document)
    assert document["openapi"] == "3.1.0"
    listed = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert listed == registered()
    assert ("/api/projects/{project}/sessions", "post") in listed


def test_every_gate_refusal_has_a_documented_response():
    document = openapi.document(openapi.registered_functions(function_app.app))
    post = document["paths"]["/api/projects/{project}/sessions"]["post"]
    for reason in ("budget-exhausted", "concurrency-limit", "size-not-allowed", "lease-too-long", "bad-request"):
        status = str(http.PROBLEMS[reason][0])
        assert reason in post["responses"][status]["description"]
        assert "application/problem+json" in post["responses"][status]["content"]


def test_admin_routes_need_the_master_key_and_no_function_starts_with_admin():
    document = openapi.document(openapi.registered_functions(function_app.app))
    for path, operations in document["paths"].items():
        for operation in operations.values():
            assert not operation["operationId"].lower().startswith("admin")
            if path.startswith("/api/manage/"):
                assert operation["security"] == [{"masterKey": []}]
    assert document["paths"]["/api/health"]["get"]["security"] == []


def test_every_http_function_is_described_and_nothing_else():
    names = {
        f.get_function_name()
        for f in openapi.registered_functions(function_app.app)
        if f.get_trigger().get_dict_repr()["type"] == "httpTrigger"
    }
    assert set(openapi.OPERATIONS) == names


def test_dashboards_answer_html_and_refuse_with_problem_json():
    document = openapi.document(openapi.registered_functions(function_app.app))
    for path in ("/api/dashboard", "/api/projects/{project}/dashboard"):
        responses = document["paths"][path]["get"]["responses"]
        assert list(responses["200"]["content"]) == ["text/html"]
        errors = {status: r for status, r in responses.items() if status != "200"}
        assert errors and all(list(r["content"]) == ["application/problem+json"] for r in errors.values())
        assert "bad-request" in responses["400"]["description"]  # ?refresh= out of range
    project_refusals = document["paths"]["/api/projects/{project}/dashboard"]["get"]["responses"]
    assert "unauthorized" in project_refusals["401"]["description"]


def test_working_hours_and_named_keys_are_described_from_their_one_definition():
    from governor.policy.limits import KEY_NAME
    from governor.policy.schedule import WINDOW

    document = openapi.document(openapi.registered_functions(function_app.app))
    paths, schemas = document["paths"], document["components"]["schemas"]
    post = paths["/api/projects/{project}/sessions"]["post"]
    assert "outside-hours" in post["responses"]["403"]["description"]
    keys = paths["/api/manage/projects/{project}/keys"]
    assert set(keys) == {"get", "post"}
    assert keys["post"]["requestBody"]["required"] is False  # no body: revoke all and add one
    assert set(paths["/api/manage/projects/{project}/keys/{keyName}"]) == {"delete"}
    assert set(paths["/api/manage/projects/{project}/keys/{keyName}/rotate"]) == {"post"}
    assert schemas["AddKey"]["properties"]["name"]["pattern"] == KEY_NAME.json_pattern
    assert schemas["Schedule"]["properties"]["hours"]["properties"]["mon"]["items"]["pattern"] == WINDOW.json_pattern
    usage = paths["/api/projects/{project}/usage"]["get"]
    assert "by" in {p["name"] for p in usage["parameters"]}
    assert "caller" in schemas["Session"]["properties"] and "partial" in schemas["Session"]["properties"]


def test_the_documented_limits_are_the_ones_the_gate_enforces():
    """At each boundary the schema and the parser agree: both accept the limit, both refuse one past it."""
    from jsonschema import Draft202012Validator

    from governor.policy.gate import check_idempotency_key, check_project_name, parse_session_request
    from governor.service.ports import Refusal

    document = openapi.document(openapi.registered_functions(function_app.app))
    schema = {**document["components"]["schemas"]["SessionRequest"], "components": document["components"]}
    valid = Draft202012Validator(schema, format_checker=None).is_valid
    post = document["paths"]["/api/projects/{project}/sessions"]["post"]
    parameters = {p["name"]: p["schema"] for p in post["parameters"]}

    def gate_accepts(parse, value) -> bool:
        try:
            parse(value)
        except Refusal:
            return False
        return True

    bodies = [
        {"size": "Standard", "maxLeaseTime": 1440},
        {"size": "Standard", "maxLeaseTime": 1441},
        {"size": "Standard", "maxLeaseTime": 30, "models": ["https://a/" + "x" * 2038]},
        {"size": "Standard", "maxLeaseTime": 30, "models": ["https://a/" + "x" * 2039]},
        {"size": "Standard", "maxLeaseTime": 30, "models": ["https://a"] * 64},
        {"size": "Standard", "maxLeaseTime": 30, "models": ["https://a"] * 65},
    ]
    assert [valid(b) for b in bodies] == [gate_accepts(parse_session_request, b) for b in bodies]
    assert [valid(b) for b in bodies] == [True, False, True, False, True, False]

    def matches(schema: dict, value: str) -> bool:
        return Draft202012Validator(schema).is_valid(value)

    for name, check, values in (
        ("Idempotency-Key", check_idempotency_key, ["k" * 128, "k" * 129, "key\n", "a/b"]),
        ("project", check_project_name, ["p" * 63, "p" * 64, "demo\n", "-demo"]),
    ):
        assert [matches(parameters[name], v) for v in values] == [gate_accepts(check, v) for v in values]
