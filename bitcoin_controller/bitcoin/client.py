"""The Bitcoin JSON-RPC client the controller uses to mesh and watch nodes.

It speaks to two node implementations ("dialects") and hides their
differences from callers:

============================  =========================  ==============================
question                      Bitcoin Core (bitcoind)    btcd
============================  =========================  ==============================
duplicate ``addnode add``     error -23                  error -8 "peer already
                                                         connected" / "peer exists as
                                                         a permanent peer"
``addnode remove`` of an      error -24                  error -8 "peer not found"
unknown peer
``getaddednodeinfo``          no argument                leading ``dns`` boolean;
                                                         ``false`` gives bare strings
``getnetworkinfo``            yes                        "Command unimplemented":
                                                         ``getinfo`` instead
mining on regtest             ``generatetoaddress n a``  ``generate n`` (pays to the
                                                         node's ``--miningaddr``)
RPC errors over HTTP          legacy 1.x: HTTP 500/404   HTTP 200 with the error
                              *with* a JSON body         object
============================  =========================  ==============================

Requests carry ``"jsonrpc": "1.0"`` as a *string* (Core 28 rejects a
number with HTTP 400), an ``id`` that the reply must echo, and HTTP basic
auth.  Every call has a connect and a read timeout and a total deadline,
and its reply a size limit: a hung, slow or flooding node costs a worker at
most that long and the process at most that much memory, never forever.
The client holds no per-call state, so one instance is safe to share
between worker threads.

What a node says never reaches an exception's text.  A node runs a
user-chosen image and may echo our request -- credentials included -- in any
form (cut, escaped, base64-encoded at any offset).  A scrubber that replaces
what it recognises has been beaten every one of those ways, and its ``***``
positions reveal a short password.  So exception messages, which end up in
status conditions and Events, are built only from fixed texts, the method,
the ``host:port``, HTTP status, RPC code and sizes ("getblockcount on
10.0.0.5:18443: HTTP 502 without a JSON-RPC reply (1234 bytes)").  The
node's own words are kept in two places only: :attr:`RPCError.rpc_message`
(needed because btcd distinguishes outcomes only by text) and a *debug* log
line, both passed through :func:`redact` -- which withholds the whole text
if it contains any form of any credential, and only then cuts it short.
"""

from __future__ import annotations

import base64
import enum
import itertools
import json
import logging
import urllib.parse
from typing import Any

from ..utils.clock import REAL_CLOCK, Clock
from .config import Config
from .errors import (
    RPC_CLIENT_NODE_ALREADY_ADDED,
    RPC_CLIENT_NODE_NOT_ADDED,
    RPC_CLIENT_NODE_NOT_CONNECTED,
    RPC_IN_WARMUP,
    RPC_INVALID_PARAMETER,
    AuthenticationError,
    BitcoinRPCError,
    RPCError,
    RPCProtocolError,
    RPCReplyTooLargeError,
    RPCWarmingUpError,
)
from .metrics import DEFAULT_METRICS, RPCMetrics
from .results import (
    AddedNode,
    BlockchainInfo,
    NetworkInfo,
    PeerInfo,
    check_block_hash,
    check_height,
    parse_added_nodes,
    parse_blockchain_info,
    parse_btcd_info,
    parse_network_info,
    parse_peer_info,
)
from .transport import DEFAULT_CALL_TIMEOUT, DEFAULT_MAX_REPLY_BYTES, HTTPTransport, Urllib3Transport

__all__ = [
    "BitcoinClient",
    "Dialect",
    "BTCD_ALREADY_ADDED_MESSAGES",
    "BTCD_NOT_ADDED_MESSAGES",
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_READ_TIMEOUT",
    "DEFAULT_CALL_TIMEOUT",
    "DEFAULT_MAX_REPLY_BYTES",
    "WITHHELD",
    "redact",
]

log = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT = 5.0
DEFAULT_READ_TIMEOUT = 15.0

# The texts btcd v0.24.2 puts in its -8 replies to addnode (server.go,
# handling connectNodeMsg / removeNodeMsg).  btcd has no dedicated codes.
BTCD_ALREADY_ADDED_MESSAGES = frozenset(
    {"peer already connected", "peer exists as a permanent peer"}
)
BTCD_NOT_ADDED_MESSAGES = frozenset({"peer not found"})

# Longest excerpt of a node's text kept (after redaction) in rpc_message and debug logs.
_EXCERPT = 200
# How much of a node's text redact() examines; only a prefix of it is ever kept.
_EXAMINED = 2000
WITHHELD = "<withheld: the node's text resembled the credentials>"
# A node's reply text that is one of these constants carries no information
# and is kept as is (btcd's outcomes are told apart by these texts).
_KNOWN_TEXTS = BTCD_ALREADY_ADDED_MESSAGES | BTCD_NOT_ADDED_MESSAGES
#: Most JSON values (bounded by counting separators) a reply may hold.  The
#: size cap alone is not enough: decoded, "[[],[],...]" takes some twenty
#: times its size in Python objects.  The largest honest reply we ask for, a
#: 32-peer getpeerinfo, has a few thousand.
MAX_JSON_VALUES = 200_000


class Dialect(enum.StrEnum):
    """Which node implementation the client talks to."""

    BITCOIND = "bitcoind"
    BTCD = "btcd"


class BitcoinClient:
    """A JSON-RPC client for bitcoind and btcd (the Go original's ``BitcoinClient``).

    ``config`` is the default target; every call may pass another
    :class:`Config`, so one client serves many nodes.  ``http`` is the
    :class:`~.transport.HTTPTransport` (a pooled urllib3 transport by
    default); share one transport between clients to share connections.
    ``metrics`` receives the duration and outcome of every call.
    """

    def __init__(
        self,
        config: Config | None = None,
        http: HTTPTransport | None = None,
        dialect: Dialect | str = Dialect.BITCOIND,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        *,
        metrics: RPCMetrics | None = None,
        clock: Clock = REAL_CLOCK,
        call_timeout: float = DEFAULT_CALL_TIMEOUT,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ) -> None:
        if connect_timeout <= 0 or read_timeout <= 0 or call_timeout <= 0:
            raise ValueError(
                "timeouts must be positive: a call without one can block a worker forever"
            )
        if max_reply_bytes <= 0:
            raise ValueError("max_reply_bytes must be positive")
        self.call_timeout = call_timeout
        self.max_reply_bytes = max_reply_bytes
        self.config = config
        self.http: HTTPTransport = http if http is not None else Urllib3Transport()
        self.dialect = Dialect(dialect)
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.metrics = metrics if metrics is not None else DEFAULT_METRICS
        self._clock = clock
        # next() on itertools.count is atomic under the GIL: ids stay unique
        # across threads without a lock.
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"BitcoinClient(dialect={self.dialect.value!r}, config={self.config!r})"

    def with_dialect(self, dialect: Dialect | str) -> BitcoinClient:
        """A client for another dialect sharing this one's transport, metrics and timeouts."""
        return BitcoinClient(
            self.config,
            self.http,
            dialect,
            self.connect_timeout,
            self.read_timeout,
            metrics=self.metrics,
            clock=self._clock,
            call_timeout=self.call_timeout,
            max_reply_bytes=self.max_reply_bytes,
        )

    # ------------------------------------------------------------------ raw

    def raw_request(
        self, method: str, params: list[Any] | None = None, config: Config | None = None
    ) -> Any:
        """Call ``method`` with positional ``params`` and return its ``result``.

        Raises a :class:`~.errors.BitcoinRPCError` subclass on any failure; the
        messages never contain the credentials.
        """
        cfg = self._config(config)
        request_id = next(self._ids)
        body = json.dumps(
            {"jsonrpc": "1.0", "id": request_id, "method": method, "params": list(params or [])},
            separators=(",", ":"),
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Authorization": cfg.authorization(),
        }
        start = self._clock.now()
        error: BaseException | None = None
        try:
            status, reply = self.http.request(
                "POST",
                cfg.url,
                body,
                headers,
                (self.connect_timeout, self.read_timeout),
                tls=cfg.tls,
                total_timeout=self.call_timeout,
                max_reply_bytes=self.max_reply_bytes,
            )
            return self._decode(method, cfg, request_id, status, reply)
        except BitcoinRPCError as exc:
            error = _scrub(exc, cfg)
            raise
        except Exception as exc:  # a bug or a transport outside the contract: still a failed call
            error = exc
            raise
        finally:
            elapsed = self._clock.since(start)
            self.metrics.observe(method, elapsed, error)  # type: ignore[arg-type]
            if error is None:
                log.debug("bitcoin rpc %s on %s took %.3fs", method, cfg.endpoint, elapsed)
            else:
                log.debug(
                    "bitcoin rpc %s on %s failed after %.3fs: %s%s",
                    method,
                    cfg.endpoint,
                    elapsed,
                    error,
                    _node_said(error),
                )

    def _config(self, config: Config | None) -> Config:
        cfg = config if config is not None else self.config
        if cfg is None:
            raise ValueError("no Config given and the client has no default Config")
        return cfg

    def _decode(self, method: str, cfg: Config, request_id: int, status: int, body: bytes) -> Any:
        where = f"{method} on {cfg.endpoint}"
        if status in (401, 403):
            # Core: 401 with an empty body for bad credentials, 403 for a
            # method outside -rpcwhitelist.  btcd: 401 with a short text.
            what = "credentials rejected" if status == 401 else "method forbidden for this user"
            raise AuthenticationError(f"{where}: HTTP {status}, {what}", status)
        values = body.count(b",") + body.count(b":") + body.count(b"[") + body.count(b"{")
        if values > MAX_JSON_VALUES:
            raise RPCReplyTooLargeError(f"{where}: reply has more than {MAX_JSON_VALUES} JSON values")
        try:
            reply = json.loads(body)
        except RecursionError:
            # A reply nested 100,000 levels deep: the decoder gives up with
            # RecursionError, which is no ValueError but still a bad reply.
            raise RPCProtocolError(f"{where}: reply is nested too deeply") from None
        except (ValueError, UnicodeDecodeError):
            if status != 200:
                raise _with_node_text(
                    RPCProtocolError(f"{where}: HTTP {status} without a JSON-RPC reply ({len(body)} bytes)"),
                    body,
                ) from None
            raise _with_node_text(
                RPCProtocolError(f"{where}: reply is not valid JSON ({len(body)} bytes)"), body
            ) from None
        if not isinstance(reply, dict):
            raise RPCProtocolError(
                f"{where}: reply is a JSON {type(reply).__name__}, not an object"
            )
        # Read the error object whatever the HTTP status: legacy JSON-RPC 1.x
        # (all of Core before 28, and Core 28+ for "1.0" requests) puts RPC
        # errors in a 500 or 404 response with a JSON body.
        error = reply.get("error")
        if error is not None:
            code, message = _error_fields(error, where)
            cls = RPCWarmingUpError if code == RPC_IN_WARMUP else RPCError
            raise cls(code, message, method=method, endpoint=cfg.endpoint)
        if status != 200:
            raise RPCProtocolError(f"{where}: HTTP {status} without an error object")
        if "result" not in reply:
            raise RPCProtocolError(f"{where}: reply has neither result nor error")
        if reply.get("id") != request_id:
            # The id the node sent is its text: only its JSON type is named.
            raise RPCProtocolError(
                f"{where}: reply id (a JSON {type(reply.get('id')).__name__}) "
                f"does not match request id {request_id}"
            )
        return reply["result"]

    # --------------------------------------------------------------- typed

    def add_node(self, address: str, config: Config | None = None) -> bool:
        """``addnode <address> add``: make the node keep a connection to ``address``.

        Returns ``True`` if the node accepted a new entry, ``False`` if it
        reported the entry as already there -- both are success, so meshing is
        idempotent.  Pass ``host:port`` (e.g. ``10.0.0.5:18444``): btcd always
        stores a port, Core stores the string as given, and only an explicit
        port makes ``get_added_node_info`` report the same text on both.

        btcd caveat: btcd reports "already connected" only for peers it is
        connected to; adding a peer it is still dialling is accepted again.
        """
        try:
            self.raw_request("addnode", [address, "add"], config)
        except RPCError as exc:
            if self._is_already_added(exc):
                return False
            raise
        return True

    def remove_node(self, address: str, config: Config | None = None) -> bool:
        """``addnode <address> remove``; ``True`` if removed, ``False`` if it was not added.

        Use the address exactly as :meth:`get_added_node_info` reports it (Core
        matches the string exactly).
        """
        try:
            self.raw_request("addnode", [address, "remove"], config)
        except RPCError as exc:
            if self._is_not_added(exc):
                return False
            raise
        return True

    def connect_once(self, address: str, config: Config | None = None) -> bool:
        """``addnode <address> onetry``: dial ``address`` once, without adding it to any list.

        Returns ``False`` when the node reports it is already connected there.
        A failed dial is not retried by the node; the caller decides when to
        try again.
        """
        try:
            self.raw_request("addnode", [address, "onetry"], config)
        except RPCError as exc:
            if self._is_already_added(exc):
                return False
            raise
        return True

    def disconnect_node(self, address: str, config: Config | None = None) -> bool:
        """Close the connection to ``address``; ``False`` if there was none.

        btcd: ``node disconnect <address>`` (answers "peer not found" when
        there is no such peer); Core: ``disconnectnode <address>`` (-29).
        """
        try:
            if self.dialect is Dialect.BTCD:
                self.raw_request("node", ["disconnect", address], config)
            else:
                self.raw_request("disconnectnode", [address], config)
        except RPCError as exc:
            if self.dialect is Dialect.BTCD and "not found" in exc.rpc_message:
                return False
            if self.dialect is Dialect.BITCOIND and exc.code == RPC_CLIENT_NODE_NOT_CONNECTED:
                return False
            raise
        return True

    def get_added_node_info(self, config: Config | None = None) -> list[AddedNode]:
        """The node's added-node list, in one shape for both dialects.

        btcd gets ``dns=true`` so that its reply carries connection state like
        Core's; a bare-string reply is still understood (``connected=None``).
        """
        params: list[Any] = [True] if self.dialect is Dialect.BTCD else []
        return parse_added_nodes(self.raw_request("getaddednodeinfo", params, config))

    def get_peer_info(self, config: Config | None = None) -> list[PeerInfo]:
        """The node's connected peers (``getpeerinfo``): the truth about connectivity."""
        return parse_peer_info(self.raw_request("getpeerinfo", [], config))

    def get_blockchain_info(self, config: Config | None = None) -> BlockchainInfo:
        """Chain, height and best block hash (``getblockchaininfo``)."""
        return parse_blockchain_info(self.raw_request("getblockchaininfo", [], config))

    def get_network_info(self, config: Config | None = None) -> NetworkInfo:
        """Version and connection counts: ``getnetworkinfo`` on Core, ``getinfo`` on btcd.

        btcd has no ``getnetworkinfo``; see :class:`~.results.NetworkInfo` for
        which fields its ``getinfo`` can fill.
        """
        if self.dialect is Dialect.BTCD:
            return parse_btcd_info(self.raw_request("getinfo", [], config))
        return parse_network_info(self.raw_request("getnetworkinfo", [], config))

    def get_block_count(self, config: Config | None = None) -> int:
        """Height of the node's best chain (``getblockcount``)."""
        result = self.raw_request("getblockcount", [], config)
        if isinstance(result, bool) or not isinstance(result, int):
            raise RPCProtocolError(
                f"getblockcount: expected an integer, got {type(result).__name__}"
            )
        return check_height(result, "getblockcount")

    def get_block_hash(self, height: int, config: Config | None = None) -> str:
        """Hash of the best chain's block at ``height`` (``getblockhash``)."""
        result = self.raw_request("getblockhash", [height], config)
        if not isinstance(result, str):
            raise RPCProtocolError(f"getblockhash: expected a string, got {type(result).__name__}")
        return check_block_hash(result, "getblockhash")

    def get_raw_block(self, block_hash: str, config: Config | None = None) -> str:
        """The serialised block, hex-encoded (``getblock <hash> 0`` on both dialects)."""
        result = self.raw_request("getblock", [block_hash, 0], config)
        if not isinstance(result, str):
            raise RPCProtocolError(f"getblock: expected hex, got {type(result).__name__}")
        return result

    def submit_block(self, block_hex: str, config: Config | None = None) -> str | None:
        """Hand the node a serialised block (``submitblock``).

        Returns ``None`` when it was accepted, else the node's reason
        (``"duplicate"`` for a block it already has; btcd reports rejections
        as RPC errors, which are raised).
        """
        result = self.raw_request("submitblock", [block_hex], config)
        return None if result is None else str(result)

    def generate(
        self, n: int, address: str | None = None, config: Config | None = None
    ) -> list[str]:
        """Mine ``n`` blocks on regtest and return their hashes.

        Core: ``generatetoaddress n address`` -- ``address`` is required (Core
        has had no ``generate`` since 0.19 and needs no wallet for this).
        btcd: ``generate n`` -- btcd has no RPC to choose the payee and pays
        the node's ``--miningaddr``, so a given ``address`` is not used there.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
            raise ValueError("n must be a positive integer")
        if self.dialect is Dialect.BTCD:
            if address is not None:
                log.debug("btcd mines to its --miningaddr; ignoring address for generate")
            result = self.raw_request("generate", [n], config)
        else:
            if not address:
                raise ValueError("bitcoind needs an address for generatetoaddress")
            result = self.raw_request("generatetoaddress", [n, address], config)
        if not isinstance(result, list) or not all(isinstance(h, str) for h in result):
            raise RPCProtocolError("generate: expected a list of block hashes")
        return result

    # ------------------------------------------------------------ dialect

    def _is_already_added(self, exc: RPCError) -> bool:
        if self.dialect is Dialect.BTCD:
            return (
                exc.code == RPC_INVALID_PARAMETER and exc.rpc_message in BTCD_ALREADY_ADDED_MESSAGES
            )
        return exc.code == RPC_CLIENT_NODE_ALREADY_ADDED

    def _is_not_added(self, exc: RPCError) -> bool:
        if self.dialect is Dialect.BTCD:
            return exc.code == RPC_INVALID_PARAMETER and exc.rpc_message in BTCD_NOT_ADDED_MESSAGES
        return exc.code == RPC_CLIENT_NODE_NOT_ADDED


def _error_fields(error: Any, where: str) -> tuple[int, str]:
    if not isinstance(error, dict):
        raise RPCProtocolError(f"{where}: error member is not an object")
    code = error.get("code")
    if isinstance(code, bool) or not isinstance(code, int):
        raise RPCProtocolError(f"{where}: error object without an integer code")
    message = error.get("message")
    return code, message if isinstance(message, str) else ""


def _node_said(error: BaseException) -> str:
    # Already redacted by _scrub: the node's words, for debug logs only.
    said = getattr(error, "node_text", "") or getattr(error, "rpc_message", "")
    return f" (node said: {said})" if said else ""


def _with_node_text(exc: BitcoinRPCError, body: bytes) -> BitcoinRPCError:
    # Raw for now; _scrub (which knows the credentials) redacts it before
    # anyone sees the exception.
    exc.node_text = body[:_EXAMINED].decode("utf-8", "replace")  # type: ignore[attr-defined]
    return exc


def _credential_forms(secret: str) -> list[str]:
    """The ways ``secret`` may appear in a node's text: plain, escaped, encoded."""
    raw = secret.encode()
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        urllib.parse.quote(secret, safe=""),
        urllib.parse.quote_plus(secret),
        raw.hex(),
    }
    # Base64 at each of the three byte alignments: the characters that depend
    # only on the secret's bytes, wherever it sits inside an encoded blob.
    for offset in range(3):
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            text = encode(b"\0" * offset + raw).decode("ascii")
            start = -(-8 * offset // 6)
            end = (8 * (offset + len(raw))) // 6
            if end - start >= 4:
                forms.add(text[start:end])
    return [f for f in forms if f]


def redact(text: str, secrets: list[str]) -> str:
    """``text`` cut to a short excerpt, or :data:`WITHHELD` if it may contain a secret.

    All or nothing, and checked before cutting: replacing the matches would
    show where a short password occurs, and cutting first would let the part
    of a secret that survives the cut go unrecognised.  Any 8-character
    window of any form of a secret counts as a match, so a secret the node
    cut itself is caught too.
    """
    if text in _KNOWN_TEXTS:
        return text
    examined = text[:_EXAMINED].casefold()
    for secret in secrets:
        for form in _credential_forms(secret):
            form = form.casefold()  # over-matching only withholds more
            width = min(8, len(form))
            if any(form[i : i + width] in examined for i in range(len(form) - width + 1)):
                return WITHHELD
    examined = text[:_EXAMINED]
    excerpt = "".join(ch if ch.isprintable() else " " for ch in examined[:_EXCERPT]).strip()
    return excerpt + ("..." if len(text) > _EXCERPT else "")


def _secrets(cfg: Config) -> list[str]:
    secrets = [s for s in (cfg.password, f"{cfg.user}:{cfg.password}") if s and s != ":"]
    if len(cfg.user) >= 4:  # a user name alone authenticates nobody; short ones are ordinary words
        secrets.append(cfg.user)
    return secrets


def _scrub(exc: BitcoinRPCError, cfg: Config) -> BitcoinRPCError:
    """Make an error safe to show, in place (see the module docstring).

    Our own messages are built without any text from the node; a custom
    transport's message, or a coincidence, is still checked, and withheld
    whole if it resembles a credential.  The node's words (``rpc_message``,
    ``node_text``) are redacted.
    """
    secrets = _secrets(cfg)
    if redact(exc.message, secrets) == WITHHELD:
        exc.message = f"{type(exc).__name__} from {cfg.endpoint} (message withheld: it resembled the credentials)"
        if redact(exc.message, secrets) == WITHHELD:
            exc.message = f"{type(exc).__name__} (message withheld: it resembled the credentials)"
    exc.args = (exc.message,)
    if isinstance(exc, RPCError):
        exc.rpc_message = redact(exc.rpc_message, secrets)
    node_text = getattr(exc, "node_text", "")
    if node_text:
        exc.node_text = redact(node_text, secrets)  # type: ignore[attr-defined]
    return exc
