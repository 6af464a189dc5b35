"""The `python -m governor arr` contract, for both API generations, against the emulator."""

import json
import subprocess
import sys
import threading

import pytest

from governor.cli import main
from tests.fixtures.emulator import ROOT
from tests.integration.arr.conftest import VERSIONS


@pytest.fixture
def arr_cli(emulator, monkeypatch, capsys):
    for name in ("ARR_ACCOUNT_ID", "ARR_ACCOUNT_KEY", "ARR_ACCESS_TOKEN", "ARR_SERVICE_ENDPOINT", "ARR_STS_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ARR_AUTH", "auto")
    monkeypatch.setenv("ARR_RETRY_TOTAL_SECONDS", "5")
    flags = ["--endpoint", emulator.url, "--sts-endpoint", emulator.url, "--account-id", emulator.account_id]
    flags += ["--account-key", emulator.account_key]

    def run(*args, connection=True):
        code = main(["arr", *(flags if connection else []), *args])
        out, err = capsys.readouterr()
        return code, (json.loads(out) if out.strip() else None), err

    return run


@pytest.mark.parametrize("version", VERSIONS)
def test_create_get_update_list_stop(arr_cli, emulator, version):
    v = ["--api-version", version]
    code, created, _ = arr_cli(*v, "create", "--size", "standard", "--lease", "4:00:00")
    assert code == 0 and created["status"] == "Starting" and created["maxLease"] == "04:00:00"
    sid = created["id"]
    emulator.advance(10)
    code, got, _ = arr_cli(*v, "get", sid)
    assert code == 0 and got["status"] == "Ready" and got["hostname"]
    code, updated, _ = arr_cli(*v, "update", sid, "--lease", "5:00:00")
    assert code == 0 and updated["maxLease"] == "05:00:00"
    code, listed, _ = arr_cli(*v, "list")
    assert code == 0 and [s["id"] for s in listed] == [sid]
    code, stopped, _ = arr_cli(*v, "stop", sid)
    assert code == 0 and stopped["status"] in ("Stopping", "Stopped")


@pytest.mark.parametrize("version", VERSIONS)
def test_poll_waits_until_ready(arr_cli, emulator, version):
    threading.Timer(0.3, emulator.advance, (10,)).start()  # the VM "boots" while the CLI polls
    code, session, _ = arr_cli(
        "--api-version", version, "create", "--size", "premium", "--lease", "0:30", "--poll", "--poll-interval", "0.2"
    )
    assert code == 0 and session["status"] == "Ready" and session["size"] == "Premium"


def test_poll_ends_with_exit_1_on_a_startup_error(arr_cli, emulator):
    emulator.set_faults(capacityFailures=1)
    threading.Timer(0.3, emulator.advance, (10,)).start()
    code, session, err = arr_cli(
        "create", "--size", "standard", "--lease", "1:00:00", "--poll", "--poll-interval", "0.2"
    )
    assert code == 1 and session["status"] == "Error" and "Error" in err


def test_2021_create_uses_the_given_id(arr_cli):
    code, session, _ = arr_cli("create", "--size", "standard", "--lease", "1:00:00", "--id", "from-the-script")
    assert code == 0 and session["id"] == "from-the-script"


def test_arr_error_exits_1_with_message_and_ms_cv_on_stderr(arr_cli):
    code, out, err = arr_cli("get", "missing-session")
    assert code == 1 and out is None
    assert "404" in err and "MS-CV: " in err


@pytest.mark.parametrize(
    "args",
    [
        ("create", "--size", "huge", "--lease", "1:00:00"),
        ("create", "--size", "standard", "--lease", "24:00:00"),
        ("create", "--size", "standard"),
        ("update", "some-id"),
        ("get", "../etc"),
        ("frobnicate",),
    ],
)
def test_usage_errors_exit_2(arr_cli, args):
    with pytest.raises(SystemExit) as exited:
        code = arr_cli(*args)[0]
        raise SystemExit(code)
    assert exited.value.code == 2


def test_missing_configuration_is_a_usage_error_naming_the_option(arr_cli, capsys):
    code, _, err = arr_cli("list", connection=False)
    assert code == 2 and "--account-id is required" in err


def test_v1_config_file_and_env_fallback(arr_cli, emulator, tmp_path, monkeypatch):
    config = {
        "accountSettings": {
            "arrAccountId": emulator.account_id,
            "arrAccountKey": emulator.account_key,
            "region": "westus2",
            "authenticationEndpoint": emulator.url,
            "serviceEndpoint": emulator.url,
        },
        "renderingSessionSettings": {"vmSize": "standard", "maxLeaseTime": "4:0:0"},
    }
    path = tmp_path / "arrconfig.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("ARR_API_VERSION", "v1")
    code, session, _ = arr_cli("--config", str(path), "create", connection=False)
    assert code == 0 and session["maxLease"] == "04:00:00" and session["size"] in (None, "Standard")
    assert len(emulator.truth()) == 1


def test_new_config_shape_with_env_endpoint(arr_cli, emulator, tmp_path, monkeypatch):
    config = {
        "accountSettings": {"arrAccountId": emulator.account_id, "arrAccountKey": emulator.account_key},
        "renderingSessionSettings": {"vmSize": "premium", "maxLeaseTime": "1:30:00"},
    }
    path = tmp_path / "arrconfig.json"
    path.write_text(json.dumps(config))
    monkeypatch.setenv("ARR_SERVICE_ENDPOINT", emulator.url)
    monkeypatch.setenv("ARR_STS_ENDPOINT", emulator.url)
    code, session, _ = arr_cli("--config", str(path), "create", connection=False)
    assert code == 0 and session["size"] == "Premium" and session["maxLease"] == "01:30:00"


def test_real_entrypoint_lists_as_json(emulator):
    emulator.bulk(2)
    env = {"PATH": "/usr/bin:/bin", "ARR_ACCOUNT_KEY": emulator.account_key}
    command = [sys.executable, "-m", "governor", "arr", "--endpoint", emulator.url, "--sts-endpoint", emulator.url]
    command += ["--account-id", emulator.account_id, "list"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 2
    assert emulator.account_key not in done.stdout + done.stderr
