"""Adapters' errors are the core's (governor.core.errors); the HTTP layer maps only the core's."""

import json
from datetime import timedelta

import azure.functions as func
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError

from governor.arr import errors as arr
from governor.arr.wire import check_lease
from governor.core import errors as core
from governor.functions import http
from governor.settings import SettingsError
from governor.store import errors as store
from governor.store.boundary import port_boundary


def request() -> func.HttpRequest:
    return func.HttpRequest(method="GET", url="http://h/api/x", headers={}, body=b"")


def answer(exc: Exception) -> tuple[int, dict, str | None]:
    def fail():
        raise exc

    response = http.serve(request(), fail)
    return response.status_code, json.loads(response.get_body()), response.headers.get("Retry-After")


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, core.Rejected),
        (422, core.Rejected),
        (404, core.NotFound),
        (409, core.Unavailable),
        (401, core.Unavailable),
        (403, core.Unavailable),
        (429, core.Unavailable),
        (500, core.Unavailable),
        (503, core.Unavailable),
    ],
)
def test_every_arr_status_is_one_core_kind(status, kind):
    error = arr.error_for_status(status)("x", status=status)
    assert isinstance(error, kind)
    assert isinstance(error, core.NotFound) != isinstance(error, core.Unavailable)
    assert error.did_nothing == (status < 500)  # a 4xx: ARR did nothing; a 5xx may come after it acted


def test_arr_did_nothing_only_when_certain():
    assert arr.ArrConflict("x", status=409).did_nothing
    assert not arr.ArrUnavailable("x", status=503).did_nothing  # a 5xx may come after the create
    assert not arr.ArrUnavailable("timeout", indeterminate=True).did_nothing
    assert not arr.ArrUnavailable("refused", indeterminate=False).did_nothing  # transient: unknown
    assert arr.ArrRequestError("lease must be positive").did_nothing  # our own check: never sent
    assert arr.ArrAuthError("no credential").did_nothing
    assert core.Rejected().did_nothing and not core.Unavailable().did_nothing


def test_only_a_call_our_own_checks_refused_was_never_sent():
    """A v1 create's pending row is released at once only then: any other failure may follow an
    earlier attempt of the client's retries that ARR acted on."""
    with pytest.raises(arr.ArrRequestError) as refused:
        check_lease(timedelta(0))
    assert refused.value.never_sent
    assert not arr.ArrRequestError("bad", status=400).never_sent  # ARR's 400: something was sent
    assert not arr.ArrUnavailable("refused", indeterminate=False).never_sent
    assert not core.Rejected().never_sent and not core.Unavailable().never_sent


@pytest.mark.parametrize(
    ("exc", "status", "detail", "retry_after"),
    [
        (arr.ArrNotFound("gone", status=404), 404, "ARR does not know this session", None),
        (arr.ArrUnavailable("down", status=503, retry_after=12), 503, "ARR is unavailable; retry later", "12"),
        (arr.ArrRequestError("bad", status=422), 503, "ARR is unavailable; retry later", "30"),
        (arr.ArrConflict("clash", status=409), 503, "ARR is unavailable; retry later", "30"),
        (store.NotFound("project 'p' does not exist"), 404, "no such resource", None),
        (store.StateConflict("closed"), 409, "the resource changed state; read it again", None),
        (store.DuplicateEntry("twice"), 409, "the resource changed state; read it again", None),
        (store.Contention("reserve: still conflicting"), 503, "too many concurrent changes; retry", "1"),
        (store.StorageUnavailable("ServiceRequestError"), 503, "storage is unavailable; retry later", "30"),
        (SettingsError("ARR_ACCOUNT_ID is not set"), 503, "the governor is not configured", "300"),
    ],
)
def test_the_gate_maps_what_the_errors_mean(exc, status, detail, retry_after):
    code, body, retry = answer(exc)
    assert (code, body["status"], body["detail"], retry) == (status, status, detail, retry_after)


def test_bad_keys_are_a_400_naming_the_field():
    for error in (store.InvalidKey("project", "must not be empty"), store.InvalidEntity("figures", "too big")):
        code, body, _ = answer(error)
        assert (code, body["field"], body["detail"]) == (400, error.field, str(error))
        assert isinstance(error, ValueError)


def test_an_sdk_error_that_escapes_the_store_is_a_500_not_a_guess():
    # The store translates the SDK's errors at its boundary; anything else is a programming error.
    code, body, _ = answer(HttpResponseError("from nowhere"))
    assert (code, body["type"]) == (500, http.PROBLEM_BASE + "internal-error")


@port_boundary
class FlakyStore:
    def __init__(self):
        self.rounds = 0

    def get_project(self, name):
        raise ServiceRequestError("connection refused to http://127.0.0.1:9/?sig=secret")

    def conflicting_write(self):
        self.rounds += 1
        error = HttpResponseError("precondition failed")
        error.status_code = 412
        raise error

    def reserve(self):
        """Like a retry round: an inner public call's 412 must reach the store's own handler untranslated."""
        try:
            self.conflicting_write()
        except HttpResponseError as exc:
            assert exc.status_code == 412
        return self.get_project("p")

    def decide(self):
        raise core.Refusal("budget-exhausted", "no money")


def test_the_store_boundary_turns_sdk_failures_into_unavailable_without_their_text():
    flaky = FlakyStore()
    with pytest.raises(store.StorageUnavailable) as caught:
        flaky.reserve()
    assert flaky.rounds == 1
    assert isinstance(caught.value, core.Unavailable)
    assert caught.value.code == "ServiceRequestError" and "secret" not in str(caught.value)
    with pytest.raises(store.StorageUnavailable):
        flaky.conflicting_write()  # the outermost call translates
    with pytest.raises(core.Refusal):
        flaky.decide()  # what is not the SDK's passes as it is


def test_a_table_store_subclass_keeps_the_boundary():
    from governor.store import TableStore

    class Broken(TableStore):
        def list_projects(self):
            raise TimeoutError("read timed out")

    connection = "DefaultEndpointsProtocol=http;AccountName=a;AccountKey=a2V5;TableEndpoint=http://127.0.0.1:9/a"
    with pytest.raises(store.StorageUnavailable) as caught:
        Broken(connection).list_projects()
    assert caught.value.code == "TimeoutError"
