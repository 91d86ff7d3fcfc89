"""Prometheus metrics of the Bitcoin RPC client.

Two series, with labels kept to small fixed sets so that a misbehaving node
or a typo cannot create unbounded time series:

* ``bitcoin_rpc_request_duration_seconds{method}`` -- a histogram of every
  call, successful or not;
* ``bitcoin_rpc_errors_total{method,code}`` -- failed calls, where ``code`` is
  a known JSON-RPC code (``"-28"``), ``"rpc_other"`` for any other code, or a
  transport class: ``"auth"``, ``"connection"``, ``"tls"``, ``"deadline"``
  (the call's total deadline passed), ``"protocol"``, ``"too_large"`` (the
  reply exceeded the size limit).

``method`` is one of :data:`KNOWN_METHODS` or ``"other"``.  Replies that the
typed calls treat as success ("already added", "not added") are still counted
here: they are errors on the wire, and a steady rate of them shows a
controller that re-adds peers on every loop.

The series live on :data:`REGISTRY`, the process-wide registry of
:mod:`bitcoin_controller.componentbase.metrics.legacyregistry` that the
controller's ``/metrics`` endpoint serves, so RPC, work-queue and controller
metrics are scraped together.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

from ..componentbase.metrics.legacyregistry import REGISTRY
from .errors import (
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_IN_WARMUP,
    RPC_INVALID_PARAMETER,
    RPC_INVALID_PARAMS,
    RPC_INVALID_REQUEST,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RPC_PARSE_ERROR,
    AuthenticationError,
    BitcoinRPCError,
    RPCConnectionError,
    RPCDeadlineExceededError,
    RPCError,
    RPCProtocolError,
    RPCReplyTooLargeError,
    RPCTLSError,
)

__all__ = [
    "REGISTRY",
    "RPCMetrics",
    "DEFAULT_METRICS",
    "KNOWN_METHODS",
    "method_label",
    "code_label",
]

KNOWN_METHODS = frozenset(
    {
        "addnode",
        "getaddednodeinfo",
        "getpeerinfo",
        "getblockchaininfo",
        "getnetworkinfo",
        "getinfo",
        "getblockcount",
        "getbestblockhash",
        "generate",
        "generatetoaddress",
        "ping",
        "uptime",
        "stop",
    }
)

_KNOWN_CODES = frozenset(
    {
        RPC_MISC_ERROR,
        RPC_INVALID_PARAMETER,
        RPC_CLIENT_NODE_ALREADY_ADDED,
        RPC_CLIENT_NODE_NOT_ADDED,
        RPC_IN_WARMUP,
        RPC_INVALID_REQUEST,
        RPC_METHOD_NOT_FOUND,
        RPC_INVALID_PARAMS,
        RPC_PARSE_ERROR,
    }
)

_DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


def method_label(method: str) -> str:
    """``method`` if it is one of ours, else ``"other"`` (bounded cardinality)."""
    return method if method in KNOWN_METHODS else "other"


def code_label(error: BitcoinRPCError) -> str:
    """The ``code`` label for a failed call (see the module docstring)."""
    if isinstance(error, RPCError):
        return str(error.code) if error.code in _KNOWN_CODES else "rpc_other"
    if isinstance(error, AuthenticationError):
        return "auth"
    if isinstance(error, RPCTLSError):
        return "tls"
    if isinstance(error, RPCDeadlineExceededError):
        return "deadline"
    if isinstance(error, RPCReplyTooLargeError):
        return "too_large"
    if isinstance(error, RPCConnectionError):
        return "connection"
    if isinstance(error, RPCProtocolError):
        return "protocol"
    return "other"


class RPCMetrics:
    """The client's metric hooks, bound to one registry.

    Tests pass ``RPCMetrics(CollectorRegistry())`` to a client to read values
    without sharing state with other tests.
    """

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.duration = Histogram(
            "bitcoin_rpc_request_duration_seconds",
            "Duration of Bitcoin JSON-RPC calls, by method, including failed calls.",
            ["method"],
            registry=registry,
            buckets=_DURATION_BUCKETS,
        )
        self.errors = Counter(
            "bitcoin_rpc_errors_total",
            "Failed Bitcoin JSON-RPC calls, by method and error code or class.",
            ["method", "code"],
            registry=registry,
        )

    def observe(self, method: str, seconds: float, error: BitcoinRPCError | None) -> None:
        """Record one call: its duration and, if it failed, its error class."""
        label = method_label(method)
        self.duration.labels(method=label).observe(max(seconds, 0.0))
        if error is not None:
            self.errors.labels(method=label, code=code_label(error)).inc()


DEFAULT_METRICS = RPCMetrics(REGISTRY)
"""The hooks every client uses unless given others."""
