"""Issue 22, item 6: webhook URLs go over https to public hosts only, checked when a project is saved and
again after DNS resolution at delivery. Traffic goes only to 127.0.0.1 (a local receiver)."""

import base64
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from governor.core.policy.document import PolicyError, policy_from_document
from governor.core.policy.limits import webhook_target
from governor.service.webhooks import WebhookSender
from governor.settings import SettingsError, load

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
GOOD = {"name": "demo", "rates": {"Standard": 3}}
PAYLOAD = {"event": "stop", "project": "demo", "sessionId": "s1"}

REFUSED = [
    "http://169.254.169.254/latest/meta-data",
    "https://169.254.169.254/",
    "https://[fd00:ec2::254]/",
    "https://100.100.100.200/",
    "https://localhost/hook",
    "https://LOCALHOST./hook",
    "https://foo.localhost/",
    "https://\uff4c\uff4f\uff43\uff41\uff4c\uff48\uff4f\uff53\uff54/",  # fullwidth "localhost" (IDN)
    "https://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/",  # fullwidth 127.0.0.1
    "https://127.0.0.1/",
    "https://127.1/",
    "https://2130706433/",
    "https://0x7f.1/",
    "https://0x7F000001/",
    "https://017700000001/",
    "https://0177.0.0.1/",
    "https://127.0.0.1./",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:7f00:1]/",
    "https://[0:0:0:0:0:ffff:a00:1]/",
    "https://[2002:7f00:1::]/",
    "https://[64:ff9b::a00:1]/",
    "https://10.0.0.1/",
    "https://10.255.255.255:8443/x",
    "https://172.16.0.1/",
    "https://172.31.255.255/",
    "https://192.168.0.1/",
    "https://169.254.1.1/",
    "https://[fe80::1]/",
    "https://[FE80::1%25eth0]/",
    "https://[fc00::1]/",
    "https://[fd12:3456::1]/",
    "https://0.0.0.0/",
    "https://0/",
    "https://[::]/",
    "https://224.0.0.1/",
    "https://",
    "https:///path",
    "https://:443/",
    "https://hooks.example.com/a\x00b",
    "https://hooks.example.com/\r\nX: y",
    "https://hooks.example.com/\x7f",
    "https://hooks.example.com\\@127.0.0.1/",
    "https://user:pw@hooks.example.com/",
    "https://hooks.example.com@127.0.0.1/",
    "http://hooks.example.com/",
    "ftp://hooks.example.com/",
    "https://hooks..example.com/",
    "https://-bad.example.com/",
    "https://1.2.3.4.5/",
    "https://256.1.1.1/",
    "https://hooks.example.com:99999/",
    "https://[::1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_a_webhook_url_to_anything_but_a_public_https_host_is_refused_at_save(url):
    with pytest.raises(PolicyError) as caught:
        policy_from_document({**GOOD, "webhookUrl": url})
    assert caught.value.field == "webhookUrl"


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/governor?token=x", "https://HOOKS.Example.com./a", "https://8.8.8.8:8443/"]
)
def test_public_https_urls_pass(url):
    assert policy_from_document({**GOOD, "webhookUrl": url}).policy.webhook_url == url


def test_loopback_over_http_only_with_the_local_setting():
    for url in ("http://127.0.0.1:9/hook", "http://localhost:8080/", "https://[::1]:8443/"):
        assert policy_from_document({**GOOD, "webhookUrl": url}, allow_loopback_http=True).policy.webhook_url == url
    for url in ("http://10.0.0.1/", "http://hooks.example.com/", "http://169.254.169.254/"):
        with pytest.raises(PolicyError):
            policy_from_document({**GOOD, "webhookUrl": url}, allow_loopback_http=True)


def test_the_local_setting_is_declared_off_and_refused_in_azure():
    assert load({}).get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP") is False
    assert load({"GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true"}).get("GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP") is True
    with pytest.raises(SettingsError, match="GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"):
        load({"GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP": "true", "WEBSITE_INSTANCE_ID": "x"})


def test_make_run_sets_the_local_setting():
    from governor.localhost.stack import host_environment

    env = host_environment({}, "http://127.0.0.1:1", 10002, "0 * * * * *")
    assert env["GOVERNOR_WEBHOOK_ALLOW_LOOPBACK_HTTP"] == "true"


# ---------------------------------------------------------------- at delivery
class Receiver:
    def __init__(self):
        self.calls = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                receiver.calls += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    made = Receiver()
    yield made
    made.close()


def test_a_name_that_resolves_to_loopback_is_refused_at_delivery(receiver, caplog):
    # A name saved as a public-looking host that resolves inside: checked after resolution.
    sender = WebhookSender(timeout=2, attempts=1)
    sender.send(f"http://localhost:{receiver.port}/hook", SECRET, PAYLOAD)
    sender.send(f"http://127.0.0.1:{receiver.port}/hook", SECRET, PAYLOAD)
    sender.send(f"http://2130706433:{receiver.port}/hook", SECRET, PAYLOAD)
    assert sender.drain(5) == 0
    assert receiver.calls == 0 and sender.failed == 3 and sender.delivered == 0
    assert "loopback" in caplog.text


def test_the_same_names_are_delivered_with_the_local_setting(receiver):
    sender = WebhookSender(timeout=2, attempts=1, allow_loopback_http=True)
    sender.send(f"http://localhost:{receiver.port}/hook", SECRET, PAYLOAD)
    sender.send(f"http://127.0.0.1:{receiver.port}/hook", SECRET, PAYLOAD)
    assert sender.drain(5) == 0
    assert receiver.calls == 2 and sender.delivered == 2


def test_delivery_checks_every_address_and_connects_to_a_checked_one(monkeypatch, receiver):
    """One inside address among public ones refuses the whole name; the request goes to the address
    that was checked (one look-up per attempt), with the URL's host in `Host`."""
    import socket

    from governor.service import webhooks

    answers = {"mixed.example.test": ["93.184.216.34", "10.0.0.7"], "app.localhost": ["127.0.0.1"]}
    looked_up = []

    real_getaddrinfo = socket.getaddrinfo

    def fake_getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:  # the connection to the checked address itself
            return real_getaddrinfo(host, port, *args, **kwargs)
        looked_up.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answers[host]]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", fake_getaddrinfo)
    with pytest.raises(webhooks.RefusedDestination, match="private"):
        webhooks.resolve(webhook_target("https://mixed.example.test/x"))
    sender = WebhookSender(timeout=2, attempts=1)
    sender.send("https://mixed.example.test/x", SECRET, PAYLOAD)  # refused before any connection
    assert sender.drain(5) == 0 and sender.failed == 1

    hosts = []
    original = receiver.server.RequestHandlerClass.do_POST

    def record(handler):
        hosts.append(handler.headers["Host"])
        original(handler)

    receiver.server.RequestHandlerClass.do_POST = record
    looked_up.clear()
    sender = WebhookSender(timeout=2, attempts=1, allow_loopback_http=True)
    sender.send(f"http://app.localhost:{receiver.port}/x", SECRET, PAYLOAD)
    assert sender.drain(5) == 0
    assert sender.delivered == 1 and looked_up == ["app.localhost"] and hosts == [f"app.localhost:{receiver.port}"]
