"""Connecting a network's nodes to each other over JSON-RPC.

On every sync -- not only when the node list changed, which is what left the
original controller's meshes half-built -- each ready node is asked for its
chain tip, its peers and its added-node list; every other ready node's P2P
address that is missing is added, and every address of a node that is gone is
removed.  (What "added" means per dialect -- Core's added-node list, btcd's
outbound connections dialled with ``onetry`` -- is decided by the RPC session,
see :class:`~bitcoin_controller.controller.rpc.NodeSession`.)  The calls for
different nodes run in parallel on a bounded thread pool, each with the RPC
client's connect and read timeouts and total deadline, and the whole step
has a deadline too (``timeout``): a node still busy when it passes is
reported as failed and the sync moves on, while the thread still talking to
it stops at its next call.  A slow daemon therefore holds a worker for at
most that long, far below what the /healthz check calls stuck, and the
other networks' syncs go on.

Everything a daemon reports is checked before it can reach the status
(:func:`~.status.checked_height`, :func:`~.status.checked_block_hash`):
the API server rejects a status that breaks the CRD's schema, and the
network's whole status would go stale.  Addresses are joined to ports with
IPv6 in brackets (``[fd00::b]:18444``), the form both daemons expect.

Cost per sync, for ``n`` ready nodes: 3 read calls per node
(``getblockchaininfo``, the added-node list -- ``getaddednodeinfo`` on Core,
``getpeerinfo`` on btcd -- and ``getpeerinfo``), i.e. ``3n`` round trips in
steady state, spread over the pool; plus one ``addnode`` per missing or stale
address, at most ``n - 1`` per node when a network forms.

btcd also has a sync rule that can leave a connected node behind for good:
while its tip is older than 24 hours (on regtest: while it is still at the
genesis block) it takes blocks only from one chosen *sync peer*, picked when
peers connect.  If that peer is another node at the same height -- typical
after a pod was re-created, when the survivors pick each other -- a block
mined elsewhere is announced to the node and ignored.  btcd's own stall
handler reconsiders after three minutes at the earliest.  So a node that has
stayed behind the network's best height, at one height, for
:data:`STALL_AFTER` seconds is asked to drop its sync peer
(``NodeRPC.restart_stalled_sync``); btcd then picks another and asks it for
blocks at once.  That is not always enough: on regtest btcd only picks a sync
peer whose address is 127.0.0.1, which on a cluster with real pod IPs is
nobody.  So the stalled node is also handed the blocks it misses over RPC
(``getblockhash``/``getblock <hash> 0`` on the best node, ``submitblock`` on
the stalled one), from the last block both agree on, at most
:data:`RELAY_MAX` blocks per sync.  Once its tip is recent, btcd takes new
blocks from any peer and P2P relay carries on.  Bitcoin Core downloads from
whichever peer announces a block, so it needs neither -- but the relay is
harmless there.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass, field
from typing import Protocol

from ..bitcoin.results import BlockchainInfo, PeerInfo
from .status import NodeObservation, canonical_ip, checked_block_hash, checked_height, host_port

__all__ = [
    "NodeRPC",
    "MeshMemory",
    "MeshResult",
    "STALL_AFTER",
    "RELAY_MAX",
    "normalise_address",
    "reconcile_mesh",
    "relay_blocks",
    "MeshDeadlineExceeded",
    "DEFAULT_MESH_TIMEOUT",
]

#: Seconds the mesh step of one sync may take in all (see the module docstring).
DEFAULT_MESH_TIMEOUT = 30.0

#: Seconds a node may stay behind the best height without moving before its
#: block sync counts as stalled.  Blocks cross a healthy mesh in well under a
#: second, and a node that is catching up moves on every sync.
STALL_AFTER = 5.0
#: Most blocks handed to one stalled node over RPC in one sync (the next sync
#: carries on), so one sync stays short however far behind a node is.
RELAY_MAX = 200


class NodeRPC(Protocol):
    """The RPC calls the mesh needs from one node, dialect already handled."""

    def get_blockchain_info(self) -> BlockchainInfo: ...

    def get_peer_info(self) -> list[PeerInfo]: ...

    def added_node_addresses(self) -> list[str]: ...

    def add_node(self, address: str) -> None: ...

    def remove_node(self, address: str) -> None: ...

    def restart_stalled_sync(self) -> bool:
        """Make the daemon choose a new peer to download blocks from; True if it had one to drop."""
        ...

    def block_hash(self, height: int) -> str: ...

    def raw_block(self, block_hash: str) -> str: ...

    def submit_block(self, block_hex: str) -> str | None: ...


def split_address(address: str) -> tuple[str, int | None]:
    """``host`` and ``port`` of ``ip``, ``ip:port``, ``[v6]:port`` or a bare IPv6 address."""
    if address.startswith("["):
        host, _, rest = address[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif address.count(":") == 1:
        host, _, port = address.partition(":")
    else:  # bare IPv4, bare IPv6 or a name
        host, port = address, ""
    return host, int(port) if port.isdigit() and len(port) <= 5 else None


def normalise_address(address: str, default_port: int) -> str:
    """``ip`` or ``ip:port`` (or ``[v6]:port``) as ``ip:port``, IPv6 bracketed and compressed."""
    host, port = split_address(address)
    return host_port(canonical_ip(host), default_port if port is None else port)


def _is_ip_port(address: str) -> bool:
    host, port = split_address(address)
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return port is not None


class MeshDeadlineExceeded(Exception):
    """The mesh step's deadline passed before this node's calls were done."""

    def __init__(self, timeout: float) -> None:
        super().__init__(f"node did not answer within the mesh step's deadline of {timeout:g}s")


class MeshMemory:
    """What the controller remembers between syncs about each daemon instance.

    An instance is one run of a daemon (pod UID and restart count); the
    memory is how long the instance has been stuck behind the network (see
    the module docstring).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        # instance -> (height, when first seen behind the network at that height)
        self._behind: dict[str, tuple[int, float]] = {}

    def behind_since(self, instance: str, height: int, now: float) -> float:
        """When ``instance`` was first seen behind the network at ``height`` (``now`` if only now)."""
        with self._lock:
            seen = self._behind.get(instance)
            if seen is None or seen[0] != height:
                self._behind[instance] = (height, now)
                return now
            return seen[1]

    def caught_up(self, instance: str) -> None:
        """Forget that ``instance`` was behind (it caught up, or its sync was just restarted)."""
        with self._lock:
            self._behind.pop(instance, None)

    def retain(self, instances: Iterable[str]) -> None:
        """Drop memories of daemon instances that no longer exist."""
        keep = set(instances)
        with self._lock:
            for instance in list(self._behind):
                if instance not in keep:
                    del self._behind[instance]


@dataclass
class MeshResult:
    added: int
    removed: int
    errors: list[str]
    #: Ordinals of nodes whose stalled block sync was restarted.
    sync_restarted: list[int] = field(default_factory=list)
    #: Blocks handed to stalled nodes over RPC in this sync.
    blocks_relayed: int = 0


class _Deadline:
    """The mesh step's deadline on the monotonic clock (``None``: no deadline)."""

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.at = None if timeout is None else time.monotonic() + timeout

    def remaining(self) -> float | None:
        return None if self.at is None else max(0.0, self.at - time.monotonic())

    def check(self) -> None:
        if self.at is not None and time.monotonic() >= self.at:
            raise MeshDeadlineExceeded(self.timeout or 0.0)


def _observe(
    node: NodeObservation,
    rpc: NodeRPC,
    wanted: set[str],
    p2p_port: int,
    deadline: _Deadline,
) -> None:
    """Read one node and bring its added-node list to ``wanted``; fills ``node``.

    ``node`` is this call's own copy (see :func:`reconcile_mesh`), so a call
    that outlives the mesh deadline cannot change what the sync reports.
    """
    deadline.check()
    info = rpc.get_blockchain_info()
    node.blocks = checked_height(info.blocks)
    node.best_block_hash = checked_block_hash(info.best_block_hash)
    own = host_port(node.ip, p2p_port)
    deadline.check()
    reported = rpc.added_node_addresses()
    present = {normalise_address(a, p2p_port): a for a in reported if isinstance(a, str)}
    for address in sorted(wanted - present.keys() - {own}):
        deadline.check()
        rpc.add_node(address)
        node.added.append(address)
    # The controller owns its daemons' added-node lists: anything on the list
    # that is not a ready peer is a node that was deleted, re-created with a
    # new IP, or scaled away.
    for address in sorted(present.keys() - wanted - {own}):
        deadline.check()
        rpc.remove_node(present[address])  # as reported: Core removes by exact string
        # Named in an Event: a daemon's entry that is no IP:port is not quoted.
        node.removed.append(address if _is_ip_port(address) else "<unrecognised entry>")
    deadline.check()
    peers = rpc.get_peer_info()
    node.peers = len(peers)
    for peer in peers:
        if not isinstance(peer.address, str):
            continue
        if peer.inbound:
            node.inbound_peer_ips.add(canonical_ip(split_address(peer.address)[0]))
        else:
            node.outbound_peers.add(normalise_address(peer.address, p2p_port))


def _private_copy(node: NodeObservation) -> NodeObservation:
    return dataclasses.replace(node, added=[], removed=[], outbound_peers=set(), inbound_peer_ips=set())


def _merge(node: NodeObservation, probe: NodeObservation, complete: bool) -> None:
    node.added.extend(probe.added)
    node.removed.extend(probe.removed)
    if complete:
        node.blocks = probe.blocks
        node.best_block_hash = probe.best_block_hash
        node.peers = probe.peers
        node.outbound_peers = probe.outbound_peers
        node.inbound_peer_ips = probe.inbound_peer_ips


def reconcile_mesh(
    nodes: list[NodeObservation],
    instances: dict[int, str],
    connect: Callable[[NodeObservation], NodeRPC],
    executor: Executor,
    p2p_port: int,
    memory: MeshMemory,
    describe_error: Callable[[BaseException], str] = str,
    *,
    now: float | None = None,
    stall_after: float = STALL_AFTER,
    timeout: float | None = None,
) -> MeshResult:
    """Read every ready node and connect the ready nodes to each other.

    ``instances`` maps ordinal to a daemon-instance id for :class:`MeshMemory`.
    A node whose RPC fails -- or whose session cannot even be opened, e.g.
    for a bad pinned certificate -- gets ``rpc_error`` set; the others are
    still read and connected, and the errors are returned for the sync to
    report.  ``timeout`` bounds the whole step in seconds (see the module
    docstring).  With ``now`` (the controller clock's monotonic seconds),
    nodes stuck behind the best height for ``stall_after`` seconds get their
    block sync restarted (see the module docstring); without it that step is
    skipped.
    """
    deadline = _Deadline(timeout)
    ready = [n for n in nodes if n.pod_ready and n.ip]
    wanted_all = {host_port(n.ip, p2p_port) for n in ready}
    futures: dict[int, tuple[Future, NodeObservation]] = {}
    sessions: dict[int, NodeRPC] = {}
    errors: list[str] = []

    def fail(node: NodeObservation, err: BaseException) -> None:
        node.rpc_error = describe_error(err)
        errors.append(f"node {node.ordinal}: {node.rpc_error}")

    for node in ready:
        wanted = wanted_all - {host_port(node.ip, p2p_port)}
        try:
            sessions[node.ordinal] = connect(node)
        except Exception as err:  # a session that cannot open is this node's RPC failure
            fail(node, err)
            continue
        probe = _private_copy(node)
        futures[node.ordinal] = (
            executor.submit(_observe, probe, sessions[node.ordinal], wanted, p2p_port, deadline),
            probe,
        )
    wait([f for f, _ in futures.values()], timeout=deadline.remaining())
    for node in ready:
        if node.ordinal not in futures:
            continue
        future, probe = futures[node.ordinal]
        if not future.done():
            future.cancel()  # still queued behind other networks' calls: never start it
            fail(node, MeshDeadlineExceeded(timeout or 0.0))
            continue
        try:
            future.result()
        except Exception as err:  # each node's failure is reported, the others still count
            _merge(node, probe, complete=False)
            fail(node, err)
        else:
            _merge(node, probe, complete=True)
    restarted: list[int] = []
    relayed = 0
    if now is not None:
        restarted, relayed = _help_stalled_nodes(
            ready, instances, sessions, memory, now, stall_after, errors, describe_error, deadline
        )
    memory.retain(instances.values())
    return MeshResult(
        added=sum(len(n.added) for n in nodes),
        removed=sum(len(n.removed) for n in nodes),
        errors=errors,
        sync_restarted=restarted,
        blocks_relayed=relayed,
    )


def _help_stalled_nodes(
    ready: list[NodeObservation],
    instances: dict[int, str],
    sessions: dict[int, NodeRPC],
    memory: MeshMemory,
    now: float,
    stall_after: float,
    errors: list[str],
    describe_error: Callable[[BaseException], str],
    deadline: _Deadline | None = None,
) -> tuple[list[int], int]:
    """Restart the block sync of nodes that stayed behind the best height too long,
    and hand them the blocks they miss (see the module docstring)."""
    read = [n for n in ready if n.rpc_error is None and n.blocks is not None]
    if not read:
        return [], 0
    source = max(read, key=lambda n: n.blocks or 0)
    best = source.blocks or 0
    restarted, relayed = [], 0
    for node in read:
        instance = instances.get(node.ordinal, node.pod_name)
        if node.blocks is None or node.blocks >= best:
            memory.caught_up(instance)
            continue
        if now - memory.behind_since(instance, node.blocks, now) < stall_after:
            continue
        # Whatever happens, give the node a full period before judging it again.
        memory.caught_up(instance)
        try:
            if deadline is not None:
                deadline.check()
            if sessions[node.ordinal].restart_stalled_sync():
                restarted.append(node.ordinal)
            relayed += relay_blocks(
                sessions[source.ordinal], sessions[node.ordinal], node.blocks, best, deadline
            )
        except Exception as err:  # reported like any other RPC failure of this node
            node.rpc_error = describe_error(err)
            errors.append(f"node {node.ordinal}: {node.rpc_error}")
    return restarted, relayed


def relay_blocks(
    source: NodeRPC,
    target: NodeRPC,
    target_height: int,
    best_height: int,
    deadline: _Deadline | None = None,
) -> int:
    """Hand ``target`` the blocks of ``source``'s best chain it lacks; return how many.

    Starts after the last height at which both nodes have the same block, so
    a target on a short fork of its own gets the best chain's branch and
    reorganises onto it.  At most :data:`RELAY_MAX` blocks per call.
    """
    common = min(target_height, best_height)
    floor = max(0, common - RELAY_MAX)
    while common > floor and source.block_hash(common) != target.block_hash(common):
        if deadline is not None:
            deadline.check()
        common -= 1
    sent = 0
    for height in range(common + 1, min(best_height, common + RELAY_MAX) + 1):
        if deadline is not None:
            deadline.check()
        target.submit_block(source.raw_block(source.block_hash(height)))
        sent += 1
    return sent
