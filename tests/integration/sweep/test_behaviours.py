"""Dry-run, unmanaged sessions, pending reconciliation, failed actions, the lock, webhooks."""

import json
import threading
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

from governor.core.model import LedgerEntry, LedgerState, Period, UnmanagedMode, VmSize, cost_of
from governor.service.webhooks import WebhookSender
from tests.integration.sweep.conftest import RATE, WEBHOOK_SECRET


def audit_of(stack, sid):
    return sorted((r for r in stack.audit() if r.session_id == sid), key=lambda r: r.at)


def ready_idle(stack, project, lease=60):
    """A session that is idle by the sweep's rules: Ready 20 minutes, never a heartbeat."""
    sid = stack.admit(project, lease)
    stack.advance(5 + 20 * 60)
    return sid


@pytest.mark.parametrize("where", ["global", "project"])
def test_dry_run_decides_and_audits_but_changes_nothing_in_arr(stack, where):
    policy = stack.project("alpha", dry_run=where == "project")
    sid = ready_idle(stack, policy)
    before = stack.truth()[sid]
    report = stack.sweep(dry_run=where == "global")
    after = stack.truth()[sid]
    assert after["status"] == "Ready" and after["maxLeaseMinutes"] == before["maxLeaseMinutes"]
    assert report["counts"] == {"stop": 1}
    (row,) = audit_of(stack, sid)
    assert (row.action, row.reason, row.dry_run, row.outcome) == ("stop", "idle", True, "skipped")
    assert stack.store.get_entry("alpha", sid).state is LedgerState.ACTIVE


def test_dry_run_of_one_project_does_not_spare_another(stack):
    shadow = stack.project("shadow", dry_run=True)
    live = stack.project("live")
    spared = stack.admit(shadow, 60)
    stopped = stack.admit(live, 60)
    stack.advance(5 + 20 * 60)
    stack.sweep()
    truth = stack.truth()
    assert truth[spared]["status"] == "Ready" and truth[stopped]["status"] == "Stopped"


def test_unmanaged_report_leaves_the_session_running(stack):
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="rogue-report")
    stack.advance(5)
    report = stack.sweep(unmanaged_mode=UnmanagedMode.REPORT)
    assert report["counts"] == {"report": 1}
    (row,) = audit_of(stack, "rogue-report")
    assert (row.action, row.reason, row.figures["mode"]) == ("report", "unmanaged", "report")
    assert stack.truth()["rogue-report"]["status"] == "Ready"


def test_unmanaged_stop_stops_it(stack):
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="rogue-stop")
    stack.advance(5)
    stack.sweep(unmanaged_mode=UnmanagedMode.STOP)
    assert stack.truth()["rogue-stop"]["status"] == "Stopped"
    (row,) = audit_of(stack, "rogue-stop")
    assert (row.action, row.outcome) == ("stop", "ok")


def test_unmanaged_adopt_charges_the_named_project_from_its_start(stack):
    stack.project("orphans", idle_timeout=timedelta(minutes=15))
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="rogue-adopt")
    stack.advance(5 + 7 * 60)
    config = dict(unmanaged_mode=UnmanagedMode.ADOPT, unmanaged_project="orphans")
    assert stack.sweep(**config)["counts"] == {"adopt": 1}
    entry = stack.store.get_entry("orphans", "rogue-adopt")
    assert entry.adopted and entry.state is LedgerState.ACTIVE
    stack.advance(20 * 60)  # no heartbeat ever: an adopted session is not idle-stopped for it
    assert stack.sweep(**config)["counts"] == {"leave": 1}
    stack.arr["default"].stop("rogue-adopt")
    stack.sweep(**config)
    entry = stack.store.get_entry("orphans", "rogue-adopt")
    minutes = int(stack.truth()["rogue-adopt"]["billedSeconds"] // 60)
    assert entry.state is LedgerState.CLOSED and entry.charged_minutes == minutes == 27
    assert stack.store.usage("orphans", Period.DAY, Period.DAY.key(stack.now)).spent == cost_of(RATE, 27)


def test_unmanaged_adopt_without_the_project_only_reports(stack):
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="rogue-nowhere")
    stack.advance(5)
    report = stack.sweep(unmanaged_mode=UnmanagedMode.ADOPT, unmanaged_project="missing")
    assert report["counts"] == {"report": 1}
    assert audit_of(stack, "rogue-nowhere")[0].reason == "unmanaged-adopt-project-missing"


def _pending(stack, policy, sid, minutes=30):
    lease = timedelta(minutes=minutes)
    entry = LedgerEntry(policy.name, sid, "default", VmSize.STANDARD, LedgerState.PENDING, stack.now, lease, rate=RATE)
    stack.store.reserve(policy.name, entry, lambda snap: cost_of(RATE, minutes), stack.now)


def test_pending_rows_are_reconciled_after_the_grace(stack):
    policy = stack.project("alpha")
    _pending(stack, policy, "crashed-before-create")
    _pending(stack, policy, "crashed-before-activate")
    stack.arr["default"].create(VmSize.STANDARD, timedelta(minutes=30), session_id="crashed-before-activate")
    stack.advance(60)
    # ARR lists one: the create happened, so the sweep marks it active at once (the gate's own
    # activation may ride a later transaction); the other may still be on its way to ARR
    assert stack.sweep()["counts"] == {"activate": 1}
    assert stack.store.get_entry("alpha", "crashed-before-activate").state is LedgerState.ACTIVE
    assert stack.store.get_entry("alpha", "crashed-before-create").state is LedgerState.PENDING
    assert stack.store.usage("alpha", Period.DAY, Period.DAY.key(stack.now)).reserved == 2 * cost_of(RATE, 30)
    stack.advance(5 * 60)
    report = stack.sweep()
    assert report["counts"] == {"leave": 1, "release": 1}  # the active one is governed as usual
    released = stack.store.get_entry("alpha", "crashed-before-create")
    assert released is None or released.state is LedgerState.CLOSED
    usage = stack.store.usage("alpha", Period.DAY, Period.DAY.key(stack.now))
    assert usage.reserved + usage.spent == cost_of(
        RATE, 30
    )  # only the live session holds money (metered since the first sweep)


def test_a_failed_stop_is_recorded_and_retried_next_sweep(stack):
    policy = stack.project("alpha")
    sid = ready_idle(stack, policy)
    stack.emulator.set_faults(rate=1.0, statuses=[503], paths=":stop$", retryAfter=0)
    report = stack.sweep()
    assert report["failed"] == 1 and report["outcome"] == "errors"
    assert stack.truth()[sid]["status"] == "Ready"
    stack.emulator.clear_faults()
    stack.advance(60)
    stack.sweep()
    assert stack.truth()[sid]["status"] == "Stopped"
    rows = [(r.action, r.outcome) for r in audit_of(stack, sid)]
    assert rows == [("stop", "failed"), ("stop", "ok")]
    assert audit_of(stack, sid)[0].figures["error"]


def test_a_failed_extension_is_reapplied_from_the_ledger_never_doubled(stack):
    policy = stack.project("alpha")
    sid = stack.admit(policy, 30)
    stack.advance(5 + 21 * 60)
    stack.heartbeat("alpha", sid)
    stack.emulator.set_faults(rate=1.0, statuses=[503], paths=f"sessions/{sid}$", retryAfter=0)
    assert stack.sweep()["failed"] == 1
    entry = stack.store.get_entry("alpha", sid)
    assert entry.lease == timedelta(minutes=51) and stack.truth()[sid]["maxLeaseMinutes"] == 30
    stack.emulator.clear_faults()
    stack.advance(60)
    stack.heartbeat("alpha", sid)
    stack.sweep()
    entry = stack.store.get_entry("alpha", sid)
    assert stack.truth()[sid]["maxLeaseMinutes"] == 51 and entry.lease == timedelta(minutes=51)
    assert entry.extensions == 1
    rows = [(r.action, r.reason, r.outcome) for r in audit_of(stack, sid)]
    assert rows == [("extend", "lease-low", "failed"), ("extend", "extension-pending", "ok")]


def test_a_held_lock_skips_the_run(stack):
    stack.project("alpha")
    assert stack.store.try_lock("sweep", "someone-else", timedelta(minutes=5), stack.now)
    report = stack.sweep()
    assert report["skipped"] and report["outcome"] == "skipped"
    stack.store.release_lock("sweep", "someone-else")
    assert not stack.sweep().get("skipped")


def test_overlapping_sweeps_act_once(stack):
    policy = stack.project("alpha")
    sids = [stack.admit(policy, 30) for _ in range(3)]
    stack.advance(5 + 21 * 60)
    for sid in sids:
        stack.heartbeat("alpha", sid)
    results = []
    threads = [threading.Thread(target=lambda: results.append(stack.sweep())) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for sid in sids:
        entry = stack.store.get_entry("alpha", sid)
        assert entry.extensions == 1 and stack.truth()[sid]["maxLeaseMinutes"] == 51


class Hooks:
    def __init__(self):
        self.calls = []
        hooks = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hooks.calls.append((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/governor"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def test_webhooks_are_signed_and_never_block_the_sweep(stack):
    hooks = Hooks()
    try:
        stack.webhooks = WebhookSender(timeout=2, allow_loopback_http=True)
        policy = stack.project("alpha", webhook_url=hooks.url)
        stack.project("quiet", webhook_url="http://127.0.0.1:9/nobody")
        stopped = ready_idle(stack, policy)
        quiet = stack.admit(replace(policy, name="quiet"), 30)
        stack.advance(20 * 60)
        report = stack.sweep()
        assert report["failed"] == 0
        stack.webhooks.drain(10)
        events = [json.loads(body)["data"] for _, body in hooks.calls]
        assert {(e["event"], e["sessionId"], e["reason"]) for e in events} == {("stop", stopped, "idle")}
        headers, body = hooks.calls[0]
        assert Webhook(WEBHOOK_SECRET).verify(body, headers)["subject"] == stopped
        assert stack.truth()[quiet]["status"] == "Stopped"  # an unreachable receiver changed nothing
        assert stack.webhooks.failed == 1
    finally:
        hooks.server.shutdown()
        hooks.server.server_close()


def test_a_sweep_with_no_arr_account_is_an_error_not_an_empty_ok(stack):
    """A governor deployed without ARR_ACCOUNT_ID (or GOVERNOR_ARR_ACCOUNTS) governs nothing: its
    health row must say so, or /api/health and the alerts would report all is well."""
    stack.arr = {}
    report = stack.sweep()
    assert report["outcome"] == "errors", report
    assert any("no ARR account is configured" in error for error in report["errors"])
    assert stack.store.last_sweep()["outcome"] == "errors"
