"""The HTTP helpers: body limits, JSON parsing, problem+json, principal mapping."""

import base64
import json

import azure.functions as func
import pytest

from governor.functions import http
from governor.service.ports import Refusal


def request(body: bytes, headers: dict | None = None) -> func.HttpRequest:
    headers = {"content-type": "application/json", **(headers or {})}
    return func.HttpRequest(method="POST", url="http://h/api/x?code=secret", headers=headers, body=body)


def refusal(req: func.HttpRequest, **kwargs) -> Refusal:
    with pytest.raises(Refusal) as caught:
        http.read_json(req, limit=64, **kwargs)
    return caught.value


def test_reads_json_objects():
    assert http.read_json(request(b'{"a": [1, 2]}'), limit=64) == {"a": [1, 2]}
    assert http.read_json(request(b"  "), required=False, limit=64) is None


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "bad-request"),
        (b"{", "bad-request"),
        (b'{"a": NaN}', "bad-request"),
        (b"\xff\xfe", "bad-request"),
        (b"x" * 65, "payload-too-large"),
    ],
)
def test_bad_bodies(body, reason):
    assert refusal(request(body)).reason == reason


def test_thirty_levels_of_nesting_read_as_they_were_sent():
    expected: list = []
    for _ in range(29):
        expected = [expected]
    assert http.read_json(request(b"[" * 30 + b"]" * 30), limit=64) == expected


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"maxLeaseTime": 30, "maxLeaseTime": 900}', "maxLeaseTime"),
        (b'{"a": {"b": 1, "b": 2}}', "a.b"),
        (b'[{"size": "x"}, {"size": "y", "size": "z"}]', "[1].size"),
        (b'{"schedule": {"hours": {"mon": ["09:00-17:00"], "mon": []}}}', "schedule.hours.mon"),
        (b'{"models": [{"u": 1}, {"u": 1, "u": 2}], "x": 1}', "models[1].u"),
    ],
)
def test_a_duplicate_key_is_a_bad_request_naming_it(body, field):
    refused = refusal(request(body))
    assert (refused.reason, refused.figures) == ("bad-request", {"field": field})


def test_the_same_key_in_different_objects_is_fine():
    assert http.read_json(request(b'[{"a": 1}, {"a": 2}]'), limit=64) == [{"a": 1}, {"a": 2}]


def test_declared_length_over_the_limit_is_refused_before_reading():
    assert refusal(request(b"{}", {"content-length": "100000"})).reason == "payload-too-large"


def test_deep_nesting_is_a_bad_request_not_a_crash():
    body = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(Refusal) as caught:
        http.read_json(request(body), limit=len(body))
    assert caught.value.reason == "bad-request"


def test_content_type_is_not_enforced_the_body_is_json_or_a_400():
    assert http.read_json(request(b"{}", {"content-type": "application/x-www-form-urlencoded"}), limit=64) == {}
    assert refusal(request(b"a=1", {"content-type": "application/x-www-form-urlencoded"})).reason == "bad-request"


def test_problem_is_rfc9457_with_a_stable_type():
    response = http.problem("budget-exhausted", "no money", "/api/x", {"remainingBudget": "0.5"})
    body = json.loads(response.get_body())
    assert response.status_code == 402
    assert response.mimetype == "application/problem+json"
    assert body == {
        "type": "urn:arr-lease-governor:problem:budget-exhausted",
        "title": http.PROBLEMS["budget-exhausted"][1],
        "status": 402,
        "detail": "no money",
        "instance": "/api/x",
        "remainingBudget": "0.5",
    }


def test_upstream_unavailable_says_when_to_retry():
    response = http.problem("upstream-unavailable", "down", figures={"retryAfter": 7})
    assert response.status_code == 503 and response.headers["Retry-After"] == "7"
    assert "retryAfter" not in json.loads(response.get_body())


def test_serve_turns_a_programming_error_into_a_detail_free_500(caplog):
    def broken():
        raise KeyError("account_key=hunter2")

    response = http.serve(request(b""), broken)
    body = json.loads(response.get_body())
    assert response.status_code == 500
    assert "hunter2" not in response.get_body().decode()
    assert body["type"].endswith("internal-error")
    assert "?code=" not in body["instance"] and body["instance"] == "/api/x"


def test_serve_maps_arr_failures_to_503():
    from governor.arr.errors import ArrNotFound, ArrUnavailable

    def down():
        raise ArrUnavailable("boom", status=503, retry_after=12)

    response = http.serve(request(b""), down)
    assert (response.status_code, response.headers["Retry-After"]) == (503, "12")

    def gone():
        raise ArrNotFound("gone", status=404)

    assert http.serve(request(b""), gone).status_code == 404


def principal(claims) -> str:
    return base64.b64encode(json.dumps({"auth_typ": "aad", "claims": claims}).encode()).decode()


def test_principal_ids_come_from_object_id_name_and_roles():
    header = principal(
        [
            {"typ": "http://schemas.microsoft.com/identity/claims/objectidentifier", "val": "OID-1"},
            {"typ": "preferred_username", "val": "Ada@Contoso.com"},
            {"typ": "roles", "val": "Viewers"},
            {"typ": "name", "val": "Ada"},
        ]
    )
    assert http.principal_ids(header) == {"oid-1", "ada@contoso.com", "role:viewers"}


@pytest.mark.parametrize("header", [None, "", "!!!", base64.b64encode(b"[1]").decode(), principal("x")])
def test_garbage_principals_map_to_nobody(header):
    assert http.principal_ids(header) == frozenset()
