"""`python -m governor serve` as a process: local.settings.json, the `listening on` line, a clean stop."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import requests

from governor.localhost import DEV_FUNCTION_KEY
from governor.localhost.children import start
from tests.integration.localhost.conftest import SAMPLE

ROOT = Path(__file__).resolve().parents[3]


def test_serve_reads_local_settings_listens_and_stops_cleanly(tmp_path):
    values = {"SAMPLE_TICK_SCHEDULE": "0 0 0 1 1 *", "GOVERNOR_DEV_KEYS": "true", "GOVERNOR_DRY_RUN": "not-a-bool"}
    (tmp_path / "local.settings.json").write_text(json.dumps({"IsEncrypted": False, "Values": values}))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GOVERNOR_DRY_RUN": "false"}  # the environment wins
    env.pop("GOVERNOR_DEV_KEYS", None)
    argv = [sys.executable, "-m", "governor", "serve", "--port", "0", "--app", SAMPLE]
    child = start("serve", argv, tmp_path / "serve.log", r"listening on (http\S+)", env=env, cwd=tmp_path)
    try:
        url = child.ready.group(1)
        response = requests.get(f"{url}/api/echo/x", headers={"x-functions-key": DEV_FUNCTION_KEY}, timeout=5)
        assert response.status_code == 201
        child.process.send_signal(signal.SIGTERM)
        assert child.process.wait(15) == 0
    finally:
        child.stop()
    log = (tmp_path / "serve.log").read_text()
    assert "echo: [GET,POST]" in log
    assert "tick: timerTrigger (0 0 0 1 1 *)" in log


def test_serve_refuses_to_start_with_the_host_message(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "governor", "serve", "--port", "0", "--app", SAMPLE],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "The following 1 functions are in error:",
        "tick: '%SAMPLE_TICK_SCHEDULE%' does not resolve to a value.",
    ]
