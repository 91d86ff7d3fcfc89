"""Self-signed RPC certificates and the pinned TLS client context."""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import socket
import ssl
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from bitcoin_controller.bitcoin.certs import (
    DEFAULT_VALIDITY_DAYS,
    certificate_fingerprint,
    generate_self_signed_cert,
    load_certificates,
    pinned_ssl_context,
)


class TLSHelloServer:
    """A one-line TLS server on 127.0.0.1: completes the handshake, says hello."""

    def __init__(self, cert_pem: bytes, key_pem: bytes, tmp_path) -> None:
        cert_file, key_file = tmp_path / "server.crt", tmp_path / "server.key"
        cert_file.write_bytes(cert_pem)
        key_file.write_bytes(key_pem)
        self.context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.context.load_cert_chain(cert_file, key_file)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.address = self.sock.getsockname()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # listening socket closed: test over
            conn.settimeout(5)
            with conn:
                try:
                    with self.context.wrap_socket(conn, server_side=True) as tls:
                        tls.sendall(b"hello")
                except (ssl.SSLError, OSError):
                    pass  # the client refused our certificate

    def close(self) -> None:
        # shutdown() wakes the thread blocked in accept(); close() alone does not.
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.thread.join(timeout=5)


@pytest.fixture
def make_server(tmp_path):
    servers = []

    def make(cert_pem: bytes, key_pem: bytes) -> TLSHelloServer:
        path = tmp_path / str(len(servers))
        path.mkdir()
        server = TLSHelloServer(cert_pem, key_pem, path)
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def talk(context: ssl.SSLContext, address, server_hostname: str = "127.0.0.1") -> bytes:
    with socket.create_connection(address, timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.recv(5)


def test_generated_certificate_shape_unit():
    now = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    cert_pem, key_pem = generate_self_signed_cert(
        "net-a", dns_names=["net-a-svc.ns.svc"], ip_addresses=["10.1.2.3", "fd00::1"], now=now
    )
    assert cert_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert key_pem.startswith(b"-----BEGIN PRIVATE KEY-----")  # PKCS#8, unencrypted
    (cert,) = load_certificates(cert_pem)
    key = serialization.load_pem_private_key(key_pem, password=None)

    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    assert cert.subject == cert.issuer  # self-signed
    assert cert.subject.rfc4514_string() == "CN=net-a"

    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca

    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "net-a-svc.ns.svc"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("10.1.2.3"),
        ipaddress.ip_address("fd00::1"),
    ]

    assert cert.not_valid_before_utc < now  # back-dated for clock skew
    assert cert.not_valid_after_utc == now + datetime.timedelta(days=DEFAULT_VALIDITY_DAYS)


def test_duplicate_names_are_listed_once_unit():
    cert_pem, _ = generate_self_signed_cert(dns_names=["localhost"], ip_addresses=["127.0.0.1"])
    san = load_certificates(cert_pem)[0].extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert san.value.get_values_for_type(x509.DNSName) == ["localhost"]
    assert len(san.value.get_values_for_type(x509.IPAddress)) == 1


def test_each_call_makes_a_new_key_unit():
    first, _ = generate_self_signed_cert()
    second, _ = generate_self_signed_cert()
    assert certificate_fingerprint(first) != certificate_fingerprint(second)


def test_invalid_validity_rejected_unit():
    with pytest.raises(ValueError):
        generate_self_signed_cert(valid_days=0)


def test_pinned_context_settings_unit():
    cert_pem, _ = generate_self_signed_cert()
    context = pinned_ssl_context(cert_pem)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is False
    assert context.minimum_version >= ssl.TLSVersion.TLSv1_2
    # Exactly one trust anchor: the pinned certificate, no system CAs.
    assert context.cert_store_stats()["x509_ca"] == 1
    assert pinned_ssl_context(cert_pem.decode(), check_hostname=True).check_hostname is True


def test_pinned_context_rejects_garbage_unit():
    with pytest.raises(ValueError, match="not a PEM certificate"):
        pinned_ssl_context(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match="not a PEM certificate"):
        pinned_ssl_context("")


@pytest.mark.timeout(30)
def test_server_with_pinned_cert_is_accepted_unit(make_server):
    cert_pem, key_pem = generate_self_signed_cert()
    server = make_server(cert_pem, key_pem)
    assert talk(pinned_ssl_context(cert_pem), server.address) == b"hello"


@pytest.mark.timeout(30)
def test_server_with_other_cert_is_rejected_unit(make_server):
    pinned, _ = generate_self_signed_cert()
    other_cert, other_key = generate_self_signed_cert()  # same names, different key
    server = make_server(other_cert, other_key)
    with pytest.raises(ssl.SSLCertVerificationError):
        talk(pinned_ssl_context(pinned), server.address)


@pytest.mark.timeout(30)
def test_host_name_check_is_optional_but_chain_check_is_not_unit(make_server):
    cert_pem, key_pem = generate_self_signed_cert()
    server = make_server(cert_pem, key_pem)
    # A name the certificate does not carry: fine without the host-name
    # check (pods are dialled by changing IPs) ...
    assert talk(pinned_ssl_context(cert_pem), server.address, "pod-7") == b"hello"
    # ... and refused when the check is asked for.
    with pytest.raises(ssl.SSLCertVerificationError):
        talk(pinned_ssl_context(cert_pem, check_hostname=True), server.address, "pod-7")


def test_fingerprint_is_sha256_of_der_unit():
    cert_pem, _ = generate_self_signed_cert()
    der = load_certificates(cert_pem)[0].public_bytes(serialization.Encoding.DER)
    assert certificate_fingerprint(cert_pem) == hashlib.sha256(der).hexdigest()


def test_pinning_a_certificate_does_not_import_cryptography_unit():
    # cryptography maps its own OpenSSL (~8 MiB resident); only issuing a certificate needs it.
    import subprocess
    import sys

    cert_pem, _ = generate_self_signed_cert()
    code = ("import sys; from bitcoin_controller.bitcoin import TLSConfig, pinned_ssl_context; "
            "pem = sys.stdin.read(); TLSConfig(pem); pinned_ssl_context(pem); "
            "import bitcoin_controller.cmd.app; print('cryptography' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], input=cert_pem.decode(), capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.strip() == "False", done.stderr
