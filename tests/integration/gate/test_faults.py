"""ARR or storage failing at each step of the money path leaves no orphan and no stuck reservation."""

from __future__ import annotations

import pytest

from governor.model import Period, utcnow
from governor.service.context import Context, get_context, set_context
from governor.store import TableStore

ONLY_SESSION_PATH = r"/sessions/[^/:]+$"  # create (PUT) and get (GET), not /:stop


def reserved(gate, project="alpha") -> int:
    return gate.store.usage(project, Period.DAY, Period.DAY.key(utcnow())).reserved


def open_entries(gate, project="alpha"):
    return gate.store.list_entries(project)


def test_arr_refusing_the_create_releases_the_reservation(gate):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[400], paths=ONLY_SESSION_PATH)
    reply = gate.create("alpha", key)
    assert reply.status == 503
    assert gate.emulator.truth() == []
    assert open_entries(gate) == [] and reserved(gate) == 0


@pytest.mark.parametrize("phase", ["before", "after"])
def test_arr_failing_the_create_leaves_nothing_running_or_reserved(gate, phase):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=ONLY_SESSION_PATH, phase=phase)
    reply = gate.create("alpha", key)
    assert (reply.status, reply.reason) == (503, "upstream-unavailable")
    gate.emulator.clear_faults()
    assert gate.open_sessions_in_arr() == []  # with phase=after ARR made it; the gate stopped it
    assert open_entries(gate) == [] and reserved(gate) == 0


class ActivateFails(TableStore):
    def activate(self, project, reservation_id, session, wait=True):
        from azure.core.exceptions import ServiceRequestError

        raise ServiceRequestError("storage went away")


def test_recording_the_session_failing_stops_it_and_releases(gate, azurite, table_prefix):
    key = gate.project()
    real = get_context()
    failing = ActivateFails(azurite.connection_string, table_prefix)
    set_context(Context(real.settings, failing, real.arr, real.clock))
    reply = gate.create("alpha", key)
    assert (reply.status, reply.reason) == (503, "upstream-unavailable")
    truth = gate.emulator.truth()
    assert len(truth) == 1 and truth[0]["status"] == "Stopped"
    assert open_entries(gate) == [] and reserved(gate) == 0


def test_stop_failing_keeps_the_session_governed_until_it_succeeds(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.set_faults(rate=1, statuses=[500], retryAfter=0, paths=r"/:stop$")
    assert gate.stop("alpha", key, sid).status == 503
    assert [e.session_id for e in open_entries(gate)] == [sid] and reserved(gate) > 0
    gate.emulator.clear_faults()
    assert gate.stop("alpha", key, sid).status == 200
    assert gate.open_sessions_in_arr() == [] and open_entries(gate) == [] and reserved(gate) == 0


class UpdateFails:
    def __init__(self, client):
        self.client = client
        self.account = client.account

    def __getattr__(self, name):
        return getattr(self.client, name)

    def update_lease(self, session_id, lease):
        from governor.arr.errors import ArrUnavailable

        raise ArrUnavailable("ARR is down", status=503)


def test_arr_refusing_the_lease_update_gives_the_extension_back(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    before = reserved(gate)
    gate.emulator.advance(5 + 50 * 60)
    real = get_context()
    set_context(Context(real.settings, real.store, {"default": UpdateFails(real.arr["default"])}, real.clock))
    assert gate.extend("alpha", key, sid).status == 503
    assert reserved(gate) == before
    assert gate.store.get_entry("alpha", sid).lease.total_seconds() == 3600
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 60


def test_a_retry_of_a_failed_request_with_the_same_idempotency_key_is_told_to_use_a_new_key(gate):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=ONLY_SESSION_PATH)
    headers = {"Idempotency-Key": "try-1"}
    assert gate.create("alpha", key, headers=headers).status == 503
    gate.emulator.clear_faults()
    retry = gate.create("alpha", key, headers=headers)
    assert (retry.status, retry.reason) == (409, "conflict")
    assert gate.create("alpha", key, headers={"Idempotency-Key": "try-2"}).status == 202
    assert len(gate.open_sessions_in_arr()) == 1 and reserved(gate) == 6_000_000
