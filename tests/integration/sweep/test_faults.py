"""30% of ARR calls fail with 429/5xx: nobody active is stopped, failed actions are retried."""

from governor.arr import clients_from_settings
from governor.core.model import LedgerState, Period, cost_of
from governor.settings import load
from tests.integration.sweep.conftest import RATE


def _failures(client, calls: int) -> int:
    from governor.arr import ArrError

    failures = 0
    for _ in range(calls):
        try:
            client.list()
        except ArrError:
            failures += 1
    return failures


def test_faults_never_stop_an_active_session_and_failed_actions_are_retried(stack):
    policy = stack.project("alpha")
    beating = [stack.admit(policy, 30) for _ in range(4)]
    idle = [stack.admit(policy, 60) for _ in range(2)]
    stack.advance(5 + 10 * 60)
    # a short retry budget so that some failures outlast the client's retries and reach the sweep
    stack.arr = clients_from_settings(load({**stack.env, "ARR_RETRY_TOTAL_SECONDS": "0.05"}))
    stack.emulator.set_faults(rate=0.3, statuses=[429, 500, 503], retryAfter=0)
    for _ in range(20):
        stack.advance(120)
        for sid in beating:
            stack.heartbeat("alpha", sid)
        stack.sweep()
        truth = stack.truth()
        assert all(truth[sid]["status"] == "Ready" for sid in beating), "an active session was stopped"
    assert _failures(stack.arr["default"], 100) > 0  # the faults were really on (0.91^100 odds otherwise)
    stack.emulator.clear_faults()
    stack.advance(60)
    for sid in beating:
        stack.heartbeat("alpha", sid)
    stack.sweep()

    truth = stack.truth()
    assert all(truth[sid]["status"] == "Stopped" for sid in idle)
    for sid in beating:  # extended twice, never more, each time to elapsed + one step (a retried extension
        # is computed from the elapsed time of the sweep that finally applies it, so no fixed upper bound)
        entry = stack.store.get_entry("alpha", sid)
        assert truth[sid]["maxLeaseMinutes"] == entry.lease.total_seconds() // 60
        assert entry.extensions == 2
        assert 30 < truth[sid]["maxLeaseMinutes"] <= truth[sid]["elapsedMinutes"] + 30
    rows = [r for r in stack.audit() if r.source == "sweep"]
    failed = [r for r in rows if r.outcome == "failed"]
    for row in failed:  # every failed action was tried again later and succeeded
        later = [r for r in rows if r.session_id == row.session_id and r.at > row.at and r.outcome == "ok"]
        assert later, row
    assert all(r.figures.get("error") for r in failed)
    reported = [s for s in stack.sweeps if s["errors"]]
    assert all(s["outcome"] == "errors" for s in reported)  # what the faults broke is in the health rows

    for sid in beating:
        stack.arr["default"].stop(sid)
    stack.sweep()
    truth = stack.truth()
    expected = sum(cost_of(RATE, int(truth[sid]["billedSeconds"] // 60)) for sid in beating + idle)
    assert all(stack.store.get_entry("alpha", sid).state is LedgerState.CLOSED for sid in beating + idle)
    assert stack.store.usage("alpha", Period.MONTH, Period.MONTH.key(stack.now)).spent == expected
