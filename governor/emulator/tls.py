"""Self-signed certificates for 127.0.0.1 and localhost, so the emulator can serve https (which
azure-identity and the official ARR SDK insist on) without a hand-made certificate."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"
LIFETIME = datetime.timedelta(days=30)
REUSE_MARGIN = datetime.timedelta(days=1)  # a certificate closer to its end than this is replaced
HOSTS = (ipaddress.ip_address("127.0.0.1"), "localhost")


def make_self_signed(directory: Path, lifetime: datetime.timedelta = LIFETIME) -> tuple[Path, Path]:
    """Write a new certificate and key (cert.pem, key.pem) into `directory`; return their paths."""
    from cryptography import x509  # lazy: optional feature (emulator's TLS cert)
    from cryptography.hazmat.primitives import hashes, serialization  # lazy: optional feature (emulator's TLS cert)
    from cryptography.hazmat.primitives.asymmetric import ec  # lazy: optional feature (emulator's TLS cert)
    from cryptography.x509.oid import NameOID  # lazy: optional feature (emulator's TLS cert)

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    names = [x509.IPAddress(h) if not isinstance(h, str) else x509.DNSName(h) for h in HOSTS]
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + lifetime)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    key_path.touch(mode=0o600)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return cert_path, key_path


def _reusable(cert_path: Path, key_path: Path) -> bool:
    from cryptography import x509  # lazy: optional feature (emulator's TLS cert)
    from cryptography.hazmat.primitives import serialization  # lazy: optional feature (emulator's TLS cert)

    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        return False
    covered = set(names.get_values_for_type(x509.IPAddress)) | set(names.get_values_for_type(x509.DNSName))
    now = datetime.datetime.now(datetime.UTC)
    return (
        cert.public_key() == key.public_key()
        and set(HOSTS) <= covered
        and cert.not_valid_before_utc <= now
        and cert.not_valid_after_utc - REUSE_MARGIN > now
    )


def ensure_self_signed(directory: Path) -> tuple[Path, Path]:
    """The certificate and key in `directory`, made anew unless the ones there are still good."""
    directory = Path(directory)
    cert_path, key_path = directory / CERT_FILE, directory / KEY_FILE
    if cert_path.exists() and key_path.exists() and _reusable(cert_path, key_path):
        return cert_path, key_path
    return make_self_signed(directory)
