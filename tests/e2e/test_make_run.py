"""`make run` stopped the ways a terminal stops it (Ctrl-C, once or twice, and SIGHUP reach the whole
foreground group) or a supervisor does (SIGTERM to make alone): Azurite closes gracefully, saving its
database, so a session admitted just before the stop keeps its ledger row on disk."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time

import pytest
import requests

from tests.fixtures.stack import FUNCTION_KEY, start_stack

REQUEST = {"size": "Standard", "maxLeaseTime": "00:30:00"}
AZURITE_CLOSED = "Azurite Table service successfully closed"


def _kill_leftovers(data) -> list[str]:
    """SIGKILL any process still running on this test's data directory (a child `run` failed to
    stop, in its own session); returns their command lines so the test can fail naming them."""
    left = []
    for proc in os.listdir("/proc"):
        if not proc.isdigit():
            continue
        try:
            with open(f"/proc/{proc}/cmdline", "rb") as cmdline:
                argv = cmdline.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(data) in argv:
            left.append(argv[:120])
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc), signal.SIGKILL)
    return left


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.parametrize("how", ["ctrl-c to the group", "ctrl-c twice", "sigterm to make", "sighup to the group"])
def test_make_run_stops_azurite_gracefully_and_the_ledger_row_is_on_disk(tmp_path, how):
    data = tmp_path / "data"
    stack = start_stack(data, via_make=True)
    make = stack.child.process
    try:
        headers = {**FUNCTION_KEY, "X-Api-Key": stack.keys["demo"]}
        created = requests.post(f"{stack.base_url}/projects/demo/sessions", json=REQUEST, headers=headers, timeout=30)
        assert created.status_code == 202, created.text
        session_id = created.json()["sessionId"]
        database = data / "azurite" / "__azurite_db_table__.json"
        # Azurite saves every few seconds; stop at once, before that save can have happened.
        if how == "sigterm to make":
            make.send_signal(signal.SIGTERM)  # make passes SIGTERM on to `run`
        elif how == "sighup to the group":
            os.killpg(make.pid, signal.SIGHUP)  # the terminal closed
        else:
            os.killpg(make.pid, signal.SIGINT)  # make leads its own group (start_new_session)
            if how == "ctrl-c twice":
                time.sleep(0.3)
                os.killpg(make.pid, signal.SIGINT)
        make.wait(60)
    finally:
        stack.child.stop()
        deadline = time.monotonic() + 15
        while _listening(stack.azurite_port) and time.monotonic() < deadline:
            time.sleep(0.2)
        leftovers = _kill_leftovers(data)
    assert leftovers == []
    azurite_log = (data / "logs" / "azurite.log").read_text(encoding="utf-8", errors="replace")
    assert AZURITE_CLOSED in azurite_log, azurite_log[-2000:]
    assert session_id in database.read_text(encoding="utf-8")  # the admitted session's ledger row
