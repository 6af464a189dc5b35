"""Webhook delivery against a real local HTTP receiver: Standard Webhooks signatures checked with the
`standardwebhooks` library, CloudEvents bodies, replay rejection, no redirects, retry, timeout, never raising."""

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from governor.service.webhooks import ID_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSender, sign

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()


class Receiver:
    def __init__(self, statuses=(200,), delay=0.0):
        self.statuses = list(statuses)
        self.delay = delay
        self.calls: list[tuple[dict, bytes]] = []
        self.gets = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
                time.sleep(receiver.delay)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self):
                receiver.gets += 1
                self.send_response(200)
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


PAYLOAD = {"event": "stop", "project": "alpha", "sessionId": "s1", "reason": "idle", "at": "2026-03-10T12:00:00+00:00"}


class VerifyingReceiver:
    """What docs/governor.md tells a receiver to do: verify with the library, then drop seen ids."""

    def __init__(self, secret):
        self.webhook = Webhook(secret)
        self.seen: set[str] = set()

    def accept(self, headers, body) -> dict:
        event = self.webhook.verify(body, headers)  # signature and a timestamp within 5 minutes
        if headers[ID_HEADER] in self.seen:
            raise WebhookVerificationError("replayed delivery")
        self.seen.add(headers[ID_HEADER])
        return event


def test_delivery_is_a_signed_cloudevent_the_library_verifies(receiver_factory):
    receiver = receiver_factory()
    sender = WebhookSender(timeout=2, allow_loopback_http=True)
    sender.send(receiver.url, SECRET, PAYLOAD)
    assert sender.drain(5) == 0
    ((headers, body),) = receiver.calls
    event = VerifyingReceiver(SECRET).accept(headers, body)
    assert event["specversion"] == "1.0" and event["id"] == headers[ID_HEADER]
    assert event["type"] == "com.arr-lease-governor.session.stop" and event["subject"] == "s1"
    assert event["source"] and event["time"] == PAYLOAD["at"] and event["data"] == PAYLOAD
    assert headers["content-type"] == "application/cloudevents+json"
    assert abs(int(headers[TIMESTAMP_HEADER]) - time.time()) < 60
    other = "whsec_" + base64.b64encode(b"another-secret-of-32-bytes-long!").decode()
    with pytest.raises(WebhookVerificationError):
        Webhook(other).verify(body, headers)
    assert sender.delivered == 1 and sender.failed == 0


def test_replayed_retimed_or_altered_deliveries_are_rejected(receiver_factory):
    receiver = receiver_factory()
    sender = WebhookSender(timeout=2, allow_loopback_http=True)
    sender.send(receiver.url, SECRET, PAYLOAD)
    sender.drain(5)
    ((headers, body),) = receiver.calls
    verifier = VerifyingReceiver(SECRET)
    verifier.accept(headers, body)
    with pytest.raises(WebhookVerificationError, match="replayed"):
        verifier.accept(headers, body)  # the same delivery again: a fresh receiver state would take it
    retimed = {**headers, TIMESTAMP_HEADER: str(int(headers[TIMESTAMP_HEADER]) + 1)}
    with pytest.raises(WebhookVerificationError):
        VerifyingReceiver(SECRET).accept(retimed, body)  # the timestamp is signed
    with pytest.raises(WebhookVerificationError):
        VerifyingReceiver(SECRET).accept(headers, body.replace(b"idle", b"busy"))
    # a captured delivery re-signed by its own timestamp is still refused once it is old
    old = datetime.now(UTC) - timedelta(minutes=10)
    stale = {**headers, TIMESTAMP_HEADER: str(int(old.timestamp()))}
    stale[SIGNATURE_HEADER] = sign(SECRET, headers[ID_HEADER], old, body)
    with pytest.raises(WebhookVerificationError, match="too old"):
        VerifyingReceiver(SECRET).accept(stale, body)


def test_our_signature_is_the_specs_hmac_over_id_timestamp_body():
    import hashlib
    import hmac

    at = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    expected = hmac.new(key, b"msg_1." + str(int(at.timestamp())).encode() + b".{}", hashlib.sha256).digest()
    assert sign(SECRET, "msg_1", at, b"{}") == "v1," + base64.b64encode(expected).decode()


def test_a_redirect_is_never_followed(receiver_factory):
    for status in (301, 302, 303, 307, 308):
        receiver = receiver_factory(statuses=(status,))
        sender = WebhookSender(timeout=2, attempts=2, backoff=0.01, allow_loopback_http=True)
        sender.send(receiver.url, SECRET, PAYLOAD)
        sender.drain(5)
        assert len(receiver.calls) == 1 and receiver.gets == 0 and sender.failed == 1, status


def test_server_errors_are_retried_a_bounded_number_of_times(receiver_factory):
    receiver = receiver_factory(statuses=(503, 429, 200))
    sender = WebhookSender(timeout=2, attempts=3, backoff=0.01, allow_loopback_http=True)
    sender.send(receiver.url, SECRET, PAYLOAD)
    sender.drain(5)
    assert len(receiver.calls) == 3 and sender.delivered == 1
    # the same delivery id on every attempt lets the receiver drop duplicates
    assert len({h[ID_HEADER] for h, _ in receiver.calls}) == 1

    failing = receiver_factory(statuses=(500,))
    sender = WebhookSender(timeout=2, attempts=3, backoff=0.01, allow_loopback_http=True)
    sender.send(failing.url, SECRET, PAYLOAD)
    sender.drain(5)
    assert len(failing.calls) == 3 and sender.failed == 1


def test_client_errors_are_not_retried(receiver_factory):
    receiver = receiver_factory(statuses=(400,))
    sender = WebhookSender(timeout=2, attempts=3, backoff=0.01, allow_loopback_http=True)
    sender.send(receiver.url, SECRET, PAYLOAD)
    sender.drain(5)
    assert len(receiver.calls) == 1 and sender.failed == 1


def test_send_returns_at_once_and_a_slow_receiver_times_out(receiver_factory, caplog):
    receiver = receiver_factory(delay=1.0)
    sender = WebhookSender(timeout=0.3, attempts=1, allow_loopback_http=True)
    started = time.monotonic()
    sender.send(receiver.url, SECRET, PAYLOAD)
    assert time.monotonic() - started < 0.2
    sender.drain(5)
    assert sender.failed == 1
    assert "secret-in-url" not in caplog.text  # the URL's query may hold a token: never logged


def test_unreachable_and_unsigned_never_raise():
    sender = WebhookSender(timeout=0.5, attempts=2, backoff=0.01, allow_loopback_http=True)
    sender.send("http://127.0.0.1:9/nothing-listens", SECRET, PAYLOAD)
    assert sender.send("http://127.0.0.1:9/x", None, PAYLOAD) is None  # no secret: not sent unsigned
    assert sender.send("file:///etc/passwd", SECRET, PAYLOAD) is None
    sender.drain(5)
    assert sender.failed == 3 and sender.delivered == 0
