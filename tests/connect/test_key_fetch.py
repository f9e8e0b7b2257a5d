"""The GET of install keys and Forge's JWKS: certificates checked, bodies bounded, no redirects."""

from __future__ import annotations

import datetime
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from provider.connect.key_fetch import KeyFetcher
from provider.connect.key_fetch import KeyServerUnreachable
from tests.keyserver import KeyServer


def _self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[str]:
    """An https server on loopback whose certificate no public authority signed."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", "3")
            self.end_headers()
            self.wfile.write(b"key")

        def log_message(self, format: str, *args: object) -> None:
            return

    cert, key = _self_signed(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"https://localhost:{httpd.server_address[1]}/kid"
    finally:
        httpd.shutdown()
        httpd.server_close()


def test_a_certificate_no_authority_signed_is_no_answer(tls_server: str) -> None:
    with pytest.raises(KeyServerUnreachable, match="SSLCertVerificationError"):
        KeyFetcher(timeout=2, max_bytes=100).get(tls_server)


def test_a_body_past_the_limit_is_cut_one_byte_after_it() -> None:
    with KeyServer() as server:
        server.add("big", b"x" * 10_000)
        answer = KeyFetcher(timeout=2, max_bytes=100).get(f"{server.url}/big")
    assert (answer.status, answer.body) == (200, b"x" * 101)


@pytest.mark.parametrize("status", [301, 302, 307])
def test_a_redirect_is_answered_not_followed(status: int) -> None:
    with KeyServer() as server:
        server.status = status
        answer = KeyFetcher(timeout=2, max_bytes=100).get(f"{server.url}/kid")
        assert answer.status == status
        assert server.count() == 1


def test_an_url_that_is_not_http_is_not_fetched() -> None:
    with pytest.raises(KeyServerUnreachable):
        KeyFetcher(timeout=2, max_bytes=100).get("file:///etc/passwd")
