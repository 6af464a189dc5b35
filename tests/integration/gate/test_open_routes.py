"""Health and the OpenAPI document, served by their functions."""

from datetime import timedelta

from openapi_spec_validator import validate

from governor.core.model import SweepHealth, utcnow


def health(gate):
    return gate.call("health", "GET", "health")


def swept(gate, finished_ago: timedelta = timedelta(0)) -> None:
    finished = utcnow() - finished_ago
    gate.store.record_sweep(SweepHealth(finished - timedelta(seconds=2), finished, "ok").to_row())


def test_health_is_503_until_a_sweep_ran_then_200(gate):
    first = health(gate)
    assert first.status == 503
    assert first.body["storage"] == "reachable" and first.body["arr"] == {"default": "reachable"}
    assert first.body["lastSweep"]["at"] is None
    swept(gate)
    fresh = health(gate)
    assert fresh.status == 200, fresh.body
    assert fresh.body["lastSweep"]["outcome"] == "ok" and fresh.body["version"]


def test_health_is_503_when_the_sweep_is_older_than_three_intervals(gate):
    swept(gate, timedelta(minutes=3, seconds=5))  # default schedule: every minute
    stale = health(gate)
    assert stale.status == 503 and stale.body["lastSweep"]["stale"]
    swept(gate, timedelta(minutes=2))
    assert health(gate).status == 200


def test_health_is_503_when_arr_does_not_answer(gate):
    swept(gate)
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
