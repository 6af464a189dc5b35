"""Unexpected answers raise a clear typed error. ARR's emulator is faithful, so these answers
come from a small misbehaving HTTP server instead: a real socket, canned bodies."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from governor.arr.accounts import make_account
from governor.arr.client import ArrClient
from governor.arr.errors import ArrBadResponse

ACCOUNT = "11111111-2222-3333-4444-555555555555"
TOKEN = "h.eyJleHAiOjIxNDc0ODM2NDd9.s"


class Misbehaving(BaseHTTPRequestHandler):
    replies: dict = {}

    def do_GET(self):
        path = self.path.split("?")[0]
        if path.endswith("/token"):
            status, body = 200, json.dumps({"AccessToken": TOKEN})
        else:
            status, body = self.replies.get(path, (404, ""))
        data = body.encode()
        self.send_response(status)
        self.send_header("MS-CV", "odd.0")
        if status == 503:
            self.send_header("Retry-After", "when-it-suits-us")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def odd_arr():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    client = ArrClient(make_account("odd", ACCOUNT, url, sts=url, key="k", retry_total=1))

    def reply(path, status, body):
        Misbehaving.replies = {f"/accounts/{ACCOUNT}/sessions{path}": (status, body)}
        return client

    yield reply
    client.close()
    server.shutdown()
    server.server_close()


GOOD = {"id": "s", "size": "Standard", "status": "Ready", "elapsedTimeMinutes": 1, "maxLeaseTimeMinutes": 60}


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html>Service Unavailable</html>", "not JSON"),
        (json.dumps({k: v for k, v in GOOD.items() if k != "maxLeaseTimeMinutes"}), "'maxLeaseTimeMinutes' is missing"),
        (json.dumps({**GOOD, "status": "Hibernating"}), "'status' has unknown value"),
        (json.dumps([GOOD]), "expected a JSON object"),
    ],
)
def test_unexpected_session_bodies(odd_arr, body, expected):
    arr = odd_arr("/s", 200, body)
    with pytest.raises(ArrBadResponse, match=expected) as caught:
        arr.get("s")
    assert caught.value.ms_cv == "odd.0" and caught.value.operation == "get"


def test_next_link_to_another_host_is_refused(odd_arr):
    page = {"sessions": [GOOD], "@nextLink": "https://attacker.example/steal?page=2"}
    with pytest.raises(ArrBadResponse, match="another host"):
        odd_arr("", 200, json.dumps(page)).list()


def test_next_link_that_loops_is_refused(odd_arr):
    page = {"sessions": [GOOD], "@nextLink": f"/accounts/{ACCOUNT}/sessions?api-version=2021-01-01"}
    with pytest.raises(ArrBadResponse, match="repeats"):
        odd_arr("", 200, json.dumps(page)).list()


def test_error_status_with_a_non_json_body_keeps_the_status(odd_arr):
    from governor.arr.errors import ArrRequestError

    with pytest.raises(ArrRequestError) as caught:
        odd_arr("/s", 400, "bad things").get("s")
    assert caught.value.status == 400 and caught.value.ms_cv == "odd.0"


def test_malformed_retry_after_falls_back_to_backoff(odd_arr):
    from governor.arr.errors import ArrUnavailable

    with pytest.raises(ArrUnavailable) as caught:
        odd_arr("/s", 503, "").get("s")
    assert caught.value.status == 503 and caught.value.retry_after is None
