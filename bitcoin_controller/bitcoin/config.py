"""Where and how to reach one node's RPC server.

A :class:`Config` is a value: host, port, credentials and optional TLS
material.  The client can hold a default one and every call may pass
another, so one client (and its connection pools) serves all nodes of all
networks.
"""

from __future__ import annotations

import base64
import ipaddress
from dataclasses import dataclass, field, replace

from .certs import check_certificates

__all__ = [
    "Config",
    "TLSConfig",
    "BITCOIND_REGTEST_RPC_PORT",
    "BTCD_REGTEST_RPC_PORT",
    "REGTEST_P2P_PORT",
]

BITCOIND_REGTEST_RPC_PORT = 18443
"""Bitcoin Core's regtest RPC port."""

BTCD_REGTEST_RPC_PORT = 18334
"""btcd's regtest RPC port (btcd keeps its own RPC ports, unlike Core's 18443)."""

REGTEST_P2P_PORT = 18444
"""The regtest peer-to-peer port, the same for Core and btcd (they can peer)."""


@dataclass(frozen=True)
class TLSConfig:
    """TLS material for one RPC endpoint: the PEM certificate(s) to trust.

    ``ca_pem`` is the server's own self-signed certificate (pinning) or a CA
    bundle.  Chain verification cannot be turned off here on purpose; only the
    host-name check can (``check_hostname=False``, the default), because pods
    are reached by IP.  Frozen and hashable: the transport keeps one
    connection pool per distinct ``TLSConfig``.
    """

    ca_pem: str
    check_hostname: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.ca_pem, bytes):  # accept bytes, store text (hashable, comparable)
            object.__setattr__(self, "ca_pem", self.ca_pem.decode("ascii"))
        check_certificates(self.ca_pem)  # reject garbage at construction, not at first call

    def __repr__(self) -> str:
        # The certificate is public, but thousands of characters of PEM in a
        # log line help nobody.
        return f"TLSConfig(ca_pem=<{len(self.ca_pem)} chars>, check_hostname={self.check_hostname})"


@dataclass(frozen=True)
class Config:
    """Connection settings for one node (the Go client's ``Config``).

    ``user`` and ``password`` are left out of ``repr`` so that logging a
    config, or anything that embeds one, never leaks credentials.
    """

    host: str
    port: int
    user: str = field(default="", repr=False)
    password: str = field(default="", repr=False)
    tls: TLSConfig | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls is not None else "http"

    @property
    def endpoint(self) -> str:
        """``host:port`` (IPv6 in brackets): what error messages name."""
        return f"{_bracket(self.host)}:{self.port}"

    @property
    def url(self) -> str:
        """The RPC URL, root path (Core's wallet paths are not needed here)."""
        return f"{self.scheme}://{self.endpoint}/"

    def authorization(self) -> str:
        """The HTTP ``Authorization`` header value (basic auth)."""
        token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode("ascii")
        return f"Basic {token}"

    def with_host(self, host: str, port: int | None = None) -> Config:
        """The same credentials and TLS, another node."""
        return replace(self, host=host, port=self.port if port is None else port)


def _bracket(host: str) -> str:
    try:
        if isinstance(ipaddress.ip_address(host), ipaddress.IPv6Address):
            return f"[{host}]"
    except ValueError:
        pass
    return host
