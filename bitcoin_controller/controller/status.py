"""Observed state of a network: node entries, the peer graph and conditions.

The conditions, in the Kubernetes condition shape (``type``, ``status``,
``reason``, ``message``, ``lastTransitionTime``, ``observedGeneration``):

``Ready``
    every wanted node's pod is Ready.
``Connected``
    the ready nodes form one connected peer graph in which every node is
    connected to at least ``min(n - 1, 8)`` of the others, ``n`` being the
    number of ready nodes.  A literal full mesh is unreachable beyond 9
    nodes: Bitcoin Core opens at most 8 outbound ``addnode`` connections
    (``MAX_ADDNODE_CONNECTIONS``), so a node of a larger network may be
    adjacent to only 8 others plus whoever dialled it.  Edges come from each
    node's ``getpeerinfo``: an outbound connection names the peer's P2P
    address; an inbound one names the peer's IP when the network does not
    rewrite sources.
``Synced``
    every ready node reports the same best block hash.

When a node's RPC could not be read, ``Connected`` and ``Synced`` are
``Unknown``: the controller cannot tell, and says which node failed.  They
are ``Unknown`` too while no wanted node is ready (reason ``NoReadyNodes``).

Nothing goes into the status unchecked: a status that breaks the CRD's
schema is rejected by the API server as a whole, and the network's status
would go stale.  Heights must be int64 and non-negative, block hashes 64
hex digits (:func:`checked_height`, :func:`checked_block_hash`, applied as
the daemons' replies are read), pod IPs real IP addresses, and messages are
cut to the CRD's ``maxLength`` (:func:`truncate_message`).
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any

from ..apimachinery import metav1
from ..apis.bitcoincontroller.v1 import CONNECTED, READY, SYNCED

__all__ = [
    "READY",
    "CONNECTED",
    "SYNCED",
    "MAX_ADDNODE_CONNECTIONS",
    "NodeObservation",
    "required_degree",
    "peer_graph",
    "is_connected",
    "node_entries",
    "ConditionSet",
    "InvalidNodeReport",
    "checked_height",
    "checked_block_hash",
    "canonical_ip",
    "host_port",
    "pod_ips",
    "truncate_message",
    "MAX_CONDITION_MESSAGE",
    "MAX_EVENT_MESSAGE",
]

INT64_MAX = 2**63 - 1
INT32_MAX = 2**31 - 1
#: The CRD's ``maxLength`` of a condition message (metav1.Condition's).
MAX_CONDITION_MESSAGE = 32768
#: Events are read by people in ``kubectl describe``; events.k8s.io caps a note at 1 kB.
MAX_EVENT_MESSAGE = 1024
_BLOCK_HASH = re.compile(r"[0-9a-f]{64}", re.ASCII)


class InvalidNodeReport(Exception):
    """A daemon reported a value that cannot be a real one (and must not reach the status).

    The message names the field, never the value: the value is the daemon's.
    """


def checked_height(value: object) -> int:
    """A block height as status may hold it: an int64 that is not negative."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= INT64_MAX:
        raise InvalidNodeReport("the node reported an invalid block height")
    return value


def checked_block_hash(value: object) -> str:
    """A block hash as status may hold it: 64 hex digits (lowercase, as both daemons print them)."""
    if not isinstance(value, str) or not _BLOCK_HASH.fullmatch(value.lower()):
        raise InvalidNodeReport("the node reported an invalid best block hash")
    return value.lower()


def canonical_ip(host: str) -> str:
    """An IP address in its canonical text (IPv6 compressed, lowercase); other text unchanged."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return host


def host_port(host: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets (``[fd00::b]:18444``)."""
    host = canonical_ip(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def pod_ips(pod_status: dict[str, Any]) -> tuple[str, tuple[str, ...]]:
    """A pod's primary IP and all its IPs (dual-stack), canonical; invalid entries dropped.

    The primary IP (``podIP``) is the one the nodes are meshed on; the others
    identify the pod as the source of inbound connections.
    """
    primary = canonical_ip(str(pod_status.get("podIP") or ""))
    if not _is_ip(primary):
        primary = ""
    others = [canonical_ip(str((e or {}).get("ip") or "")) for e in pod_status.get("podIPs") or []
              if isinstance(e, dict)]
    ips = tuple(dict.fromkeys(ip for ip in [primary, *others] if _is_ip(ip)))
    return primary, ips


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def truncate_message(message: str, limit: int = MAX_CONDITION_MESSAGE) -> str:
    """``message`` cut to ``limit`` characters, marked as cut."""
    if len(message) <= limit:
        return message
    marker = "... (truncated)"
    return message[: limit - len(marker)] + marker


#: Bitcoin Core's limit on outbound connections opened for ``addnode`` entries.
MAX_ADDNODE_CONNECTIONS = 8


@dataclass
class NodeObservation:
    """What the controller saw of one node in this sync."""

    ordinal: int
    pod_name: str
    ip: str
    pod_ready: bool
    dns_name: str
    #: Identifies one run of the daemon (pod UID and restart count), see mesh.MeshMemory.
    instance: str = ""
    #: Every IP of the pod (dual-stack), for recognising its inbound connections.
    ips: tuple[str, ...] = ()
    rpc_error: str | None = None
    blocks: int | None = None
    best_block_hash: str | None = None
    peers: int | None = None
    outbound_peers: set[str] = field(default_factory=set)  # "ip:port" this node dialled
    inbound_peer_ips: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)

    @property
    def rpc_ok(self) -> bool:
        return self.pod_ready and self.rpc_error is None and self.blocks is not None


def required_degree(ready_nodes: int) -> int:
    """How many other nodes each ready node must be connected to."""
    return max(0, min(ready_nodes - 1, MAX_ADDNODE_CONNECTIONS))


def peer_graph(nodes: list[NodeObservation], p2p_port: int) -> dict[int, set[int]]:
    """Undirected adjacency between ready nodes, by ordinal."""
    ready = [n for n in nodes if n.rpc_ok]
    by_addr = {host_port(n.ip, p2p_port): n.ordinal for n in ready}
    ips = [canonical_ip(ip) for n in ready for ip in {n.ip, *n.ips}]
    by_ip = {
        canonical_ip(ip): n.ordinal for n in ready for ip in {n.ip, *n.ips} if ips.count(canonical_ip(ip)) == 1
    }
    graph: dict[int, set[int]] = {n.ordinal: set() for n in ready}
    for node in ready:
        linked = {by_addr[a] for a in node.outbound_peers if a in by_addr}
        linked |= {by_ip[ip] for ip in node.inbound_peer_ips if ip in by_ip}
        linked.discard(node.ordinal)
        for other in linked:
            graph[node.ordinal].add(other)
            graph[other].add(node.ordinal)
    return graph


def is_connected(graph: dict[int, set[int]]) -> tuple[bool, str]:
    """Whether the graph meets the ``Connected`` definition, and why not."""
    n = len(graph)
    if n <= 1:
        return True, ""
    need = required_degree(n)
    short = sorted(o for o, peers in graph.items() if len(peers) < need)
    if short:
        return False, f"node(s) {', '.join(map(str, short))} connected to fewer than {need} others"
    start = next(iter(graph))
    seen, todo = {start}, [start]
    while todo:
        for peer in graph[todo.pop()]:
            if peer not in seen:
                seen.add(peer)
                todo.append(peer)
    if len(seen) != n:
        return False, "the peer graph is split into several parts"
    return True, ""


def node_entries(nodes: list[NodeObservation]) -> list[dict[str, Any]]:
    """The ``status.nodes`` list, ordered by ordinal."""
    entries = []
    for n in sorted(nodes, key=lambda n: n.ordinal):
        entry: dict[str, Any] = {
            "ordinal": n.ordinal,
            "ready": n.pod_ready,
            "ip": n.ip,
            "podName": n.pod_name,
            "nodeName": n.pod_name,  # deprecated name of podName, kept for older readers
            "dnsName": n.dns_name,
        }
        # Checked when read (mesh); checked again here, where the schema applies.
        if isinstance(n.blocks, int) and not isinstance(n.blocks, bool) and 0 <= n.blocks <= INT64_MAX:
            entry["blocks"] = n.blocks
        if isinstance(n.best_block_hash, str) and _BLOCK_HASH.fullmatch(n.best_block_hash):
            entry["bestBlockHash"] = n.best_block_hash
        if n.peers is not None:
            entry["peers"] = max(0, min(n.peers, INT32_MAX))
        entries.append(entry)
    return entries


class ConditionSet:
    """The conditions being computed for one status write.

    ``lastTransitionTime`` only moves when a condition's status changes, as
    ``meta.SetStatusCondition`` does in apimachinery; otherwise rewriting the
    same conditions would make every sync a status write.
    """

    def __init__(self, previous: list[dict[str, Any]] | None, generation: int, now: datetime.datetime):
        self._previous = {c.get("type"): c for c in previous or []}
        self._generation = generation
        self._now = metav1.format_time(now)
        self.conditions: list[dict[str, Any]] = []

    def set(self, type_: str, status: bool | None, reason: str, message: str) -> None:
        value = "Unknown" if status is None else ("True" if status else "False")
        old = self._previous.get(type_)
        transition = old.get("lastTransitionTime") if old and old.get("status") == value else None
        self.conditions = [c for c in self.conditions if c["type"] != type_]
        self.conditions.append(
            {
                "type": type_,
                "status": value,
                "reason": reason,
                "message": truncate_message(message),
                "lastTransitionTime": transition or self._now,
                "observedGeneration": self._generation,
            }
        )
