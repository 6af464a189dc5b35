"""`--tls-self-signed DIR`: a second, https listener with a certificate the emulator makes (or
reuses while it is good), so the Entra stand-in works locally without a hand-made certificate."""

import datetime
import socket

import requests

from governor.emulator.tls import make_self_signed
from tests.fixtures.emulator import emulator_tls_url, start_emulator, stop_emulator


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_second_line_names_an_https_listener_with_the_same_routes(tmp_path):
    process, url = start_emulator("--tls-self-signed", str(tmp_path / "tls"))
    try:
        tls_url = emulator_tls_url(process)
        assert url.startswith("http://127.0.0.1:") and tls_url.startswith("https://127.0.0.1:")
        cert = str(tmp_path / "tls" / "cert.pem")
        assert (tmp_path / "tls" / "key.pem").exists()
        over_tls = requests.get(f"{tls_url}/_emulator/clock", verify=cert, timeout=10)
        assert over_tls.status_code == 200
        # one emulator behind both listeners
        assert requests.post(f"{url}/_emulator/clock", json={"advanceSeconds": 600}, timeout=10).status_code == 200
        assert requests.get(f"{tls_url}/_emulator/clock", verify=cert, timeout=10).json()["offsetSeconds"] == 600
        localhost = tls_url.replace("127.0.0.1", "localhost")
        assert requests.get(f"{localhost}/_emulator/clock", verify=cert, timeout=10).status_code == 200
    finally:
        assert stop_emulator(process) == 0


def test_a_good_certificate_is_reused_and_an_expiring_one_replaced(tmp_path):
    directory = tmp_path / "tls"
    process, _ = start_emulator("--tls-self-signed", str(directory))
    stop_emulator(process)
    first = (directory / "cert.pem").read_bytes()
    process, _ = start_emulator("--tls-self-signed", str(directory))
    stop_emulator(process)
    assert (directory / "cert.pem").read_bytes() == first
    make_self_signed(directory, datetime.timedelta(hours=1))  # inside the renewal margin
    expiring = (directory / "cert.pem").read_bytes()
    (directory / "key.pem").write_text("not a key")
    process, _ = start_emulator("--tls-self-signed", str(directory))
    try:
        renewed = (directory / "cert.pem").read_bytes()
        assert renewed not in (first, expiring)
        assert requests.get(
            f"{emulator_tls_url(process)}/_emulator/clock", verify=str(directory / "cert.pem"), timeout=10
        )
    finally:
        stop_emulator(process)


def test_tls_port_and_tls_cert_keep_working_together(tmp_path):
    cert, key = make_self_signed(tmp_path / "given")
    port = _free_port()
    process, url = start_emulator(
        "--tls-cert",
        str(cert),
        "--tls-key",
        str(key),
        "--tls-self-signed",
        str(tmp_path / "made"),
        "--tls-port",
        str(port),
    )
    try:
        assert url.startswith("https://")
        assert emulator_tls_url(process) == f"https://127.0.0.1:{port}"
        assert requests.get(f"{url}/_emulator/clock", verify=str(cert), timeout=10).status_code == 200
    finally:
        stop_emulator(process)
