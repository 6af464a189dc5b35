"""`python -m governor_client` as a user runs it, against a scripted gate."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.clients.conftest import CALLER_KEY
from tests.clients.scripted_gate import Reply, problem
from tests.clients.test_waiting import BUNDLE

SESSIONS = "/projects/demo/sessions"
STARTING = {"sessionId": "s-1", "status": "Starting", "state": "active"}


def cli(scripted, *args: str, key: str | None = CALLER_KEY) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOVERNOR_")}
    env.update(GOVERNOR_URL=scripted.url, GOVERNOR_PROJECT="demo")
    if key:
        env["GOVERNOR_KEY"] = key
    argv = [sys.executable, "-m", "governor_client", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)


def test_request_prints_the_answer_as_json(scripted):
    scripted.script("POST", SESSIONS, Reply(202, STARTING))
    result = cli(scripted, "request", "--size", "Premium", "--lease", "45", "--no-wait")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == STARTING
    (post,) = scripted.requests("POST", SESSIONS)
    assert post.body == {"size": "Premium", "maxLeaseTime": 45}
    assert post.headers["X-Api-Key"] == CALLER_KEY and post.headers["Idempotency-Key"] in result.stderr
    assert CALLER_KEY not in result.stdout + result.stderr


def test_regions_and_auto_retry_are_sent_in_the_order_given(scripted):
    scripted.script("POST", SESSIONS, Reply(202, STARTING))
    args = ("--region", "japaneast", "--region", "westeurope", "--auto-retry")
    result = cli(scripted, "request", "--lease", "30", "--no-wait", *args)
    assert result.returncode == 0, result.stderr
    (post,) = scripted.requests("POST", SESSIONS)
    assert post.body == {
        "size": "Standard",
        "maxLeaseTime": 30,
        "regions": ["japaneast", "westeurope"],
        "autoRetry": True,
    }


def test_a_refusal_prints_the_problem_and_exits_1(scripted):
    scripted.script("POST", SESSIONS, problem(422, "lease-too-long", "at most 120 minutes", maxLeaseMinutes=120))
    result = cli(scripted, "request", "--lease", "01:00:00", "--idempotency-key", "mine-1")
    assert result.returncode == 1
    assert json.loads(result.stderr.splitlines()[-1])["maxLeaseMinutes"] == 120
    assert scripted.requests("POST", SESSIONS)[0].body["maxLeaseTime"] == "01:00:00"
    assert result.stdout == "" and CALLER_KEY not in result.stderr


def test_connect_prints_the_bundle_with_its_token(scripted):
    scripted.script("POST", SESSIONS + "/s-1/connect", Reply(200, BUNDLE))
    result = cli(scripted, "connect", "--session-id", "s-1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == BUNDLE  # the gate's answer, token included: it is the user's own


def test_stop_prints_the_closed_session(scripted):
    scripted.script("DELETE", SESSIONS + "/s-1", Reply(200, {**STARTING, "status": "Stopped", "state": "closed"}))
    result = cli(scripted, "stop", "--session-id", "s-1")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["state"] == "closed"


def test_no_key_is_a_usage_error(scripted):
    result = cli(scripted, "stop", "--session-id", "s-1", key=None)
    assert result.returncode == 2 and "GOVERNOR_KEY" in result.stderr
    assert scripted.requests() == []


def test_a_url_or_timeout_requests_cannot_use_is_a_usage_error_not_a_traceback(scripted):
    for args in (
        ["--url", "127.0.0.1:7071/api"],  # no scheme
        ["--url", "http://[::1"],
        ["--url", "http://localhost:99999/api"],
        ["--timeout", "0"],
        ["--url", "127.0.0.1:7071/api?code=secret-function-key"],
    ):
        result = cli(scripted, "stop", "--session-id", "s-1", *args)
        assert result.returncode == 2, (args, result.stderr)
        assert result.stderr.startswith("usage error:") and "Traceback" not in result.stderr, result.stderr
        assert "secret-function-key" not in result.stderr  # a mistyped URL is not echoed
    assert scripted.requests() == []
