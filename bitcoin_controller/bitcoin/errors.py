"""Exceptions of the Bitcoin JSON-RPC client, and the RPC error codes we act on.

Every failure of an RPC call surfaces as a subclass of :class:`BitcoinRPCError`,
so a controller can catch one type and still tell the cases apart:

* :class:`AuthenticationError` -- HTTP 401/403: wrong credentials, or a method
  denied by ``-rpcwhitelist``.  Retrying will not help until the Secret or the
  node's configuration changes.
* :class:`RPCError` -- the node understood the call and refused it with a
  JSON-RPC error object (``code``, ``message``).
* :class:`RPCWarmingUpError` -- the special ``RPCError`` -28 that bitcoind sends
  while it loads its block index: the node is alive but not ready yet.
* :class:`RPCConnectionError` -- nothing usable came back: connection refused,
  connect/read timeout, reset.  :class:`RPCTLSError` narrows it to a failed TLS
  handshake (for instance a certificate that is not the pinned one), which will
  not heal by itself.
  :class:`RPCDeadlineExceededError` narrows it to a call that exceeded its
  total deadline.
* :class:`RPCProtocolError` -- something came back that is not a JSON-RPC reply
  (HTML error page, truncated JSON, wrong ``id``, nesting too deep, or a reply
  over the size limit: :class:`RPCReplyTooLargeError`).

Messages name the method and the ``host:port`` but never the user name or the
password: exceptions end up in logs, Events and status conditions.
"""

from __future__ import annotations

__all__ = [
    "BitcoinRPCError",
    "AuthenticationError",
    "RPCError",
    "RPCWarmingUpError",
    "RPCConnectionError",
    "RPCTLSError",
    "RPCDeadlineExceededError",
    "RPCProtocolError",
    "RPCReplyTooLargeError",
    "RPC_MISC_ERROR",
    "RPC_INVALID_PARAMETER",
    "RPC_CLIENT_NODE_ALREADY_ADDED",
    "RPC_CLIENT_NODE_NOT_ADDED",
    "RPC_CLIENT_NODE_NOT_CONNECTED",
    "RPC_IN_WARMUP",
    "RPC_INVALID_REQUEST",
    "RPC_METHOD_NOT_FOUND",
    "RPC_INVALID_PARAMS",
    "RPC_PARSE_ERROR",
]

# Codes from Bitcoin Core's src/rpc/protocol.h that the controller reacts to.
# btcd reuses the same numbers for the generic ones (btcjson/jsonrpcerr.go).
RPC_MISC_ERROR = -1
RPC_INVALID_PARAMETER = -8
RPC_CLIENT_NODE_ALREADY_ADDED = -23
RPC_CLIENT_NODE_NOT_ADDED = -24
RPC_CLIENT_NODE_NOT_CONNECTED = -29
RPC_IN_WARMUP = -28
RPC_INVALID_REQUEST = -32600
RPC_METHOD_NOT_FOUND = -32601
RPC_INVALID_PARAMS = -32602
RPC_PARSE_ERROR = -32700


class BitcoinRPCError(Exception):
    """Base class of every error raised by :class:`~.client.BitcoinClient`.

    ``args`` holds only the (credential-free) message, so ``str()`` and
    ``repr()`` of any subclass are safe to log.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class AuthenticationError(BitcoinRPCError):
    """HTTP 401 or 403 from the RPC endpoint.

    Core answers bad credentials with 401 and an empty body, and methods
    outside a ``-rpcwhitelist`` with 403; btcd answers bad credentials with
    401 and a short text.  Without this class a 401 would surface as a JSON
    decoding error (the original Go client's "EOF"), hiding the real cause.
    """

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


_CODE_NAMES = {
    RPC_MISC_ERROR: "misc error",
    RPC_INVALID_PARAMETER: "invalid parameter",
    RPC_CLIENT_NODE_ALREADY_ADDED: "node already added",
    RPC_CLIENT_NODE_NOT_ADDED: "node not added",
    RPC_IN_WARMUP: "node warming up",
    RPC_CLIENT_NODE_NOT_CONNECTED: "node not connected",
    RPC_INVALID_REQUEST: "invalid request",
    RPC_METHOD_NOT_FOUND: "method not found",
    RPC_INVALID_PARAMS: "invalid params",
    RPC_PARSE_ERROR: "parse error",
}


class RPCError(BitcoinRPCError):
    """A JSON-RPC error object returned by the node: ``code`` and ``message``.

    The node's own message is kept in :attr:`rpc_message` (redacted by the
    client, see :func:`~.client.redact`) because btcd distinguishes some
    outcomes only by text (its ``addnode`` reports every failure as -8).  It
    is *not* part of ``str()``: that text reaches status conditions and
    Events, and a node's words may carry the credentials it was sent.
    """

    def __init__(self, code: int, message: str, *, method: str = "", endpoint: str = "") -> None:
        where = f"{method} on {endpoint}: " if method or endpoint else ""
        name = _CODE_NAMES.get(code)
        super().__init__(f"{where}RPC error {code}" + (f" ({name})" if name else ""))
        self.code = code
        self.rpc_message = message
        self.method = method
        self.endpoint = endpoint


class RPCWarmingUpError(RPCError):
    """RPC error -28 (``RPC_IN_WARMUP``): the node is still loading.

    A readiness signal rather than a failure: the process is up and answering,
    so callers should wait and retry instead of reporting the node broken.
    """


class RPCConnectionError(BitcoinRPCError):
    """No HTTP response: refused, unreachable, timed out or reset.

    Whether the node executed the call is unknown (a read timeout can fire
    after the node acted), which is why the typed calls are written to be safe
    to repeat.
    """


class RPCTLSError(RPCConnectionError):
    """The TLS handshake failed, typically because the server's certificate is
    not the one we pin.  Retrying against the same server will not help."""


class RPCProtocolError(BitcoinRPCError):
    """The reply is not a usable JSON-RPC response (bad JSON, wrong shape,
    mismatched ``id``, or a non-200 status without a JSON error body)."""


class RPCDeadlineExceededError(RPCConnectionError):
    """The whole call took longer than its total deadline.

    Unlike a read timeout, which any byte resets, this bounds a node that
    answers slowly on purpose (a reply trickling one byte a second).
    """


class RPCReplyTooLargeError(RPCProtocolError):
    """The reply body exceeded the client's size limit; it was not read further.

    The limit protects the controller, which every network shares, from one
    node's oversized answer.
    """
