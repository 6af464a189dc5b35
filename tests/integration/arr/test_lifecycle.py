"""Both API generations end to end against the emulator: one Session value whatever the wire."""

from datetime import timedelta

import pytest

from governor.arr.errors import ArrNotFound, ArrRequestError
from governor.core.model import SessionStatus, VmSize
from tests.fixtures.emulator import start_emulator, stop_emulator
from tests.integration.arr.conftest import VERSIONS, account_for


@pytest.mark.parametrize("version", VERSIONS)
def test_full_lifecycle(make_client, emulator, version):
    arr = make_client(version)
    created = arr.create(VmSize.STANDARD, timedelta(hours=1))
    assert created.status is SessionStatus.STARTING and created.account == "default"
    assert created.max_lease == timedelta(hours=1)

    emulator.advance(65)  # startup (5 s) plus a minute in Ready
    ready = arr.get(created.id)
    assert ready.status is SessionStatus.READY and ready.hostname
    assert ready.elapsed >= timedelta(minutes=1)
    assert [s.id for s in arr.list()] == [created.id]

    longer = arr.update_lease(created.id, timedelta(hours=2))
    assert longer.id == created.id and longer.max_lease == timedelta(hours=2)
    assert arr.get(created.id).max_lease == timedelta(hours=2)

    arr.stop(created.id)
    assert arr.get(created.id).status in (SessionStatus.STOPPING, SessionStatus.STOPPED)
    assert arr.list() == []


def test_2021_create_puts_the_given_id_and_is_idempotent(make_client, emulator):
    arr = make_client("2021-01-01")
    first = arr.create(VmSize.PREMIUM, timedelta(minutes=30), session_id="gate-reservation-1")
    again = arr.create(VmSize.PREMIUM, timedelta(minutes=30), session_id="gate-reservation-1")
    assert first.id == again.id == "gate-reservation-1" and first.size is VmSize.PREMIUM
    assert len(emulator.truth()) == 1


def test_v1_create_returns_the_server_id(make_client, emulator):
    arr = make_client("v1")
    session = arr.create(VmSize.STANDARD, timedelta(minutes=30), ["https://models/a"], session_id="ignored")
    assert session.id != "ignored"
    assert [s["id"] for s in emulator.truth()] == [session.id]


def test_2021_lease_is_rounded_up_to_whole_minutes(make_client):
    arr = make_client("2021-01-01")
    session = arr.create(VmSize.STANDARD, timedelta(minutes=30, seconds=1))
    assert session.max_lease == timedelta(minutes=31)
    assert arr.update_lease(session.id, timedelta(minutes=45, seconds=10)).max_lease == timedelta(minutes=46)


@pytest.mark.parametrize("version", VERSIONS)
def test_repeating_a_lease_update_is_success_not_an_error(make_client, version):
    arr = make_client(version)
    session = arr.create(VmSize.STANDARD, timedelta(hours=1))
    arr.update_lease(session.id, timedelta(hours=3))
    # what a retried PATCH looks like when the first attempt landed
    assert arr.update_lease(session.id, timedelta(hours=3)).max_lease == timedelta(hours=3)


@pytest.mark.parametrize("version", VERSIONS)
def test_shortening_a_lease_is_refused_with_arr_code_and_ms_cv(make_client, version):
    arr = make_client(version)
    session = arr.create(VmSize.STANDARD, timedelta(hours=2))
    with pytest.raises(ArrRequestError) as caught:
        arr.update_lease(session.id, timedelta(hours=1))
    assert caught.value.status in (400, 422) and caught.value.code and caught.value.ms_cv


@pytest.mark.parametrize("version", VERSIONS)
def test_unknown_session_is_not_found_with_ms_cv(make_client, version):
    with pytest.raises(ArrNotFound) as caught:
        make_client(version).get("no-such-session")
    assert caught.value.status == 404 and caught.value.ms_cv and caught.value.ms_cv in str(caught.value)


def test_list_follows_next_link_across_pages():
    process, url = start_emulator("--page-size", "2")
    try:
        from governor.arr.client import ArrClient
        from tests.fixtures.emulator import EmulatorHandle

        emu = EmulatorHandle(url)
        ids = emu.bulk(5)
        with ArrClient(account_for(emu)) as arr:
            assert sorted(s.id for s in arr.list()) == sorted(ids)
        pages = [
            k for k, n in emu.stats()["requests"].items() for _ in range(n) if k.startswith("GET") and "sessions" in k
        ]
        assert len(pages) == 3
    finally:
        stop_emulator(process)


def test_clients_from_settings_serve_as_arr_ports(emulator):
    from governor.arr import clients_from_settings
    from governor.settings import load

    env = {
        "ARR_ACCOUNT_ID": emulator.account_id,
        "ARR_ACCOUNT_KEY": emulator.account_key,
        "ARR_SERVICE_ENDPOINT": emulator.url,
        "ARR_STS_ENDPOINT": emulator.url,
        "ARR_API_VERSION": "v1",
    }
    with clients_from_settings(load(env))["default"] as port:
        session = port.create(VmSize.STANDARD, timedelta(minutes=45))
        assert port.account == "default" and [s.id for s in port.list()] == [session.id]
        port.stop(session.id)
        assert port.list() == []


def test_one_client_shared_by_threads_fetches_one_token(make_client, emulator):
    from concurrent.futures import ThreadPoolExecutor

    emulator.bulk(4)
    arr = make_client()
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: arr.list(), range(16)))
    assert all(len(r) == 4 for r in results)
    assert emulator.stats()["requests"].get("GET /accounts/{account}/token", 0) == 1
