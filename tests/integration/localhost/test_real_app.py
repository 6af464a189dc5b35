"""The real function_app.py, served in-process against Azurite and the ARR emulator."""

import logging
import time

import pytest
import requests

from governor.localhost.discovery import index_functions, load_app, route_prefix_for
from governor.localhost.server import Keys, LocalHost
from tests.integration.localhost.conftest import MASTER_KEY
from tests.integration.localhost.paths import example_method, example_path


@pytest.fixture
def real_app_env(monkeypatch, azurite, emulator, table_prefix):
    from governor.bootstrap import reset_context

    env = {
        **emulator.env(),
        "GOVERNOR_TABLES_CONNECTION": azurite.connection_string,
        "GOVERNOR_TABLE_PREFIX": table_prefix,
        "GOVERNOR_SWEEP_SCHEDULE": "0 0 0 1 1 *",  # fired by hand below, not by the clock
        "GOVERNOR_DEV_KEYS": "true",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    reset_context()
    yield env
    reset_context()


def test_every_registered_function_is_reachable(real_app_env, caplog):
    import os

    caplog.set_level(logging.INFO, logger="governor.localhost")
    index = index_functions(load_app(), os.environ, route_prefix_for())
    assert index.http and [t.name for t in index.timers] == ["sweep", "retention"]
    with LocalHost(index, Keys.development(), port=0) as host:
        statuses = {}
        for function in index.http:
            method = example_method(function)
            body = b"{}" if method in ("POST", "PUT", "PATCH") else None
            response = requests.request(
                method,
                host.url + example_path(index, function),
                headers={**MASTER_KEY, "Content-Type": "application/json"},
                data=body,
                timeout=30,
            )
            statuses[function.name] = response.status_code
        executed = {r.args[0] for r in caplog.records if r.getMessage().startswith("Executing 'Functions.")}
        assert executed == {f.name for f in index.http}
        assert [name for name, status in statuses.items() if status >= 500 and status != 503] == []

        assert requests.post(f"{host.url}/admin/functions/sweep", headers=MASTER_KEY, timeout=5).status_code == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _finished(caplog, "sweep"):
            time.sleep(0.1)
        assert "Executed 'Functions.sweep' (Succeeded" in _finished(caplog, "sweep")

        assert requests.post(f"{host.url}/admin/functions/retention", headers=MASTER_KEY, timeout=5).status_code == 202
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not _finished(caplog, "retention"):
            time.sleep(0.1)
        assert "Executed 'Functions.retention' (Succeeded" in _finished(caplog, "retention")


def _finished(caplog, name: str) -> str:
    return next(
        (r.getMessage() for r in caplog.records if r.getMessage().startswith(f"Executed 'Functions.{name}'")), ""
    )
