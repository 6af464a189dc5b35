"""The official azure-mixedreality-remoterendering SDK, unmodified, against the emulator over TLS:
key-credential token exchange, the begin_rendering_session poller, get, update, list, stop."""

import os

import pytest
import requests

from tests.fixtures.emulator import EmulatorHandle, start_emulator, stop_emulator
from tests.integration.emulator.tls import make_self_signed

pytest.importorskip("azure.mixedreality.remoterendering")


@pytest.fixture(scope="module")
def tls_emulator(tmp_path_factory):
    cert, key = make_self_signed(tmp_path_factory.mktemp("tls"))
    process, url = start_emulator("--tls-cert", str(cert), "--tls-key", str(key), "--startup-seconds", "1")
    previous = os.environ.get("REQUESTS_CA_BUNDLE")
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)  # the SDK's inner STS client offers no other way
    try:
        yield EmulatorHandle(url, process=process), cert
    finally:
        if previous is None:
            os.environ.pop("REQUESTS_CA_BUNDLE", None)
        else:
            os.environ["REQUESTS_CA_BUNDLE"] = previous
        stop_emulator(process)


def _client(handle, key=None):
    from azure.core.credentials import AzureKeyCredential
    from azure.mixedreality.remoterendering import RemoteRenderingClient

    return RemoteRenderingClient(
        endpoint=handle.url,
        account_id=handle.account_id,
        account_domain="emulator.mixedreality.azure.com",
        credential=AzureKeyCredential(key or handle.account_key),
        authentication_endpoint_url=handle.url,
        polling_interval=0.2,  # on the client: the SDK rejects it on begin_rendering_session
    )


def test_url_is_https_and_plain_http_is_refused(tls_emulator):
    handle, cert = tls_emulator
    assert handle.url.startswith("https://127.0.0.1:")
    assert requests.get(handle.url + "/_emulator/clock", verify=str(cert), timeout=10).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(handle.url.replace("https", "http") + "/_emulator/clock", timeout=5)


def test_full_lifecycle_with_the_official_sdk(tls_emulator):
    from azure.mixedreality.remoterendering import RenderingSessionSize, RenderingSessionStatus

    handle, cert = tls_emulator
    requests.delete(handle.url + "/_emulator/stats", verify=str(cert), timeout=10)
    client = _client(handle)

    poller = client.begin_rendering_session(
        session_id="sdk-session", size=RenderingSessionSize.STANDARD, lease_time_minutes=20
    )
    session = poller.result(timeout=30)
    assert session.status == RenderingSessionStatus.READY
    assert session.lease_time_minutes == 20
    assert session.hostname and session.arr_inspector_port and session.handshake_port
    assert session.teraflops == 8.1
    assert session.created_on is not None

    fetched = client.get_rendering_session("sdk-session")
    assert fetched.status == RenderingSessionStatus.READY

    updated = client.update_rendering_session("sdk-session", lease_time_minutes=30)
    assert updated.lease_time_minutes == 30

    assert [s.id for s in client.list_rendering_sessions()] == ["sdk-session"]

    client.stop_rendering_session("sdk-session")
    stopped = client.get_rendering_session("sdk-session")
    assert stopped.status == RenderingSessionStatus.STOPPED
    assert stopped.hostname is None
    assert list(client.list_rendering_sessions()) == []

    stats = requests.get(handle.url + "/_emulator/stats", verify=str(cert), timeout=10).json()["requests"]
    assert stats["GET /accounts/{account}/token"] == 1  # the SDK cached the token by its exp


def test_sdk_maps_emulator_errors(tls_emulator):
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError, ResourceNotFoundError
    from azure.mixedreality.remoterendering import RenderingSessionSize

    handle, _ = tls_emulator
    client = _client(handle)
    with pytest.raises(ResourceNotFoundError):
        client.get_rendering_session("never-created")
    with pytest.raises(HttpResponseError) as negative:
        client.begin_rendering_session(session_id="neg", size=RenderingSessionSize.STANDARD, lease_time_minutes=-4)
    assert negative.value.status_code == 400
    assert "cannot be negative" in str(negative.value)
    client.begin_rendering_session(
        session_id="sdk-422", size=RenderingSessionSize.STANDARD, lease_time_minutes=20
    ).result(timeout=30)
    with pytest.raises(HttpResponseError) as not_larger:
        client.update_rendering_session("sdk-422", lease_time_minutes=10)
    assert not_larger.value.status_code == 422
    with pytest.raises(ClientAuthenticationError):
        _client(handle, key="wrong-key").get_rendering_session("sdk-422")
    client.stop_rendering_session("sdk-422")


def test_sdk_pages_through_many_sessions(tls_emulator):
    handle, cert = tls_emulator
    body = {"account": handle.account_id, "count": 230, "idPrefix": "page-"}
    requests.post(handle.url + "/_emulator/sessions/bulk", json=body, verify=str(cert), timeout=30).raise_for_status()
    ids = [s.id for s in _client(handle).list_rendering_sessions() if s.id.startswith("page-")]
    assert ids == [f"page-{i:06d}" for i in range(230)]
