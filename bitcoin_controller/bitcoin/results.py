"""Typed results of the RPC calls, one shape for both node implementations.

Bitcoin Core and btcd answer the same questions with different JSON (btcd's
``getaddednodeinfo`` may return bare strings, btcd has no
``connection_type`` in ``getpeerinfo``, Core 28 turned ``warnings`` from a
string into a list).  The parsers here absorb those differences so that the
controller is written once.  Each result keeps the node's reply in ``raw``
for fields we do not model.  A reply that lacks a field we rely on raises
:class:`~.errors.RPCProtocolError` rather than ``KeyError`` deep inside the
controller.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, TypeVar

from .errors import RPCProtocolError

__all__ = [
    "AddedNode",
    "AddedNodeAddress",
    "PeerInfo",
    "BlockchainInfo",
    "NetworkInfo",
    "parse_added_nodes",
    "parse_peer_info",
    "parse_blockchain_info",
    "parse_network_info",
    "parse_btcd_info",
    "check_height",
    "check_block_hash",
]

T = TypeVar("T")


@dataclass(frozen=True)
class AddedNodeAddress:
    """One resolved address of an added node; ``direction`` is ``"inbound"``,
    ``"outbound"`` or ``None`` when not connected (btcd says ``"false"``,
    Core leaves unconnected addresses out)."""

    address: str
    direction: str | None


@dataclass(frozen=True)
class AddedNode:
    """An entry of the node's added-node list (``addnode ... add``).

    ``address`` is the string exactly as the node reports it, which is what
    ``addnode ... remove`` must be given back: Core removes by exact string,
    while btcd reports ``host:port`` even when the port was left out on
    ``add``.  Adding peers with an explicit port makes both agree.

    ``connected`` is ``None`` when the reply does not say (btcd with
    ``dns=false`` returns bare strings).  In btcd the list holds only peers
    that are currently connected; peers still being dialled are missing.  In
    Core, entries beyond the 8 addnode connection slots stay
    ``connected=False`` although the peer may be connected inbound, so judge
    connectivity with ``getpeerinfo``, not with this flag.
    """

    address: str
    connected: bool | None
    addresses: tuple[AddedNodeAddress, ...] = ()


@dataclass(frozen=True)
class PeerInfo:
    """One connected peer from ``getpeerinfo``.

    ``connection_type`` is Core's (``"manual"`` for addnode peers); btcd does
    not report it (``None``).  ``height`` is the best block height we know the
    peer has: Core's ``synced_blocks``, btcd's ``currentheight``.
    """

    id: int
    address: str
    inbound: bool
    version: int = 0
    subversion: str = ""
    connection_type: str | None = None
    starting_height: int | None = None
    height: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class BlockchainInfo:
    """``getblockchaininfo``: chain name, tip height and hash, sync progress."""

    chain: str
    blocks: int
    headers: int
    best_block_hash: str
    initial_block_download: bool | None = None
    verification_progress: float | None = None
    warnings: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


@dataclass(frozen=True)
class NetworkInfo:
    """``getnetworkinfo`` (Core) or its btcd equivalent built from ``getinfo``.

    btcd does not implement ``getnetworkinfo`` (it answers -1 "Command
    unimplemented"), so in the btcd dialect the client calls ``getinfo`` and
    fills what it has: ``version``, ``protocol_version``, ``connections``,
    ``relay_fee`` and ``warnings`` (from ``errors``).  Fields btcd cannot
    provide are ``None``: ``subversion``, ``connections_in``,
    ``connections_out``, ``network_active``.
    """

    version: int
    protocol_version: int
    connections: int
    subversion: str | None = None
    connections_in: int | None = None
    connections_out: int | None = None
    network_active: bool | None = None
    relay_fee: float | None = None
    warnings: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)


def parse_added_nodes(result: Any) -> list[AddedNode]:
    """Normalise ``getaddednodeinfo`` from either dialect and either btcd shape."""
    entries = _expect(result, list, "getaddednodeinfo")
    nodes: list[AddedNode] = []
    for entry in entries:
        if isinstance(entry, str):  # btcd, dns=false
            nodes.append(AddedNode(address=entry, connected=None))
            continue
        entry = _expect(entry, dict, "getaddednodeinfo entry")
        addresses = tuple(_added_node_address(a) for a in entry.get("addresses") or ())
        connected = entry.get("connected")
        nodes.append(
            AddedNode(
                address=_field(entry, "addednode", str, "getaddednodeinfo entry"),
                connected=bool(connected) if connected is not None else None,
                addresses=addresses,
            )
        )
    return nodes


def _added_node_address(value: Any) -> AddedNodeAddress:
    entry = _expect(value, dict, "getaddednodeinfo address")
    direction = entry.get("connected")
    return AddedNodeAddress(
        address=_field(entry, "address", str, "getaddednodeinfo address"),
        direction=direction if direction in ("inbound", "outbound") else None,
    )


def parse_peer_info(result: Any) -> list[PeerInfo]:
    """Normalise ``getpeerinfo`` (Core and btcd share the core fields)."""
    peers = []
    for entry in _expect(result, list, "getpeerinfo"):
        entry = _expect(entry, dict, "getpeerinfo entry")
        height = entry.get("synced_blocks", entry.get("currentheight"))
        peers.append(
            PeerInfo(
                id=_field(entry, "id", int, "getpeerinfo entry"),
                address=_field(entry, "addr", str, "getpeerinfo entry"),
                inbound=bool(entry.get("inbound", False)),
                version=_optional(entry, "version", int) or 0,
                subversion=_optional(entry, "subver", str) or "",
                connection_type=_optional(entry, "connection_type", str),
                starting_height=_optional(entry, "startingheight", int),
                height=height if isinstance(height, int) and not isinstance(height, bool) else None,
                raw=entry,
            )
        )
    return peers


def parse_blockchain_info(result: Any) -> BlockchainInfo:
    """Normalise ``getblockchaininfo`` (``warnings`` string or list).

    Heights must be int64 and not negative and the hash 64 hex digits: these
    values go into the network's status, whose schema says so.
    """
    info = _expect(result, dict, "getblockchaininfo")
    return BlockchainInfo(
        chain=_field(info, "chain", str, "getblockchaininfo"),
        blocks=check_height(_field(info, "blocks", int, "getblockchaininfo"), "getblockchaininfo: blocks"),
        headers=check_height(_optional(info, "headers", int) or 0, "getblockchaininfo: headers"),
        best_block_hash=check_block_hash(
            _field(info, "bestblockhash", str, "getblockchaininfo"), "getblockchaininfo: bestblockhash"
        ),
        initial_block_download=_optional(info, "initialblockdownload", bool),
        verification_progress=_optional_number(info, "verificationprogress"),
        warnings=_warnings(info.get("warnings")),
        raw=info,
    )


def parse_network_info(result: Any) -> NetworkInfo:
    """Parse Core's ``getnetworkinfo``."""
    info = _expect(result, dict, "getnetworkinfo")
    return NetworkInfo(
        version=_field(info, "version", int, "getnetworkinfo"),
        protocol_version=_field(info, "protocolversion", int, "getnetworkinfo"),
        connections=_field(info, "connections", int, "getnetworkinfo"),
        subversion=_optional(info, "subversion", str),
        connections_in=_optional(info, "connections_in", int),
        connections_out=_optional(info, "connections_out", int),
        network_active=_optional(info, "networkactive", bool),
        relay_fee=_optional_number(info, "relayfee"),
        warnings=_warnings(info.get("warnings")),
        raw=info,
    )


def parse_btcd_info(result: Any) -> NetworkInfo:
    """Build a :class:`NetworkInfo` from btcd's ``getinfo`` reply."""
    info = _expect(result, dict, "getinfo")
    return NetworkInfo(
        version=_field(info, "version", int, "getinfo"),
        protocol_version=_field(info, "protocolversion", int, "getinfo"),
        connections=_field(info, "connections", int, "getinfo"),
        relay_fee=_optional_number(info, "relayfee"),
        warnings=_warnings(info.get("errors")),
        raw=info,
    )


INT64_MAX = 2**63 - 1
_HASH = re.compile(r"[0-9a-fA-F]{64}", re.ASCII)


def check_height(value: int, what: str) -> int:
    """``value`` if it can be a block height (0 to 2^63-1), else :class:`RPCProtocolError`."""
    if not 0 <= value <= INT64_MAX:
        raise RPCProtocolError(f"{what}: not a block height (0 to 2^63-1)")
    return value


def check_block_hash(value: str, what: str) -> str:
    """``value`` in lowercase if it is 64 hex digits, else :class:`RPCProtocolError`."""
    if not _HASH.fullmatch(value):
        raise RPCProtocolError(f"{what}: not a block hash (64 hex digits)")
    return value.lower()


def _warnings(value: Any) -> tuple[str, ...]:
    if not value:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(str(v) for v in value if v)
    return (str(value),)


def _expect(value: Any, kind: type[T], what: str) -> T:
    if not isinstance(value, kind):
        raise RPCProtocolError(
            f"{what}: expected a JSON {_json_name(kind)}, got {_json_name(type(value))}"
        )
    return value


def _field(obj: dict[str, Any], key: str, kind: type[T], what: str) -> T:
    value = obj.get(key)
    if not _is(value, kind):
        raise RPCProtocolError(f"{what}: field {key!r} missing or not a {_json_name(kind)}")
    return value  # type: ignore[return-value]


def _optional(obj: dict[str, Any], key: str, kind: type[T]) -> T | None:
    value = obj.get(key)
    return value if _is(value, kind) else None  # type: ignore[return-value]


def _optional_number(obj: dict[str, Any], key: str) -> float | None:
    value = obj.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _is(value: Any, kind: type) -> bool:
    # JSON booleans decode to bool, a subclass of int: never accept one for the other.
    if kind is int and isinstance(value, bool):
        return False
    return isinstance(value, kind)


_JSON_NAMES: dict[type, str] = {
    list: "array",
    dict: "object",
    str: "string",
    int: "integer",
    float: "number",
    bool: "boolean",
    type(None): "null",
}


def _json_name(kind: type) -> str:
    return _JSON_NAMES.get(kind, kind.__name__)
