"""A heartbeat records ARR's elapsed time beside its own time, so the sweep can measure idleness
on ARR's clock; when ARR cannot be read the heartbeat still counts, without a reading."""

from datetime import timedelta

ONLY_SESSION_PATH = r"/sessions/[^/:]+$"


def test_heartbeat_records_arr_elapsed_and_falls_back_when_arr_is_unreadable(gate):
    key = gate.project()
    sid = gate.create("alpha", key).body["sessionId"]
    gate.emulator.advance(5 + 7 * 60)  # Ready after 5 s, then 7 minutes

    assert gate.heartbeat("alpha", key, sid).status == 200
    first = gate.store.get_entry("alpha", sid)
    assert first.heartbeat_elapsed == timedelta(minutes=7) and first.last_heartbeat is not None

    gate.emulator.set_faults(rate=1, statuses=[503], retryAfter=0, paths=ONLY_SESSION_PATH)
    reply = gate.heartbeat("alpha", key, sid)
    gate.emulator.clear_faults()
    assert (reply.status, reply.reason) == (503, "upstream-unavailable")
    second = gate.store.get_entry("alpha", sid)
    assert second.last_heartbeat > first.last_heartbeat and second.heartbeat_elapsed is None
