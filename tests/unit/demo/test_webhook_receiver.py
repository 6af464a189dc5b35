"""The demo's webhook receiver checks what the governor's sender signs (Standard Webhooks), and
nothing else: a real delivery over loopback verifies; a changed body, another project's secret or
a missing signature do not."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime

from governor.demo.webhooks import Receiver, new_secret, verify
from governor.service.webhooks import WebhookSender, sign


def headers_for(secret: str, body: bytes) -> dict:
    at = datetime.now(UTC)
    signature = sign(secret, "evt-1", at, body)
    return {"webhook-id": "evt-1", "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature}


def test_a_signature_verifies_only_with_its_secret_and_body():
    secret, body = new_secret(), b'{"data": {"event": "warn"}}'
    headers = headers_for(secret, body)
    assert verify(secret, headers, body)
    assert not verify(secret, headers, body + b" ")
    assert not verify(new_secret(), headers, body)
    assert not verify(secret, {k: v for k, v in headers.items() if k != "webhook-signature"}, body)


def test_the_governors_sender_delivers_to_the_receiver_verified():
    with Receiver() as hooks:
        sender = WebhookSender(timeout=5, attempts=1, allow_loopback_http=True)
        payload = {"event": "refused", "project": "review", "sessionId": "s-1", "reason": "extension-refused-cap"}
        payload |= {"figures": {}, "at": "2026-12-06T12:00:00Z"}
        sender.send(hooks.url("review"), hooks.secret("review"), payload)
        sender.send(hooks.url("review"), new_secret(), {**payload, "event": "warn"})  # not review's secret
        assert sender.drain(10) == 0
        deadline = time.monotonic() + 5
        while len(hooks.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        by_kind = {d.kind: d for d in hooks.fresh()}
        assert by_kind["refused"].verified and by_kind["refused"].reason == "extension-refused-cap"
        assert not by_kind["warn"].verified
        assert hooks.kinds() == {"refused"}
        request = urllib.request.Request(hooks.url("review"), data=json.dumps({}).encode(), method="POST")
        with urllib.request.urlopen(request, timeout=5) as answer:  # unsigned: received, not verified
            assert answer.status == 204
        assert hooks.kinds() == {"refused"}
