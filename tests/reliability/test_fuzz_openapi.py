"""Schemathesis against the gate's own OpenAPI document, over HTTP through the local host.

The whole stack runs as `python -m governor run` starts it (Azurite, the ARR emulator,
`python -m governor serve`). Every operation of GET /api/openapi.json gets generated requests;
every response must be below 500 and conform to the document (status code, content type,
headers, body schema), and an operation that declares auth must refuse a request without it.
Half of the generated project names are replaced by the example project, with its caller key
sent, so the fuzz reaches past the key check into the policy and ARR paths.
"""

from __future__ import annotations

import os
import time

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    ignored_auth,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fixtures.stack import MASTER_KEY, start_stack

PROJECT = "demo"  # from examples/projects.json, applied by the stack at start
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "15"))  # per operation; more: FUZZ_EXAMPLES=200
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]


def operation_ids() -> list[str]:
    """The document's operations, known at collection without a server (built from the app)."""
    import function_app
    from governor.functions.openapi_doc import document, registered_functions

    paths = document(registered_functions(function_app.app))["paths"]
    return sorted(op["operationId"] for methods in paths.values() for op in methods.values())


@pytest.fixture(scope="module")
def governor_stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        wait_until_healthy(running)
        yield running
    finally:
        running.stop()


def wait_until_healthy(stack, timeout: float = 60) -> None:
    """Until the timer's first sweep: before it, /api/health answers its documented 503 (stale)."""
    deadline = time.monotonic() + timeout
    while requests.get(f"{stack.base_url}/health", timeout=10).status_code != 200:
        assert time.monotonic() < deadline, "the stack never became healthy"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def gate_schema(governor_stack):
    # the document as the running host serves it; schemathesis' pytest plugin (from_fixture)
    # fails under pytest 9, so operations are driven here with hypothesis directly
    return schemathesis.openapi.from_url(f"{governor_stack.host_url}/api/openapi.json")


def aim_at_the_project(case) -> None:
    """Half the time, the route's project is the real one (never on admin routes, which could
    delete it or rotate its key under the rest of the run)."""
    params = case.path_parameters or {}
    if "project" in params and not case.path.startswith("/api/manage/") and len(str(params["project"])) % 2 == 0:
        params["project"] = PROJECT


@pytest.mark.parametrize("operation_id", operation_ids())
def test_every_response_is_below_500_and_conforms_to_the_document(operation_id, gate_schema, governor_stack):
    operation = gate_schema.find_operation_by_id(operation_id)
    headers = {**MASTER_KEY, "X-Api-Key": governor_stack.keys[PROJECT]}

    @given(case=operation.as_strategy())
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def fuzz(case):
        aim_at_the_project(case)
        case.call_and_validate(base_url=governor_stack.host_url, headers=headers, checks=CHECKS, timeout=30)

    fuzz()
