"""Self-signed RPC certificates and TLS contexts that pin them.

btcd serves RPC over TLS only (``--notls`` is refused unless it listens on
localhost), and the controller reaches each node by pod IP.  There is no CA in
a regtest cluster to vouch for a node, so the controller makes one
certificate per network, hands certificate and key to the pods, and trusts
exactly that certificate when it connects: the certificate is its own trust
anchor (``CA:TRUE``), and the client context loads it as the *only* CA.

Chain verification stays on (``CERT_REQUIRED``); only the host-name check may
be switched off, because pods are dialled by IP and IPs change on restart.
Pinning keeps that safe: a server must prove it holds the private key of the
pinned certificate, whatever its address.
"""

from __future__ import annotations

import datetime
import hashlib
import ipaddress
import ssl
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cryptography import x509

# ``cryptography`` is imported inside the functions that need it: it maps its
# own statically linked OpenSSL (some 8 MiB of resident memory), which a
# controller serving only Bitcoin Core networks never needs.

__all__ = [
    "generate_self_signed_cert",
    "pinned_ssl_context",
    "load_certificates",
    "check_certificates",
    "certificate_fingerprint",
    "DEFAULT_VALIDITY_DAYS",
]

DEFAULT_VALIDITY_DAYS = 3650
"""Ten years: a regtest network should never fail because its cert expired."""

# Back-date the start of validity so that a node whose clock runs a little
# behind the controller's does not reject a brand-new certificate.
_CLOCK_SKEW = datetime.timedelta(hours=1)


def generate_self_signed_cert(
    common_name: str = "bitcoin-rpc",
    dns_names: Iterable[str] = (),
    ip_addresses: Iterable[str] = (),
    *,
    valid_days: int = DEFAULT_VALIDITY_DAYS,
    now: datetime.datetime | None = None,
) -> tuple[bytes, bytes]:
    """Create an ECDSA P-256 self-signed certificate for a node's RPC server.

    Returns ``(certificate_pem, private_key_pem)``; the key is unencrypted
    PKCS#8 (btcd's ``--rpckey`` and Python's ``ssl`` both read it).  The
    subject alternative names always include ``localhost`` and ``127.0.0.1``
    (so ``kubectl port-forward`` and in-pod probes verify too), plus the given
    names and addresses.  ``basicConstraints CA:TRUE`` lets the certificate be
    loaded as a trust anchor by :func:`pinned_ssl_context`.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    if valid_days <= 0:
        raise ValueError("valid_days must be positive")
    now = now or datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    dns = _unique(["localhost", *dns_names])
    ips = _unique(["127.0.0.1", *ip_addresses])
    san = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]

    public_key = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        # Key identifiers keep OpenSSL's strict X.509 mode (default in newer
        # Pythons) happy with a certificate that is both CA and leaf.
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(public_key), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert_pem, key_pem


def pinned_ssl_context(cert_pem: bytes | str, *, check_hostname: bool = False) -> ssl.SSLContext:
    """A client TLS context that trusts only ``cert_pem`` (one or more PEM certs).

    No system CAs are loaded, so a server is accepted only if its chain ends
    in a pinned certificate.  ``verify_mode`` is always ``CERT_REQUIRED``;
    ``check_hostname=False`` (the default) skips matching the address against
    the certificate's names, which is what dialling pods by IP needs.
    """
    pem = cert_pem.decode("ascii") if isinstance(cert_pem, bytes) else cert_pem
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    _load_pinned(context, pem)
    # Order matters: check_hostname must be off before verify_mode may change,
    # and PROTOCOL_TLS_CLIENT starts with CERT_REQUIRED + check_hostname=True.
    context.check_hostname = check_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def _load_pinned(context: ssl.SSLContext, pem: str) -> None:
    # The ssl module's own parser (no cryptography import on the RPC path):
    # garbage, or text without a certificate, is a ValueError with a clear message.
    try:
        context.load_verify_locations(cadata=pem)
    except (ssl.SSLError, ValueError, TypeError) as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from None
    if not context.cert_store_stats()["x509"]:
        raise ValueError("not a PEM certificate: no certificate found")


def check_certificates(cert_pem: bytes | str) -> None:
    """``ValueError`` unless ``cert_pem`` holds at least one parseable PEM certificate."""
    pem = cert_pem.decode("ascii") if isinstance(cert_pem, bytes) else cert_pem
    _load_pinned(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), pem)


def load_certificates(cert_pem: bytes | str) -> list[x509.Certificate]:
    """Parse PEM text into certificates; ``ValueError`` if it holds none."""
    from cryptography import x509

    data = cert_pem.encode("ascii") if isinstance(cert_pem, str) else cert_pem
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"not a PEM certificate: {exc}") from None
    if not certs:
        raise ValueError("not a PEM certificate: no certificate found")
    return certs


def certificate_fingerprint(cert_pem: bytes | str) -> str:
    """SHA-256 fingerprint (lower-case hex) of the first certificate in ``cert_pem``.

    Short enough for logs and Events, and what an operator compares with
    ``openssl x509 -noout -fingerprint -sha256``.
    """
    from cryptography.hazmat.primitives import serialization

    cert = load_certificates(cert_pem)[0]
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()


def _unique(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item, None)
    return list(seen)
