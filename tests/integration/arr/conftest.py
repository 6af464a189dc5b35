"""Helpers for the ARR client tests: real clients against the real emulator over HTTP."""

import threading

import pytest

from governor.arr.accounts import make_account
from governor.arr.client import ArrClient

VERSIONS = ("2021-01-01", "v1")


def account_for(emulator, api_version="2021-01-01", *, key=None, timeout=5.0, retry_total=10.0, **kwargs):
    return make_account(
        "default",
        emulator.account_id,
        emulator.url,
        sts=emulator.url,
        api_version=api_version,
        key=emulator.account_key if key is None else key,
        timeout=timeout,
        retry_total=retry_total,
        **kwargs,
    )


@pytest.fixture
def make_client(emulator):
    clients = []

    def build(api_version="2021-01-01", *, credential_kwargs=None, **kwargs):
        client = ArrClient(account_for(emulator, api_version, **kwargs), **(credential_kwargs or {}))
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
    emulator.clear_faults()


def clear_faults_after(emulator, seconds: float) -> threading.Timer:
    """Faults that heal on their own: the client's retries must carry it over the gap."""
    timer = threading.Timer(seconds, emulator.clear_faults)
    timer.start()
    return timer
