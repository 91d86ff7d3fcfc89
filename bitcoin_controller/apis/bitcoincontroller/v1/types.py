"""``BitcoinNetwork`` v1: the desired network (spec) and what was observed (status).

Go's ``types.go`` declares structs with JSON tags and lets code generators
write deep-copy functions.  Objects in this code base travel as decoded-JSON
dicts, so these dataclasses are a *view* onto such a dict, built with
``from_dict`` and turned back with ``to_dict``:

* **Round trips are exact.**  ``to_dict(from_dict(d)) == d`` for every object
  the API server accepts: a field that was absent stays absent (optional
  fields are ``None`` when absent, like Go's pointer fields), and keys this
  version does not know are kept in ``extra`` and written back.  Keeping
  them matters for status: an older controller that replaced status with
  only the fields it knows would erase what a newer one wrote.
* **Defaults are applied on the way in**, as the API server applies the
  schema's defaults: ``spec.secret`` and ``spec.implementation``.  Objects
  read from the API already carry them; objects made by hand or by a fake
  clientset get them here.
* **Nothing is shared.**  ``from_dict`` and ``to_dict`` copy nested data, so
  editing a view can never change an informer's cached object.
* **``BitcoinNetworkSpec.from_dict`` never raises** on a missing or badly
  typed value; the value is kept so that :func:`~.validation.validate` can
  name it in an Event (the schema guards the API server, but fake clientsets
  and hand-made objects skip it).

Field names follow the JSON (``dnsName``) in ``to_dict`` and PEP 8
(``dns_name``) on the dataclasses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ....apimachinery.metav1 import deep_copy
from .register import API_VERSION, KIND

__all__ = [
    "BitcoinNetwork",
    "BitcoinNetworkSpec",
    "BitcoinNetworkStatus",
    "BitcoinNetworkNode",
    "Condition",
    "ResourceRequirements",
    "DEFAULT_SECRET",
    "IMPLEMENTATION_BITCOIND",
    "IMPLEMENTATION_BTCD",
    "IMPLEMENTATIONS",
    "DEFAULT_IMPLEMENTATION",
    "MIN_NODES",
    "MAX_NODES",
    "MAX_NAME_LENGTH",
    "READY",
    "CONNECTED",
    "SYNCED",
    "CONDITION_TRUE",
    "CONDITION_FALSE",
    "CONDITION_UNKNOWN",
    "BC_RPC_USER",
    "BC_RPC_PASSWORD",
]

DEFAULT_SECRET = "bitcoin-default-secret"
"""The Secret a network uses when ``spec.secret`` is not given."""

IMPLEMENTATION_BITCOIND = "bitcoind"
IMPLEMENTATION_BTCD = "btcd"
IMPLEMENTATIONS = (IMPLEMENTATION_BITCOIND, IMPLEMENTATION_BTCD)
DEFAULT_IMPLEMENTATION = IMPLEMENTATION_BITCOIND

MIN_NODES = 0
MAX_NODES = 32
"""Every node is meshed with every other and polled over RPC on each sync, so
work grows with the square of the size; 32 keeps one sync bounded."""

MAX_NAME_LENGTH = 48
"""Longest network name: ``<name>-sts`` must fit a StatefulSet's 52 characters."""

# Condition types.  All three True means the network is usable.
READY = "Ready"  # every wanted node runs and answers RPC
CONNECTED = "Connected"  # the peer graph joins all ready nodes
SYNCED = "Synced"  # all ready nodes have the same best block

CONDITION_TRUE = "True"
CONDITION_FALSE = "False"
CONDITION_UNKNOWN = "Unknown"

# Keys of the credentials Secret; the pods get them as environment variables
# of the same names.
BC_RPC_USER = "BC_RPC_USER"
BC_RPC_PASSWORD = "BC_RPC_PASSWORD"

ResourceRequirements = dict[str, Any]
"""A container's ``resources`` (``limits``/``requests`` maps of quantities),
passed through to the node containers unchanged, as ``corev1.ResourceRequirements``."""


def _copy_extra(data: Mapping[str, Any], known: tuple[str, ...]) -> dict[str, Any]:
    return {k: deep_copy(v) for k, v in data.items() if k not in known}


def _put(out: dict[str, Any], key: str, value: Any) -> None:
    # Optional fields: absent stays absent.
    if value is not None:
        out[key] = value


@dataclass
class BitcoinNetworkSpec:
    """What the user wants: how many nodes, of which implementation, with which Secret.

    ``nodes`` is required by the schema; ``from_dict`` keeps whatever it finds
    (possibly ``None``) and :func:`~.validation.validate` reports it.
    """

    nodes: int
    secret: str = DEFAULT_SECRET
    implementation: str = DEFAULT_IMPLEMENTATION
    image: str | None = None
    resources: ResourceRequirements | None = None
    #: Bitcoin Core release (bitcoind only): picks the default image's tag and
    #: the config rules; with ``image`` set it says which release that image holds.
    version: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    _KEYS = ("nodes", "secret", "implementation", "image", "resources", "version")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BitcoinNetworkSpec:
        """Read a ``spec`` dict, applying the schema's defaults to absent fields."""
        data = data or {}
        secret = data.get("secret")
        implementation = data.get("implementation")
        return cls(
            nodes=data.get("nodes"),  # type: ignore[arg-type]  # validate() checks it
            secret=DEFAULT_SECRET if secret is None else secret,
            implementation=DEFAULT_IMPLEMENTATION if implementation is None else implementation,
            image=data.get("image"),
            resources=deep_copy(data.get("resources")),
            version=data.get("version"),
            extra=_copy_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "nodes", self.nodes)
        _put(out, "secret", self.secret)
        _put(out, "implementation", self.implementation)
        _put(out, "image", self.image)
        _put(out, "resources", deep_copy(self.resources))
        _put(out, "version", self.version)
        out.update(deep_copy(self.extra))
        return out


@dataclass
class BitcoinNetworkNode:
    """One node in ``status.nodes``: the pod behind a StatefulSet ordinal and
    what its daemon reported (``blocks``, ``bestBlockHash``, ``peers``)."""

    ordinal: int
    ready: bool = False
    ip: str | None = None
    #: The pod's name: ``podName``, and under its former name ``nodeName``
    #: (deprecated, still written and read for clients that know only it).
    pod_name: str | None = None
    dns_name: str | None = None  # <pod>.<headless service>
    blocks: int | None = None
    best_block_hash: str | None = None
    peers: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    _KEYS = ("ordinal", "ready", "ip", "podName", "nodeName", "dnsName", "blocks", "bestBlockHash", "peers")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BitcoinNetworkNode:
        return cls(
            ordinal=data.get("ordinal"),  # type: ignore[arg-type]
            ready=data.get("ready"),  # type: ignore[arg-type]
            ip=data.get("ip"),
            pod_name=data.get("podName") or data.get("nodeName"),
            dns_name=data.get("dnsName"),
            blocks=data.get("blocks"),
            best_block_hash=data.get("bestBlockHash"),
            peers=data.get("peers"),
            extra=_copy_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "ordinal", self.ordinal)
        _put(out, "ready", self.ready)
        _put(out, "ip", self.ip)
        _put(out, "podName", self.pod_name)
        _put(out, "nodeName", self.pod_name)
        _put(out, "dnsName", self.dns_name)
        _put(out, "blocks", self.blocks)
        _put(out, "bestBlockHash", self.best_block_hash)
        _put(out, "peers", self.peers)
        out.update(deep_copy(self.extra))
        return out


@dataclass
class Condition:
    """One entry of ``status.conditions``, shaped like ``metav1.Condition``.

    ``last_transition_time`` is the RFC 3339 string the API carries; it moves
    only when ``status`` changes, so that "since when" stays meaningful.
    ``observed_generation`` says which spec the condition was computed for.
    """

    type: str
    status: str
    reason: str
    message: str
    last_transition_time: str
    observed_generation: int | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    _KEYS = ("type", "status", "reason", "message", "lastTransitionTime", "observedGeneration")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Condition:
        return cls(
            type=data.get("type"),  # type: ignore[arg-type]
            status=data.get("status"),  # type: ignore[arg-type]
            reason=data.get("reason"),  # type: ignore[arg-type]
            message=data.get("message"),  # type: ignore[arg-type]
            last_transition_time=data.get("lastTransitionTime"),  # type: ignore[arg-type]
            observed_generation=data.get("observedGeneration"),
            extra=_copy_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "type", self.type)
        _put(out, "status", self.status)
        _put(out, "reason", self.reason)
        _put(out, "message", self.message)
        _put(out, "lastTransitionTime", self.last_transition_time)
        _put(out, "observedGeneration", self.observed_generation)
        out.update(deep_copy(self.extra))
        return out


@dataclass
class BitcoinNetworkStatus:
    """What the controller observed, written through the ``status`` subresource.

    ``rpc_certificate`` is the PEM certificate a btcd network's RPC servers
    present (btcd serves RPC over TLS only).  It is public -- the private key
    stays in a Secret mounted into the pods -- and it is kept here because
    the controller must pin it on every call but is not allowed to read
    arbitrary Secrets, including the ones it creates.
    """

    observed_generation: int | None = None
    ready_nodes: int | None = None
    best_height: int | None = None
    nodes: list[BitcoinNetworkNode] | None = None
    conditions: list[Condition] | None = None
    rpc_certificate: str | None = None
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    _KEYS = (
        "observedGeneration",
        "readyNodes",
        "bestHeight",
        "nodes",
        "conditions",
        "rpcCertificate",
    )

    def condition(self, type_: str) -> Condition | None:
        """The condition of type ``type_``, or ``None`` (Go: ``meta.FindStatusCondition``)."""
        return next((c for c in self.conditions or () if c.type == type_), None)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> BitcoinNetworkStatus:
        data = data or {}
        nodes = data.get("nodes")
        conditions = data.get("conditions")
        return cls(
            observed_generation=data.get("observedGeneration"),
            ready_nodes=data.get("readyNodes"),
            best_height=data.get("bestHeight"),
            nodes=None if nodes is None else [BitcoinNetworkNode.from_dict(n) for n in nodes],
            conditions=(
                None if conditions is None else [Condition.from_dict(c) for c in conditions]
            ),
            rpc_certificate=data.get("rpcCertificate"),
            extra=_copy_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        _put(out, "observedGeneration", self.observed_generation)
        _put(out, "readyNodes", self.ready_nodes)
        _put(out, "bestHeight", self.best_height)
        if self.nodes is not None:
            out["nodes"] = [n.to_dict() for n in self.nodes]
        if self.conditions is not None:
            out["conditions"] = [c.to_dict() for c in self.conditions]
        _put(out, "rpcCertificate", self.rpc_certificate)
        out.update(deep_copy(self.extra))
        return out


@dataclass
class BitcoinNetwork:
    """A regtest network of ``spec.nodes`` Bitcoin daemons, fully meshed.

    ``metadata`` stays a plain dict (the machinery's accessors in
    :mod:`bitcoin_controller.apimachinery.metav1` work on it); ``status`` is
    ``None`` until the controller first writes one.
    """

    spec: BitcoinNetworkSpec
    metadata: dict[str, Any] = field(default_factory=dict)
    status: BitcoinNetworkStatus | None = None
    api_version: str = API_VERSION
    kind: str = KIND
    extra: dict[str, Any] = field(default_factory=dict, repr=False)

    _KEYS = ("apiVersion", "kind", "metadata", "spec", "status")

    @property
    def name(self) -> str:
        return self.metadata.get("name", "")

    @property
    def namespace(self) -> str:
        return self.metadata.get("namespace", "")

    @property
    def generation(self) -> int:
        return self.metadata.get("generation", 0)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BitcoinNetwork:
        """A typed view of a ``BitcoinNetwork`` dict (for instance from a lister)."""
        status = data.get("status")
        return cls(
            api_version=data.get("apiVersion", API_VERSION),
            kind=data.get("kind", KIND),
            metadata=deep_copy(data.get("metadata") or {}),
            spec=BitcoinNetworkSpec.from_dict(data.get("spec")),
            status=None if status is None else BitcoinNetworkStatus.from_dict(status),
            extra=_copy_extra(data, cls._KEYS),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "metadata": deep_copy(self.metadata),
            "spec": self.spec.to_dict(),
        }
        if self.status is not None:
            out["status"] = self.status.to_dict()
        out.update(deep_copy(self.extra))
        return out
