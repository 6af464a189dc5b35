"""Fixtures: the local host serving the sample app (tests/integration/localhost/sample_app.py) over HTTP."""

from __future__ import annotations

import contextlib

import pytest

from governor.localhost import DEV_FUNCTION_KEY, DEV_MASTER_KEY
from governor.localhost.discovery import index_functions, load_app
from governor.localhost.server import Keys, LocalHost

SAMPLE = "tests.integration.localhost.sample_app"
FUNCTION_KEY = {"x-functions-key": DEV_FUNCTION_KEY}
MASTER_KEY = {"x-functions-key": DEV_MASTER_KEY}


@contextlib.contextmanager
def serving(environ: dict[str, str], keys: Keys | None = None, module: str = SAMPLE):
    index = index_functions(load_app(module), environ)
    host = LocalHost(index, Keys.development() if keys is None else keys, port=0)
    with host:
        yield host


@pytest.fixture(scope="module")
def sample_host():
    """The sample app with its timer turned off the platform's way (AzureWebJobs.<name>.Disabled)."""
    environ = {"SAMPLE_TICK_SCHEDULE": "0 0 0 1 1 *", "AzureWebJobs.tick.Disabled": "true"}
    with serving(environ) as host:
        yield host
