"""The local host under a burst of connections, and early answers that leave a body unread."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from governor.localhost.discovery import index_functions, load_app
from governor.localhost.server import MAX_REQUEST_BYTES, Keys, LocalHost
from tests.fixtures.sockets import close_all, connect_burst, read_until_closed, status_lines
from tests.integration.localhost.conftest import SAMPLE

PING = b"GET /admin/host/ping HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"


def address_of(host: LocalHost) -> tuple[str, int]:
    url = urlsplit(host.url)
    return url.hostname, url.port


def test_64_simultaneous_connections_are_all_queued_and_answered():
    index = index_functions(load_app(SAMPLE), {"SAMPLE_TICK_SCHEDULE": "0 0 0 1 1 *"})
    host = LocalHost(index, Keys.development(), port=0)  # listening, not yet accepting
    try:
        sockets = connect_burst(address_of(host), 64)
    except BaseException:
        host.stop()
        raise
    try:
        host.start()
        for sock in sockets:
            sock.settimeout(30)
            sock.sendall(PING)
        replies = [read_until_closed(sock) for sock in sockets]
        assert [status_lines(reply) for reply in replies] == [["HTTP/1.1 200 OK"]] * 64
    finally:
        close_all(sockets)
        host.stop()


def test_a_413_closes_the_connection_so_the_body_is_never_read_as_a_request(sample_host):
    address = address_of(sample_host)
    smuggled = b"GET /api/items/latest HTTP/1.1\r\nHost: localhost\r\n\r\n"  # a 200 if it were read
    head = (f"POST /api/echo/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: {MAX_REQUEST_BYTES + 1}\r\n\r\n").encode()
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(head + smuggled)
        reply = read_until_closed(sock)
    assert status_lines(reply) == ["HTTP/1.1 413 Request Entity Too Large"]
    assert b"\r\nConnection: close\r\n" in reply


def test_a_bad_content_length_closes_the_connection_too(sample_host):
    address = address_of(sample_host)
    with socket.create_connection(address, timeout=30) as sock:
        sock.sendall(b"POST /api/echo/x HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n" + PING)
        reply = read_until_closed(sock)
    assert status_lines(reply) == ["HTTP/1.1 400 Bad Request"]
