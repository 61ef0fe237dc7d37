"""A certificate of its own for a server on loopback, so that tests serve https honestly:
SHEETCRM_PUBLIC_URL keeps its https-only check (RFC 8058 wants https unsubscribe links), the
client verifies the server against this certificate alone (``client``), and chromium trusts
this one key alone (``chromium_flag``), not every certificate."""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class LoopbackCertificate:
    cert: Path  # PEM
    key: Path  # PEM, unencrypted
    spki_sha256: str  # base64 of the SHA-256 of the public key's DER (chromium's pin)

    def server(self) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(self.cert, self.key)
        return context

    def client(self) -> ssl.SSLContext:
        """Verifies the host name and this certificate, as a mail client's https would."""
        return ssl.create_default_context(cafile=str(self.cert))

    def chromium_flag(self) -> str:
        return f"--ignore-certificate-errors-spki-list={self.spki_sha256}"


def make_certificate(folder: Path) -> LoopbackCertificate:
    """A self-signed certificate for 127.0.0.1 (its subjectAltName), valid for a day."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, LOOPBACK)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "loopback.pem", folder / "loopback.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    spki = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    pin = base64.b64encode(hashlib.sha256(spki).digest()).decode()
    return LoopbackCertificate(cert_path, key_path, pin)
