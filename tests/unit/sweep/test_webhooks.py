"""Webhook delivery against a real local HTTP receiver: signature, retry, timeout, never raising."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from governor.service.webhooks import SIGNATURE_HEADER, WebhookSender, sign, verify


class Receiver:
    def __init__(self, statuses=(200,), delay=0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.calls: list[tuple[dict, bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append((dict(self.headers), body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook?token=secret-in-url"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver_factory():
    made = []

    def make(**kw):
        made.append(Receiver(**kw))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


PAYLOAD = {"event": "stop", "project": "alpha", "sessionId": "s1", "reason": "idle"}


def test_delivery_is_signed_over_the_exact_body(receiver_factory):
    receiver = receiver_factory()
    sender = WebhookSender(timeout=2)
    sender.send(receiver.url, "whsec", PAYLOAD)
    assert sender.drain(5) == 0
    ((headers, body),) = receiver.calls
    assert json.loads(body) == PAYLOAD
    assert headers[SIGNATURE_HEADER] == sign("whsec", body)
    assert verify("whsec", body, headers[SIGNATURE_HEADER])
    assert not verify("other", body, headers[SIGNATURE_HEADER])
    assert headers["X-Governor-Event"] == "stop"
    assert sender.delivered == 1 and sender.failed == 0


def test_server_errors_are_retried_a_bounded_number_of_times(receiver_factory):
    receiver = receiver_factory(statuses=(503, 429, 200))
    sender = WebhookSender(timeout=2, attempts=3, backoff=0.01)
    sender.send(receiver.url, "whsec", PAYLOAD)
    sender.drain(5)
    assert len(receiver.calls) == 3 and sender.delivered == 1
    # the same delivery id on every attempt lets the receiver drop duplicates
    assert len({h["X-Governor-Delivery"] for h, _ in receiver.calls}) == 1

    failing = receiver_factory(statuses=(500,))
    sender = WebhookSender(timeout=2, attempts=3, backoff=0.01)
    sender.send(failing.url, "whsec", PAYLOAD)
    sender.drain(5)
    assert len(failing.calls) == 3 and sender.failed == 1


def test_client_errors_are_not_retried(receiver_factory):
    receiver = receiver_factory(statuses=(400,))
    sender = WebhookSender(timeout=2, attempts=3, backoff=0.01)
    sender.send(receiver.url, "whsec", PAYLOAD)
    sender.drain(5)
    assert len(receiver.calls) == 1 and sender.failed == 1


def test_send_returns_at_once_and_a_slow_receiver_times_out(receiver_factory, caplog):
    receiver = receiver_factory(delay=1.0)
    sender = WebhookSender(timeout=0.3, attempts=1)
    started = time.monotonic()
    sender.send(receiver.url, "whsec", PAYLOAD)
    assert time.monotonic() - started < 0.2
    sender.drain(5)
    assert sender.failed == 1
    assert "secret-in-url" not in caplog.text  # the URL's query may hold a token: never logged


def test_unreachable_and_unsigned_never_raise():
    sender = WebhookSender(timeout=0.5, attempts=2, backoff=0.01)
    sender.send("http://127.0.0.1:9/nothing-listens", "whsec", PAYLOAD)
    assert sender.send("http://127.0.0.1:9/x", None, PAYLOAD) is None  # no secret: not sent unsigned
    assert sender.send("file:///etc/passwd", "whsec", PAYLOAD) is None
    sender.drain(5)
    assert sender.failed == 3 and sender.delivered == 0
