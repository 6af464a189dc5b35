"""Issue 22, item 10: requests the local host cannot read get a problem+json answer (400, 413, 431),
never a dropped connection with a traceback or an HTML page; good requests keep working after them."""

import json
import logging
import socket

import pytest

from tests.integration.localhost.conftest import FUNCTION_KEY


def exchange(host, raw: bytes, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the one answer (the host closes the connection after a refusal)."""
    address = host._server.server_address[:2]
    with socket.create_connection(address, timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                break
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        length = int(headers.get("content-length", 0))
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        return status, headers, rest[:length]


def post_chunked(body: bytes) -> bytes:
    key = FUNCTION_KEY["x-functions-key"]
    return (
        b"POST /api/echo/x HTTP/1.1\r\nHost: t\r\nx-functions-key: " + key.encode() + b"\r\n"
        b"Transfer-Encoding: chunked\r\nContent-Type: application/json\r\n\r\n" + body
    )


def problem(status, headers, body, expected):
    assert status == expected
    assert headers["content-type"] == "application/problem+json"
    value = json.loads(body)
    assert value["status"] == expected and value["title"] and value["detail"]
    assert headers.get("connection") == "close"
    return value


@pytest.mark.parametrize(
    "body",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",  # not hex
        b"0x5\r\nhello\r\n0\r\n\r\n",  # int(..., 16) would take it
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"5_0\r\nhello\r\n0\r\n\r\n",
        b"-1\r\n\r\n",
        b"\r\n\r\n",  # no size at all
        b"5\r\nhelloEXTRA\r\n0\r\n\r\n",  # longer than its size
        b"5\r\nhel",  # ends inside a chunk
    ],
)
def test_a_malformed_chunked_body_is_a_400_problem_without_a_traceback(sample_host, caplog, body):
    caplog.set_level(logging.DEBUG)
    raw = post_chunked(body)
    if body == b"5\r\nhel":
        address = sample_host._server.server_address[:2]
        with socket.create_connection(address, timeout=10) as sock:
            sock.sendall(raw)
            sock.shutdown(socket.SHUT_WR)  # the client stops sending mid-chunk
            data = sock.recv(65536)
        assert data.startswith(b"HTTP/1.1 400")
    else:
        problem(*exchange(sample_host, raw), 400)
    assert "Traceback" not in caplog.text and "ValueError" not in caplog.text


def test_a_good_chunked_body_still_arrives(sample_host):
    status, _, body = exchange(sample_host, post_chunked(b'4\r\n{"a"\r\n4;ext=1\r\n: 1}\r\n0\r\nX-T: y\r\n\r\n'))
    assert status == 201 and json.loads(body)["body"] == '{"a": 1}'


def test_a_100_kb_header_is_a_431_problem_not_html(sample_host, caplog):
    caplog.set_level(logging.DEBUG)
    raw = b"GET /api/items/latest HTTP/1.1\r\nHost: t\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    value = problem(*exchange(sample_host, raw), 431)
    assert "too large" in value["detail"]
    too_many = b"GET /api/items/latest HTTP/1.1\r\nHost: t\r\n" + b"".join(b"X-%d: 1\r\n" % i for i in range(150))
    problem(*exchange(sample_host, too_many + b"\r\n"), 431)
    assert "Traceback" not in caplog.text


def test_other_refusals_of_http_server_are_problems_too(sample_host):
    problem(*exchange(sample_host, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n"), 414)
    problem(*exchange(sample_host, b"GET /api/items/latest HTTP/2.0\r\n\r\n"), 505)
    problem(*exchange(sample_host, b"NONSENSE\r\n\r\n"), 400)
    problem(*exchange(sample_host, b"GET /api/items/latest HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400)
    problem(*exchange(sample_host, b"GET /api/items/latest HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400)
    both = b"POST /api/items/latest HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
    problem(*exchange(sample_host, both), 400)


def test_the_host_serves_on_after_refusals(sample_host):
    exchange(sample_host, post_chunked(b"zz\r\n"))
    status, _, body = exchange(sample_host, b"GET /api/items/latest HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
    assert status == 200 and body
