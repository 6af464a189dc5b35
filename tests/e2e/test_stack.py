"""`python -m governor run` end to end: Azurite, the ARR emulator and `serve` as real processes."""

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from governor.localhost.discovery import index_functions, load_app, route_prefix_for
from tests.fixtures.stack import FUNCTION_KEY, MASTER_KEY, start_stack
from tests.integration.localhost.paths import example_method, example_path

ROOT = Path(__file__).resolve().parents[2]
REQUEST = {"size": "Standard", "maxLeaseTime": "00:30:00"}


def _wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout:.0f}s")


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_every_registered_function_is_reachable_and_the_sweep_fires(stack):
    index = index_functions(load_app(), {"GOVERNOR_SWEEP_SCHEDULE": "0 * * * * *"}, route_prefix_for())
    listed = requests.get(f"{stack.host_url}/admin/functions", headers=MASTER_KEY, timeout=10).json()
    assert sorted(f["name"] for f in listed) == sorted(index.names)

    statuses = {}
    for function in index.http:
        method = example_method(function)
        response = requests.request(
            method,
            stack.host_url + example_path(index, function),
            headers={**MASTER_KEY, "Content-Type": "application/json"},
            data=b"{}" if method in ("POST", "PUT", "PATCH") else None,
            timeout=30,
        )
        statuses[function.name] = response.status_code
    executed = set(re.findall(r"Executing 'Functions\.(\w+)'", stack.host_log()))
    assert {f.name for f in index.http} <= executed
    assert [name for name, status in statuses.items() if status == 500] == []

    _wait_for(lambda: "Executed 'Functions.sweep' (Succeeded" in stack.host_log(), 15, "a sweep by the timer")

    # what Azure Monitor would get, in the file `run` points GOVERNOR_TELEMETRY_FILE at
    telemetry = stack.data_dir / "telemetry.jsonl"
    _wait_for(lambda: telemetry.exists() and '"name": "sweep"' in telemetry.read_text(), 15, "the sweep's span")
    text = telemetry.read_text()
    assert '"name": "GET /api/health"' in text and '"http.response.status_code"' in text


def test_a_restart_keeps_budgets_and_the_ledger(tmp_path):
    data = tmp_path / "data"
    first = start_stack(data)
    try:
        key = first.keys["demo"]
        headers = {**FUNCTION_KEY, "X-Api-Key": key}
        created = requests.post(f"{first.base_url}/projects/demo/sessions", json=REQUEST, headers=headers, timeout=30)
        assert created.status_code == 202, created.text
        session_id = created.json()["sessionId"]
        placed = requests.post(  # the README's "placed" request: demo is placed in the stack's three regions
            f"{first.base_url}/projects/demo/sessions",
            json={**REQUEST, "regions": ["westeurope", "default"], "autoRetry": True},
            headers=headers,
            timeout=30,
        )
        assert placed.status_code == 202 and placed.json()["account"] == "westeurope", placed.text
        before = requests.get(f"{first.base_url}/projects/demo/usage", headers=headers, timeout=30).json()
        ports = [first.azurite_port, int(first.host_url.rsplit(":", 1)[1]), int(first.emulator_url.rsplit(":", 1)[1])]
    finally:
        assert first.stop() == 0
    assert [port for port in ports if _listening(port)] == []  # Ctrl-C stopped every child

    second = start_stack(data)
    try:
        assert second.keys == {}  # the projects were already there: unchanged, no new keys
        headers = {**FUNCTION_KEY, "X-Api-Key": key}
        listed = requests.get(
            f"{second.base_url}/projects/demo/sessions?includeClosed=true", headers=headers, timeout=30
        ).json()
        assert {s["sessionId"] for s in listed["sessions"]} == {session_id, placed.json()["sessionId"]}  # rows kept
        after = requests.get(f"{second.base_url}/projects/demo/usage", headers=headers, timeout=30).json()
        assert _budgets(after) == _budgets(before) == {"day": "40.000000", "month": "600.000000"}
        assert _charged(after) >= _charged(before) > 0  # reserved and spent money is still counted
    finally:
        second.stop()


def _budgets(usage: dict) -> dict:
    return {period: figures["budget"] for period, figures in usage["budget"].items()}


def _charged(usage: dict) -> float:
    month = usage["budget"]["month"]
    return float(month["spent"]) + float(month["reserved"])


def test_run_outside_the_repository_applies_a_relative_projects_file_and_prints_every_new_key(tmp_path):
    from governor.localhost.children import start

    elsewhere, data = tmp_path / "elsewhere", tmp_path / "data"
    elsewhere.mkdir()
    (elsewhere / "mine.json").write_text((ROOT / "examples" / "projects.json").read_text(), encoding="utf-8")
    argv = [sys.executable, "-m", "governor", "run", "--port", "0", "--azurite-port", "0", "--projects", "mine.json"]
    argv += ["--data-dir", str(data)]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    console = tmp_path / "console.txt"  # the terminal: outside the data directory
    child = start("run", argv, console, r"(?m)^listening on (http\S+)", env=env, cwd=elsewhere, timeout=120)
    try:
        out = console.read_text(encoding="utf-8")
        keys = dict(re.findall(r"Caller key of project (\S+) \(created now, shown once\): (\S+)", out))
        assert sorted(keys) == ["demo", "design-review"], out
        base = f"{child.ready.group(1)}/api"
        for project, key in keys.items():
            headers = {**FUNCTION_KEY, "X-Api-Key": key}
            usage = requests.get(f"{base}/projects/{project}/usage", headers=headers, timeout=30)
            assert usage.status_code == 200, (project, usage.text)
    finally:
        child.process.send_signal(signal.SIGINT)
        child.process.wait(60)
        child.stop()
    # secrets never reach logs: no file the stack wrote holds a caller key
    holding = [p for p in data.rglob("*") if p.is_file() and any(k.encode() in p.read_bytes() for k in keys.values())]
    assert holding == []


def test_run_refuses_a_busy_port_with_a_clear_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "governor", "run", "--azurite-port", str(port), "--data-dir", str(tmp_path)],
            cwd=ROOT,
            env=os.environ.copy(),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 1
    assert f"port {port} (Azurite) is in use" in result.stderr
    assert "--azurite-port 0" in result.stderr and "a --data-dir of its own" in result.stderr


def test_ctrl_c_while_starting_leaves_no_process_behind(tmp_path):
    from governor.localhost.children import free_port, start

    azurite_port, host_port = free_port(), free_port()
    argv = [sys.executable, "-m", "governor", "run", "--azurite-port", str(azurite_port), "--port", str(host_port)]
    argv += ["--data-dir", str(tmp_path)]
    # Ready as soon as Azurite is up and the emulator is being started: interrupt there.
    child = start("run", argv, tmp_path / "run.out", "starting", cwd=ROOT)
    try:
        _wait_for(lambda: (tmp_path / "logs" / "emulator.log").exists(), 60, "the emulator start")
        child.process.send_signal(signal.SIGINT)
        assert child.process.wait(30) == 130
    finally:
        child.stop()
    assert not _listening(azurite_port)
    assert not _listening(host_port)
