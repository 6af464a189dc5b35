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
    from governor.core.policy.callers import KEY_SCOPES
    from governor.core.policy.limits import KEY_NAME
    from governor.core.policy.schedule import WINDOW

    document = openapi.document(openapi.registered_functions(function_app.app))
    paths, schemas = document["paths"], document["components"]["schemas"]
    post = paths["/api/projects/{project}/sessions"]["post"]
    assert "outside-hours" in post["responses"]["403"]["description"]
    keys = paths["/api/manage/projects/{project}/keys"]
    assert set(keys) == {"get", "post"}
    assert keys["post"]["requestBody"]["required"] is True  # issue 22: revoking all takes {"revokeOthers": true}
    assert schemas["AddKey"]["properties"]["scope"]["enum"] == list(KEY_SCOPES)
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

    from governor.core.policy.gate import check_idempotency_key, check_project_name, parse_session_request
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


def _document() -> dict:
    return openapi.document(openapi.registered_functions(function_app.app))


def _operations(document: dict):
    for path, methods in document["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_every_operation_has_a_summary_a_description_one_declared_tag_and_examples():
    document = _document()
    declared = [tag["name"] for tag in document["tags"]]
    assert len(declared) == len(set(declared)) and all(tag["description"] for tag in document["tags"])
    assert document["info"]["description"] and document["info"]["contact"]
    used = set()
    for path, method, operation in _operations(document):
        where = f"{method.upper()} {path}"
        assert operation["summary"] and operation["description"], where
        assert len(operation["tags"]) == 1 and operation["tags"][0] in declared, where
        used |= set(operation["tags"])
        for parameter in operation.get("parameters", []):
            assert parameter["description"], (where, parameter["name"])
        if "requestBody" in operation:
            assert operation["requestBody"]["content"]["application/json"]["examples"], where
        for status, response in operation["responses"].items():
            assert response["description"], (where, status)
            if status == "204":
                assert "content" not in response
                continue
            for media_type, content in response["content"].items():
                assert content["examples"], (where, status, media_type)
                if media_type == http.PROBLEM_JSON:  # one example per reason the description names
                    reasons = re.findall(r"(?:^|; )([a-z-]+): ", response["description"])
                    assert sorted(content["examples"]) == sorted(reasons), (where, status)
    assert used == set(declared)


def test_every_problem_example_is_what_http_problem_renders_for_its_reason():
    for path, method, operation in _operations(_document()):
        for status, response in operation["responses"].items():
            for reason, example in response.get("content", {}).get(http.PROBLEM_JSON, {}).get("examples", {}).items():
                body = example["value"]
                assert body["type"] == http.PROBLEM_BASE + reason
                assert (body["status"], body["title"]) == http.PROBLEMS[reason] and str(body["status"]) == status
                assert body["instance"].startswith("/api/") and "{" not in body["instance"], (path, method)
            if status in ("429", "503"):
                assert response["headers"]["Retry-After"]["required"] is True, (path, method, status)


def test_every_example_is_valid_against_its_schema():
    """What Spectral's oas3-valid-media-example checks in `make lint`, here too."""
    from jsonschema import Draft202012Validator

    document = _document()
    checked = 0
    for path, method, operation in _operations(document):
        contents = [operation.get("requestBody", {}).get("content", {})]
        contents += [response.get("content", {}) for response in operation["responses"].values()]
        for content in contents:
            for media in content.values():
                validator = Draft202012Validator({**media["schema"], "components": document["components"]})
                for name, example in media.get("examples", {}).items():
                    errors = [e.message for e in validator.iter_errors(example["value"])]
                    assert not errors, (method, path, name, errors)
                    checked += 1
    assert checked > 60


def test_the_request_examples_are_bodies_the_governor_accepts():
    from governor.core.model import ProjectPolicy, utcnow
    from governor.core.policy.callers import parse_new_key
    from governor.core.policy.document import policy_from_document
    from governor.core.policy.gate import parse_extend_request, parse_session_request

    paths = _document()["paths"]

    def bodies(path: str, method: str) -> list:
        examples = paths[path][method]["requestBody"]["content"]["application/json"]["examples"]
        return [example["value"] for example in examples.values()]

    for body in bodies("/api/projects/{project}/sessions", "post"):
        parse_session_request(body)
    for body in bodies("/api/projects/{project}/sessions/{sessionId}", "patch"):
        parse_extend_request(body)
    for body in bodies("/api/manage/projects/{project}", "put"):
        policy_from_document(body, "demo")
    for body in bodies("/api/manage/projects/{project}/keys", "post"):
        parse_new_key(body, ProjectPolicy(name="demo", max_concurrent=10), utcnow())


CONNECT = "/api/projects/{project}/sessions/{sessionId}/connect"
CONNECT_FIELDS = {
    "sessionId",
    "accountId",
    "accountDomain",
    "remoteRenderingDomain",
    "hostname",
    "handshakePort",
    "arrInspectorPort",
    "accessToken",
    "accessTokenExpiresOn",
    "canStartSessions",
    "connectAuth",
    "sessionConfiguration",
}


def test_the_connect_operation_is_described_with_its_fields_and_refusals():
    document = _document()
    schemas = document["components"]["schemas"]
    operation = document["paths"][CONNECT]["post"]
    session_route = document["paths"]["/api/projects/{project}/sessions/{sessionId}"]["get"]
    assert operation["operationId"] == "connect_session" and operation["tags"] == ["sessions"]
    assert operation["security"] == session_route["security"]  # the caller key, as on the other session routes
    ok = operation["responses"]["200"]
    assert ok["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Connection"}
    assert ok["headers"]["Cache-Control"]["required"] is True
    assert ok["headers"]["Cache-Control"]["schema"]["enum"] == ["no-store"]
    connection = schemas["Connection"]
    assert set(connection["properties"]) == CONNECT_FIELDS
    assert set(connection["required"]) == CONNECT_FIELDS - {"accessToken", "accessTokenExpiresOn"}
    assert connection["properties"]["accessTokenExpiresOn"]["format"] == "date-time"
    assert connection["properties"]["canStartSessions"]["type"] == "boolean"
    configuration = schemas["SessionConfiguration"]
    assert set(configuration["properties"]) == {"AccountId", "AccountDomain", "RemoteRenderingDomain", "AccessToken"}
    assert "AccessToken" not in configuration["required"]
    examples = ok["content"]["application/json"]["examples"]
    assert {e["value"]["connectAuth"] for e in examples.values()} >= {"entra", "none"}
    assert all(("accessToken" in e["value"]) == (e["value"]["connectAuth"] != "none") for e in examples.values())

    conflict = operation["responses"]["409"]
    problems = conflict["content"][http.PROBLEM_JSON]["examples"]
    assert set(problems) == {"not-ready", "session-ended"}
    assert problems["not-ready"]["value"]["sessionStatus"] == "Starting"
    assert problems["session-ended"]["value"]["sessionStatus"] == "Stopped"
    assert conflict["headers"]["Retry-After"]["required"] is False  # not-ready only
    for status, reason in (("401", "unauthorized"), ("403", "forbidden"), ("404", "not-found"), ("503", "upstream")):
        assert reason in operation["responses"][status]["description"]
    assert set(schemas["Problem"]["properties"]["sessionStatus"]["enum"]) >= {"Starting", "Stopped", "Expired", "Error"}


def test_the_connect_schema_is_what_the_connect_view_answers():
    """Every field the view sends is described, every required one is sent, for each connect mode."""
    from dataclasses import replace

    from jsonschema import Draft202012Validator

    from governor.core.model import CONNECT_MODES
    from governor.functions import openapi_examples as samples
    from governor.service.gate.views import connect_view

    document = _document()
    schema = document["components"]["schemas"]["Connection"]
    assert set(schema["properties"]["connectAuth"]["enum"]) == set(CONNECT_MODES)
    validator = Draft202012Validator({**schema, "components": document["components"]})
    for mode in CONNECT_MODES:
        token = None if mode == "none" else samples.TOKEN
        view = connect_view(replace(samples.TARGET, auth=mode, can_start_sessions=mode == "key"), samples.READY, token)
        assert not list(validator.iter_errors(view)), mode
        assert set(view) <= set(schema["properties"]) and set(schema["required"]) <= set(view)
        assert set(view["sessionConfiguration"]) <= set(
            document["components"]["schemas"]["SessionConfiguration"]["properties"]
        )


def test_the_documented_patterns_are_the_rules_the_code_defines():
    from governor.core.policy.limits import ARR_ACCOUNT_ID, KEY_NAME, SESSION_ID

    document = _document()
    revoke = document["paths"]["/api/manage/projects/{project}/keys/{keyName}"]["delete"]
    connect = document["paths"][CONNECT]["post"]
    parameters = {p["name"]: p for p in revoke["parameters"] + connect["parameters"]}
    assert parameters["keyName"]["schema"]["pattern"] == KEY_NAME.json_pattern
    assert parameters["sessionId"]["schema"]["pattern"] == SESSION_ID.json_pattern
    assert KEY_NAME.hint in parameters["keyName"]["description"]
    schemas = document["components"]["schemas"]
    assert schemas["Connection"]["properties"]["accountId"]["pattern"] == ARR_ACCOUNT_ID.json_pattern


def test_the_lint_script_writes_the_document_the_route_serves(tmp_path):
    """tools/openapi_json.py is what `make lint` hands Spectral: the same document, as JSON."""
    import importlib.util
    import json

    from tests.conftest import ROOT

    spec = importlib.util.spec_from_file_location("openapi_json", ROOT / "tools" / "openapi_json.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.main(["--out", str(tmp_path / "openapi.json")]) == 0
    written = json.loads((tmp_path / "openapi.json").read_text(encoding="utf-8"))
    assert written == json.loads(json.dumps(_document()))
