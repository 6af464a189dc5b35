"""`python -m governor demo`: every outcome of the scenario happens, checked against the governor's
audit and ledger and against ARR's ground truth (the emulator), not only against the printed text.

The demo CLI attaches (--url) to a stack the test started the way the demo's own stack starts
(`own_stack`), so the test can inspect that stack once the demo is done. The test waits on events,
not for a fixed time: the demo gives up by itself only when no further outcome happened for
`--stall` seconds (and has no overall deadline here); the test stops it only if it prints nothing
(no decision, no webhook) for longer than that.

The stack serves three regions (governor/localhost/regions.py); the class of `school` must land in
the next region once the first runs out of servers, or the placement test fails.
"""

import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from governor.core.model import Period, SessionStatus, cost_of, to_micros, utcnow
from governor.core.policy.placement import EVENTS
from governor.demo import classroom
from governor.demo.cli import own_stack
from governor.demo.scenario import LEASES, PROJECTS
from governor.localhost.regions import ACCOUNT_IDS

ROOT = Path(__file__).resolve().parents[2]
DEMO_STALL_SECONDS = 90  # the demo gives up when no outcome came for this long (a slow box's sweeps are late)
QUIET_SECONDS = DEMO_STALL_SECONDS + 60  # the test stops a demo that printed nothing for this long


def run_watching(argv: list[str], quiet: float) -> subprocess.CompletedProcess:
    """Run `argv` to its end while it keeps printing; kill it once it printed nothing for `quiet` s."""
    with tempfile.TemporaryFile(mode="w+") as errors:
        env = os.environ.copy()
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=errors, text=True)
        lines: queue.Queue = queue.Queue()

        def read() -> None:
            for line in process.stdout:
                lines.put(line)
            lines.put(None)  # the end of its output

        threading.Thread(target=read, daemon=True).start()
        out = []
        while True:
            try:
                line = lines.get(timeout=quiet)
            except queue.Empty:
                process.kill()
                process.wait()
                pytest.fail(f"the demo printed nothing for {quiet:.0f} s:\n" + "".join(out)[-3000:])
            if line is None:
                break
            out.append(line)
        process.wait()
        errors.seek(0)
        return subprocess.CompletedProcess(argv, process.returncode, "".join(out), errors.read())


@dataclass
class Played:
    result: subprocess.CompletedProcess
    truth: dict  # ARR's sessions by id (every account)
    entries: dict  # project -> its ledger entries, closed ones too
    audit: dict  # project -> the sweep's audit rows
    placement: list  # school's placement and capacity rows, the gate's and the sweep's
    spent: dict  # project -> the money spent in the months the demo ran in


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    with own_stack(tmp_path_factory.mktemp("demo-stack"), out=sys.stderr) as target:
        months = {Period.MONTH.key(utcnow())}
        argv = [sys.executable, "-m", "governor", "demo", "--url", target.base, "--emulator-url", target.emulator]
        argv += ["--tables", target.tables, "--stall", str(DEMO_STALL_SECONDS), "--deadline", "0"]
        result = run_watching(argv, QUIET_SECONDS)
        truth = {
            s["id"]: s for s in requests.get(f"{target.emulator}/_emulator/sessions", timeout=10).json()["sessions"]
        }
        store = target.store
        entries = {p: store.list_entries(p, include_closed=True) for p in PROJECTS}
        audit = {p: [r for r in store.recent_audit(500, p) if r.source == "sweep"] for p in PROJECTS}
        placement = [r for r in store.recent_audit(500, classroom.PROJECT) if r.action in EVENTS]
        # the demo starts with at least 2 minutes of its UTC day left (else it waits for the next),
        # but a slow run started a few minutes before a month's last midnight ends in the next month;
        # the stack is the test's own, so all money of every month the demo ran in is the demo's
        months.add(Period.MONTH.key(utcnow()))
        spent = {p: sum(store.usage(p, Period.MONTH, month).spent for month in months) for p in PROJECTS}
        yield Played(result, truth, entries, audit, placement, spent)


def _decisions(audit, session_id):
    return {(r.action, r.reason) for r in audit if r.session_id == session_id and r.outcome == "ok"}


def _billed_minutes(session):
    return int(session["billedSeconds"]) // 60


def _failed_for_capacity(entries):
    return [e for e in entries if e.final_status is SessionStatus.ERROR]


def test_the_demo_runs_every_outcome_and_exits_0(played):
    result = played.result
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "-> 402 budget-exhausted" in result.stdout
    assert "with the key lobby-kiosk -> 429 concurrency-limit" in result.stdout
    assert "Usage report" in result.stdout and "[ ]" not in result.stdout
    assert (
        "its app connects -> 200" in result.stdout and "[token from entra, can start sessions: False]" in result.stdout
    )
    assert "the headset connects to A -> 200; a tablet too -> 409" in result.stdout
    for kind in ("warn", "stop", "extend", "refused", "placement", "capacity"):  # as the receiver got each kind
        assert f"receiver gets `{kind}` for" in result.stdout, kind
    assert f"{classroom.FIRST} has {classroom.SERVERS} Standard servers left" in result.stdout
    landed = len(classroom.LABELS) - classroom.SERVERS
    assert result.stdout.count(f"is Ready in {classroom.NEXT}; its client polled only its own id") == landed
    assert "Webhooks received" in result.stdout and "NOT verified" not in result.stdout


def test_each_outcome_is_in_the_audit_and_in_arr(played):
    truth, entries, audit = played.truth, played.entries, played.audit
    studio = {e.size.value: e for e in entries["studio"]}
    lab = {e.session_id: e for e in entries["lab"]}
    kept, idle = studio["Premium"].session_id, studio["Standard"].session_id
    unmanaged = next(sid for sid in lab if sid.startswith("unmanaged-"))
    budget = next(sid for sid in lab if sid != unmanaged)

    assert len(entries["studio"]) == 2 and len(lab) == 2  # the refused request left no session behind
    assert len([s for s in truth.values() if s["account"] == ACCOUNT_IDS["default"]]) == 6
    failed = {e.session_id for e in _failed_for_capacity(entries[classroom.PROJECT])}
    # nothing left running or merely expired; the attempts ARR had no server for ended in Error
    assert all(s["status"] == ("Error" if sid in failed else "Stopped") for sid, s in truth.items())

    assert ("extend", "lease-low") in _decisions(audit["studio"], kept)
    assert truth[kept]["maxLeaseMinutes"] > LEASES["A"]
    assert _billed_minutes(truth[kept]) > LEASES["A"]  # it ran past the lease it was admitted with
    assert ("stop", "idle") in _decisions(audit["studio"], idle)
    assert PROJECTS["studio"]["idleTimeoutMinutes"] <= _billed_minutes(truth[idle]) < LEASES["B"]
    assert ("stop", "budget-exhausted") in _decisions(audit["lab"], budget)
    assert _billed_minutes(truth[budget]) < LEASES["C"]
    assert {("adopt", "unmanaged"), ("stop", "budget-exhausted")} <= _decisions(audit["lab"], unmanaged)
    assert lab[unmanaged].adopted and _billed_minutes(truth[unmanaged]) < LEASES["U"]

    (kiosk,) = entries["night"]  # the key's second request left no session behind
    assert kiosk.caller == "lobby-kiosk"
    assert ("stop", "closed-hours") in _decisions(audit["night"], kiosk.session_id)
    assert truth[kiosk.session_id]["status"] == "Stopped"

    (capped,) = entries["review"]  # extended to its hard cap, warned before it, refused more at it
    cap = PROJECTS["review"]["hardMaxMinutes"]
    decided = _decisions(audit["review"], capped.session_id)
    assert {("extend", "lease-low"), ("warn", "hard-cap-soon"), ("warn", "extension-refused-cap")} <= decided
    assert truth[capped.session_id]["maxLeaseMinutes"] == cap
    (warning,) = [r for r in audit["review"] if r.reason == "hard-cap-soon"]  # once
    assert 0 < warning.figures["minutes_to_hard_cap"] <= warning.figures["warn_before_minutes"]
    assert _billed_minutes(truth[capped.session_id]) < cap  # its app stopped it once refused


def test_the_class_lands_in_the_next_region_once_the_first_runs_out(played):
    truth, entries = played.truth, played.entries[classroom.PROJECT]
    names = {account_id: name for name, account_id in ACCOUNT_IDS.items()}
    failed = _failed_for_capacity(entries)
    ran = [e for e in entries if e.session_id not in {f.session_id for f in failed}]
    landed = len(classroom.LABELS) - classroom.SERVERS
    assert Counter(e.account for e in ran) == {classroom.FIRST: classroom.SERVERS, classroom.NEXT: landed}
    assert Counter(names[truth[e.session_id]["account"]] for e in ran) == Counter(e.account for e in ran)
    assert all(truth[e.session_id]["status"] == "Stopped" for e in ran)  # stopped by the class, at the lesson's end
    # each session beyond the first region's servers failed there once (or, when its failure was
    # already remembered by the time it asked, went to the next region at once), charged nothing
    assert 1 <= len(failed) <= landed and {e.account for e in failed} == {classroom.FIRST}
    assert all(e.charged == 0 and truth[e.session_id]["billedSeconds"] == 0 for e in failed)

    capacity = [r for r in played.placement if r.action == "capacity"]
    placed = [r for r in played.placement if r.action == "placement"]
    assert sorted(r.session_id for r in capacity) == sorted(e.session_id for e in failed)
    assert {(r.figures["account"], r.figures["size"]) for r in capacity} == {(classroom.FIRST, "Standard")}
    assert sorted(r.session_id for r in placed) == sorted(e.session_id for e in ran if e.account == classroom.NEXT)
    assert all(r.reason == "capacity-elsewhere" for r in placed)


def test_the_money_charged_is_what_arr_billed(played):
    truth, entries, spent = played.truth, played.entries, played.spent
    for project, listed in entries.items():
        rates = PROJECTS[project]["rates"]
        billed = sum(cost_of(to_micros(rates[e.size.value]), _billed_minutes(truth[e.session_id])) for e in listed)
        assert spent[project] == billed, project
    assert spent["lab"] >= to_micros(PROJECTS["lab"]["budget"]["daily"])  # stopped once the day's budget was used
