"""`python -m governor arr check-connect` against the emulator: ok when ARR refuses a create to the
connect token; a failure, with the session it made stopped again, when ARR accepts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from governor.core.policy import arr_roles
from governor.emulator import DEV_CONNECT_CLIENT_ID, DEV_CONNECT_CLIENT_SECRET

ROOT = Path(__file__).resolve().parents[3]


def _check(emulator, **settings) -> tuple[int, list, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ARR_", "GOVERNOR_"))}
    env.update(
        {
            **emulator.env(),
            **emulator.connect_env(),
            "ARR_RETRY_TOTAL_SECONDS": "1",
            **settings,
        }
    )
    argv = [sys.executable, "-m", "governor", "arr", "check-connect"]
    result = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    return result.returncode, json.loads(result.stdout or "[]"), result.stderr


def test_ok_when_arr_refuses_the_connect_token_a_create(emulator):
    code, (report,), stderr = _check(emulator)
    assert code == 0, (report, stderr)
    assert report["read"] == "allowed" and report["create"] == "refused (HTTP 403)"
    assert report["result"].startswith("ok")
    assert emulator.truth() == []
    assert DEV_CONNECT_CLIENT_SECRET not in json.dumps(report) + stderr


def test_a_connect_identity_that_can_start_sessions_fails_and_its_session_is_stopped(emulator):
    emulator.assign(DEV_CONNECT_CLIENT_ID, arr_roles.CLIENT)  # a role with managesessions/action
    code, (report,), _ = _check(emulator)
    assert code == 1 and report["create"] == "allowed" and report["stoppedAgain"] == "allowed", report
    assert [s["status"] for s in emulator.truth()] == ["Stopped"]


def test_key_mode_says_its_token_can_start_sessions(emulator):
    code, (report,), _ = _check(emulator, ARR_CONNECT_AUTH="key")
    assert code == 1 and "can start sessions" in report["result"], report
    assert [s["status"] for s in emulator.truth()] == ["Stopped"]


def test_none_mode_has_nothing_to_check(emulator):
    code, (report,), _ = _check(emulator, ARR_CONNECT_AUTH="none")
    assert code == 0 and report["result"].startswith("skipped"), report
