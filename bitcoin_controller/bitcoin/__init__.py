"""Talking to the Bitcoin nodes: JSON-RPC client, errors, TLS certificates.

The Go original's ``internal/bitcoinclient`` rebuilt without its faults: it
has timeouts, checks HTTP status codes, reads error bodies, sends a string
``jsonrpc`` member, speaks both Bitcoin Core and btcd, and keeps credentials
out of every message.

* :class:`BitcoinClient` -- the typed calls the controller uses;
* :class:`Config` / :class:`TLSConfig` -- where a node is and how to trust it;
* :mod:`.errors` -- the exception hierarchy under :class:`BitcoinRPCError`;
* :mod:`.certs` -- self-signed RPC certificates and pinned TLS contexts;
* :mod:`.transport` -- the replaceable HTTP layer;
* :mod:`.metrics` -- Prometheus series of the client.
"""

from .certs import (
    certificate_fingerprint,
    generate_self_signed_cert,
    load_certificates,
    pinned_ssl_context,
)
from .client import (
    BTCD_ALREADY_ADDED_MESSAGES,
    BTCD_NOT_ADDED_MESSAGES,
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_READ_TIMEOUT,
    BitcoinClient,
    Dialect,
)
from .config import (
    BITCOIND_REGTEST_RPC_PORT,
    BTCD_REGTEST_RPC_PORT,
    REGTEST_P2P_PORT,
    Config,
    TLSConfig,
)
from .errors import (
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_IN_WARMUP,
    RPC_INVALID_PARAMETER,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    AuthenticationError,
    BitcoinRPCError,
    RPCConnectionError,
    RPCError,
    RPCProtocolError,
    RPCTLSError,
    RPCWarmingUpError,
)
from .metrics import REGISTRY, RPCMetrics
from .results import AddedNode, AddedNodeAddress, BlockchainInfo, NetworkInfo, PeerInfo
from .transport import HTTPTransport, Urllib3Transport

__all__ = [
    "BitcoinClient",
    "Dialect",
    "Config",
    "TLSConfig",
    "HTTPTransport",
    "Urllib3Transport",
    "AddedNode",
    "AddedNodeAddress",
    "PeerInfo",
    "BlockchainInfo",
    "NetworkInfo",
    "BitcoinRPCError",
    "AuthenticationError",
    "RPCError",
    "RPCWarmingUpError",
    "RPCConnectionError",
    "RPCTLSError",
    "RPCProtocolError",
    "RPC_MISC_ERROR",
    "RPC_INVALID_PARAMETER",
    "RPC_CLIENT_NODE_ALREADY_ADDED",
    "RPC_CLIENT_NODE_NOT_ADDED",
    "RPC_IN_WARMUP",
    "RPC_METHOD_NOT_FOUND",
    "BTCD_ALREADY_ADDED_MESSAGES",
    "BTCD_NOT_ADDED_MESSAGES",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "BITCOIND_REGTEST_RPC_PORT",
    "BTCD_REGTEST_RPC_PORT",
    "REGTEST_P2P_PORT",
    "REGISTRY",
    "RPCMetrics",
    "generate_self_signed_cert",
    "pinned_ssl_context",
    "load_certificates",
    "certificate_fingerprint",
]
