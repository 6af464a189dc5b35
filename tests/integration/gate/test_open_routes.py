"""Health and the OpenAPI document, served by their functions."""

from datetime import timedelta

from openapi_spec_validator import validate

from governor.model import utcnow


def health(gate):
    return gate.call("health", "GET", "health")


def test_health_is_503_until_a_sweep_ran_then_200(gate):
    first = health(gate)
    assert first.status == 503
    assert first.body["storage"] == "reachable" and first.body["arr"] == {"default": "reachable"}
    assert first.body["lastSweep"]["at"] is None
    gate.store.record_sweep({"startedAt": utcnow().isoformat(), "finishedAt": utcnow().isoformat(), "outcome": "ok"})
    fresh = health(gate)
    assert fresh.status == 200, fresh.body
    assert fresh.body["lastSweep"]["outcome"] == "ok" and fresh.body["version"]


def test_health_is_503_when_the_sweep_is_older_than_three_intervals(gate):
    old = (utcnow() - timedelta(minutes=3, seconds=5)).isoformat()  # default schedule: every minute
    gate.store.record_sweep({"finishedAt": old, "outcome": "ok"})
    stale = health(gate)
    assert stale.status == 503 and stale.body["lastSweep"]["stale"]
    recent = (utcnow() - timedelta(minutes=2)).isoformat()
    gate.store.record_sweep({"finishedAt": recent, "outcome": "ok"})
    assert health(gate).status == 200


def test_health_is_503_when_arr_does_not_answer(gate):
    gate.store.record_sweep({"finishedAt": utcnow().isoformat(), "outcome": "ok"})
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0)
    down = health(gate)
    assert down.status == 503 and down.body["arr"]["default"].startswith("unreachable")


def test_openapi_route_serves_a_valid_document_of_the_registered_routes(gate):
    from tests.integration.gate.conftest import functions

    reply = gate.call("openapi", "GET", "openapi.json")
    assert reply.status == 200
    validate(reply.body)
    count = sum(
        len(f.get_trigger().get_dict_repr()["methods"])
        for f in functions().values()
        if f.get_trigger().get_dict_repr()["type"] == "httpTrigger"
    )
    assert sum(len(ops) for ops in reply.body["paths"].values()) == count
