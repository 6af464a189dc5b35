"""The command-line contract: one stdout line, clean exit on SIGTERM/SIGINT, --help, --state."""

import json
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.emulator import ROOT, EmulatorHandle, emulator_stderr, start_emulator, stop_emulator
from tests.integration.emulator.client import Arr

FLAGS = [
    "--host",
    "--port",
    "--account",
    "--startup-seconds",
    "--time-scale",
    "--fail-rate",
    "--fail-statuses",
    "--retry-after",
    "--latency-ms",
    "--fail-paths",
    "--tls-cert",
    "--tls-key",
    "--tls-self-signed",
    "--tls-port",
    "--state",
    "--page-size",
    "--capacity",
    "--tenant",
    "--principal",
    "--role",
    "--assign",
]


def test_help_documents_every_flag():
    result = subprocess.run(
        [sys.executable, "-m", "governor", "emulator", "--help"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    for flag in FLAGS:
        assert flag in result.stdout


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_prints_one_line_and_exits_zero_on_signal(sig):
    process, url = start_emulator()
    assert url.startswith("http://127.0.0.1:")
    process.send_signal(sig)
    assert process.wait(10) == 0
    assert process.stdout.read() == ""  # nothing after the listening line
    process.stdout.close()


@pytest.mark.parametrize(
    "args",
    [
        ["--account", "no-key"],
        ["--time-scale", "0"],
        ["--fail-rate", "2"],
        ["--fail-statuses", "200"],
        ["--capacity", "*:Basic=1"],
        ["--capacity", "0c000000-0000-4000-8000-00000000000c:Standard=1"],  # no such --account
    ],
)
def test_bad_flags_exit_2(args):
    result = subprocess.run(
        [sys.executable, "-m", "governor", "emulator", *args], cwd=ROOT, capture_output=True, text=True, timeout=20
    )
    assert result.returncode == 2
    assert result.stdout == ""


def test_time_scale_runs_leases_fast():
    process, url = start_emulator("--time-scale", "36000", "--startup-seconds", "0")
    try:
        handle = EmulatorHandle(url)
        arr = Arr(url, handle.account_id, handle.account_key)
        arr.put("fast", 60)
        time.sleep(0.3)  # three emulated hours
        assert arr.get("fast").json()["status"] == "Expired"
    finally:
        stop_emulator(process)


def test_state_file_survives_a_restart(tmp_path):
    state = tmp_path / "state.json"
    process, url = start_emulator("--state", str(state))
    try:
        handle = EmulatorHandle(url)
        arr = Arr(url, handle.account_id, handle.account_key)
        arr.put("kept", 30)
        arr.put("stopped", 30)
        arr.stop("stopped")
        handle.advance(5 + 60)
        before = {t["id"]: t for t in handle.truth()}
    finally:
        assert stop_emulator(process) == 0
    saved = json.loads(state.read_text())
    assert sorted(s["id"] for s in saved["sessions"]) == ["kept", "stopped"]
    assert not list(tmp_path.glob(".state.json.*"))  # no temporary file left behind

    process, url = start_emulator("--state", str(state))
    try:
        handle = EmulatorHandle(url)
        arr = Arr(url, handle.account_id, handle.account_key)  # a fresh token: same key, same signature
        after = {t["id"]: t for t in handle.truth()}
        assert after["stopped"] == before["stopped"]
        assert after["kept"]["status"] == "Ready"
        assert after["kept"]["billedSeconds"] >= before["kept"]["billedSeconds"]  # the clock did not go back
        assert [s["id"] for s in arr.list_all()] == ["kept"]
        assert arr.put("kept", 30).status_code == 200
        assert arr.put("new", 30).status_code == 201
    finally:
        stop_emulator(process)


def test_unreadable_state_file_exits_1(tmp_path):
    state = tmp_path / "state.json"
    state.write_text("{not json")
    result = subprocess.run(
        [sys.executable, "-m", "governor", "emulator", "--state", str(state)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert result.returncode == 1
    assert "state file" in result.stderr


def test_request_log_never_holds_keys_or_tokens():
    process, url = start_emulator("--log-requests")
    try:
        handle = EmulatorHandle(url)
        arr = Arr(url, handle.account_id, handle.account_key)
        token = arr.token()
        arr.put("logged", 15)
    finally:
        stop_emulator(process)
    log = emulator_stderr(process)
    assert "PUT /accounts/" in log
    assert handle.account_key not in log
    assert token not in log and token.split(".")[2] not in log
