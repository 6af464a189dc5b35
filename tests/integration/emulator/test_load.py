"""The emulator's server under a burst of connections, and an early answer that leaves a body unread."""

from __future__ import annotations

import socket
import threading
from urllib.parse import urlsplit

from governor.emulator import DEV_ACCOUNT_ID, DEV_ACCOUNT_KEY, MAX_BODY_BYTES
from governor.emulator.app import Config, Emulator
from governor.emulator.server import make_server
from tests.fixtures.sockets import close_all, connect_burst, read_until_closed, status_lines


def test_64_simultaneous_connections_are_all_queued_and_answered():
    server = make_server("127.0.0.1", 0, Emulator(Config(accounts={DEV_ACCOUNT_ID: DEV_ACCOUNT_KEY})))
    url = urlsplit(server.url)
    try:
        sockets = connect_burst((url.hostname, url.port), 64)  # listening, not yet accepting
    except BaseException:
        server.server_close()
        raise
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        request = f"GET /_emulator/clock HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode()
        for sock in sockets:
            sock.sendall(request)
        assert [status_lines(read_until_closed(sock)) for sock in sockets] == [["HTTP/1.1 200 OK"]] * 64
    finally:
        close_all(sockets)
        server.shutdown()
        server.server_close()


def test_a_413_closes_the_connection_so_the_body_is_never_read_as_a_request(arr):
    url = urlsplit(arr.url)
    smuggled = f"GET /_emulator/clock HTTP/1.1\r\nHost: {url.netloc}\r\n\r\n".encode()  # a 200 if it were read
    head = (
        f"PUT {arr.session_path('big')} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Authorization: Bearer {arr.token()}\r\nContent-Length: {MAX_BODY_BYTES + 1}\r\n\r\n"
    ).encode()
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(head + smuggled)
        reply = read_until_closed(sock)
    assert status_lines(reply) == ["HTTP/1.1 413 Request Entity Too Large"]
