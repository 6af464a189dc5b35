"""ARR or storage failing at each step of the money path leaves no orphan and no stuck reservation."""

from __future__ import annotations

import pytest

from governor.bootstrap import Context, get_context, set_context
from governor.core.model import Period, utcnow
from governor.store import TableStore

ONLY_SESSION_PATH = r"/sessions/[^/:]+$"  # create (PUT) and get (GET), not /:stop


def reserved(gate, project="alpha") -> int:
    return gate.store.usage(project, Period.DAY, Period.DAY.key(utcnow())).reserved


def open_entries(gate, project="alpha"):
    return gate.store.list_entries(project)


def test_arr_refusing_the_create_releases_the_reservation(gate):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[400], paths=ONLY_SESSION_PATH, methods=["PUT"])
    reply = gate.create("alpha", key)
    assert reply.status == 503
    assert gate.emulator.truth() == []  # read back by its id: ARR has no such session
    assert open_entries(gate) == [] and reserved(gate) == 0


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_create_that_failed_after_arr_acted_is_the_session_the_client_asked_for(gate, status):
    key = gate.project()
    gate.emulator.set_faults(
        rate=1, statuses=[status], retryAfter=0, paths=ONLY_SESSION_PATH, methods=["PUT"], phase="after"
    )
    reply = gate.create("alpha", key)
    assert reply.status == 202, reply
    (session,) = gate.open_sessions_in_arr()
    assert session["id"] == reply.body["sessionId"]
    gate.settle()
    assert [(e.session_id, e.state.value) for e in open_entries(gate)] == [(session["id"], "active")]
    assert reserved(gate) == 6_000_000


def test_a_create_that_failed_before_arr_acted_gives_the_money_back(gate):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[429], retryAfter=0, paths=ONLY_SESSION_PATH, methods=["PUT"])
    reply = gate.create("alpha", key)
    assert (reply.status, reply.reason) == (503, "upstream-unavailable")
    assert gate.emulator.truth() == []
    assert open_entries(gate) == [] and reserved(gate) == 0


@pytest.mark.parametrize("phase", ["before", "after"])
def test_when_arr_cannot_say_the_row_stays_pending_and_a_retry_with_the_key_resumes_it(gate, phase):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=ONLY_SESSION_PATH, phase=phase)
    headers = {"Idempotency-Key": f"resume-{phase}"}
    reply = gate.create("alpha", key, headers=headers)
    assert (reply.status, reply.reason) == (503, "upstream-unavailable")
    pending = reply.body["sessionId"]
    assert [(e.session_id, e.state.value) for e in open_entries(gate)] == [(pending, "pending")]
    assert reserved(gate) == 6_000_000  # whatever ARR did, its session is paid for
    gate.emulator.clear_faults()
    retry = gate.create("alpha", key, headers=headers)
    assert (retry.status, retry.body["sessionId"], retry.body["replayed"]) == (202, pending, True)
    assert [s["id"] for s in gate.open_sessions_in_arr()] == [pending]
    gate.settle()
    assert [(e.session_id, e.state.value) for e in open_entries(gate)] == [(pending, "active")]
    assert reserved(gate) == 6_000_000


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


@pytest.mark.parametrize("status", [400, 422])
def test_arr_refusing_the_lease_update_gives_the_extension_back(gate, status):
    """A 4xx: ARR did nothing, so the money goes back (an ambiguous failure keeps it:
    test_extend_unconfirmed.py)."""
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    before = reserved(gate)
    gate.emulator.advance(5 + 50 * 60)
    gate.emulator.set_faults(rate=1, statuses=[status], paths=ONLY_SESSION_PATH, methods=["PATCH"])
    assert gate.extend("alpha", key, sid).status == 503
    assert reserved(gate) == before
    assert gate.store.get_entry("alpha", sid).lease.total_seconds() == 3600
    assert gate.emulator.truth()[0]["maxLeaseMinutes"] == 60
    (row,) = [r for r in gate.store.recent_audit(limit=50) if r.action == "extend"]
    assert (row.outcome, row.figures) == ("failed", {"leaseMinutes": 80, "error": "refused"})


def test_a_retry_of_a_request_that_made_nothing_is_a_fresh_attempt_never_a_conflict(gate):
    key = gate.project()
    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=ONLY_SESSION_PATH, methods=["PUT"])
    headers = {"Idempotency-Key": "try-1"}
    assert gate.create("alpha", key, headers=headers).status == 503
    assert open_entries(gate) == [] and reserved(gate) == 0  # ARR has nothing under the id: released
    gate.emulator.clear_faults()
    retry = gate.create("alpha", key, headers=headers)
    assert retry.status == 202, retry
    again = gate.create("alpha", key, headers=headers)
    assert (again.status, again.body["sessionId"], again.body["replayed"]) == (202, retry.body["sessionId"], True)
    assert gate.create("alpha", key, headers={"Idempotency-Key": "try-2"}).status == 202
    assert len(gate.open_sessions_in_arr()) == 2 and reserved(gate) == 12_000_000
