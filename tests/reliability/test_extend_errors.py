"""Extensions through the gate while ARR answers half its calls with an error that comes *after*
the call took effect: ARR never runs a lease the ledger has not reserved.

Found by the soak: the gate gave an extension's reservation back on any error, so when ARR had
applied the lease before failing, the session ran the longer lease unpaid for, past the budget.
"""

from governor.bootstrap import reset_context
from governor.core.model import MICROS

SESSIONS = 40  # a quarter meet "read ok, update applied then failed": none of 40 is about 1e-5


def test_arr_never_runs_a_lease_the_ledger_has_not_reserved(gate, monkeypatch):
    monkeypatch.setenv("ARR_RETRY_TOTAL_SECONDS", "0.05")  # no retries: every fault reaches the gate
    reset_context()
    key = gate.project("alpha", max_concurrent=SESSIONS, daily_budget=1000 * MICROS)
    body = {"size": "Standard", "maxLeaseTime": 30}
    sids = [gate.create("alpha", key, body).body["sessionId"] for _ in range(SESSIONS)]
    gate.emulator.advance(10)  # past start-up: Ready
    gate.emulator.set_faults(rate=0.5, statuses=[500], retryAfter=0, phase="after", paths="/sessions/[^/?]+$")
    replies = {sid: gate.extend("alpha", key, sid, {"maxLeaseTime": 90}) for sid in sids}
    gate.emulator.clear_faults()

    assert any(r.status == 503 for r in replies.values()), "no fault reached the gate"
    truth = {s["id"]: s for s in gate.emulator.truth()}
    for sid, reply in replies.items():
        entry = gate.store.get_entry("alpha", sid)
        arr_lease = truth[sid]["maxLeaseMinutes"]
        assert entry.lease.total_seconds() // 60 >= arr_lease, (reply.status, entry, truth[sid])
        if reply.status == 200:  # a granted extension is ARR's and the ledger's alike
            assert arr_lease == 90 == entry.lease.total_seconds() // 60, (entry, truth[sid])
