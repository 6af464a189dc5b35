"""Auth levels with the documented development keys, and nothing without GOVERNOR_DEV_KEYS."""

import pytest
import requests

from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY
from governor.localhost.server import Keys
from tests.integration.localhost.conftest import serving

ECHO = "/api/echo/x"
RESET = "/api/ops/reset"


@pytest.mark.parametrize(
    ("method", "path", "key", "status"),
    [
        ("GET", ECHO, None, 401),
        ("GET", ECHO, "wrong", 401),
        ("GET", ECHO, DEV_FUNCTION_KEY, 201),
        ("GET", ECHO, DEV_MASTER_KEY, 201),
        ("POST", RESET, DEV_FUNCTION_KEY, 401),
        ("POST", RESET, DEV_MASTER_KEY, 204),
        ("GET", "/api/items/latest", None, 200),
        ("GET", "/admin/functions", DEV_FUNCTION_KEY, 401),
        ("GET", "/admin/functions", DEV_MASTER_KEY, 200),
        ("GET", "/admin/host/ping", None, 200),
    ],
)
def test_auth_levels_with_the_key_header(sample_host, method, path, key, status):
    headers = {"x-functions-key": key} if key else {}
    assert requests.request(method, sample_host.url + path, headers=headers, timeout=5).status_code == status


def test_the_code_query_parameter_is_a_key_too(sample_host):
    assert requests.get(f"{sample_host.url}{ECHO}?code={DEV_FUNCTION_KEY}", timeout=5).status_code == 201
    assert requests.post(f"{sample_host.url}{RESET}?code={DEV_FUNCTION_KEY}", timeout=5).status_code == 401
    assert requests.post(f"{sample_host.url}{RESET}?code={DEV_MASTER_KEY}", timeout=5).status_code == 204


def test_without_dev_keys_only_anonymous_functions_answer():
    environ = {"SAMPLE_TICK_SCHEDULE": "0 0 0 1 1 *", "AzureWebJobs.tick.Disabled": "true"}
    with serving(environ, keys=Keys()) as host:
        assert (
            requests.get(host.url + ECHO, headers={"x-functions-key": DEV_FUNCTION_KEY}, timeout=5).status_code == 401
        )
        assert (
            requests.post(host.url + RESET, headers={"x-functions-key": DEV_MASTER_KEY}, timeout=5).status_code == 401
        )
        assert requests.get(host.url + "/api/items/latest", timeout=5).status_code == 200


def test_keys_never_show_in_their_repr():
    shown = repr(Keys.development())
    assert DEV_FUNCTION_KEY not in shown
    assert DEV_MASTER_KEY not in shown


def test_serve_refuses_dev_keys_when_running_in_azure():
    import os
    import subprocess
    import sys
    from pathlib import Path

    env = {**os.environ, "GOVERNOR_DEV_KEYS": "true", "WEBSITE_INSTANCE_ID": "abc"}
    result = subprocess.run(
        [sys.executable, "-m", "governor", "serve", "--port", "0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[3],
    )
    assert result.returncode == 2
    assert "GOVERNOR_DEV_KEYS is refused when running in Azure" in result.stderr
