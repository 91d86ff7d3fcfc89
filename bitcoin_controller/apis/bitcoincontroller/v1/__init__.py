"""``bitcoincontroller.dev/v1``: the ``BitcoinNetwork`` custom resource.

* :mod:`.register` -- group, version, kind and resource names (``register.go``);
* :mod:`.types` -- spec and status dataclasses with exact dict round trips
  (``types.go``);
* :mod:`.validation` -- what the CRD schema cannot check.

The schema itself is ``manifests/crd.yaml``.
"""

from .register import (
    API_VERSION,
    CRD_NAME,
    GROUP,
    KIND,
    LIST_KIND,
    PLURAL,
    RESOURCE,
    SCHEME_GROUP_VERSION,
    SHORT_NAME,
    SINGULAR,
    VERSION,
    kind,
    resource,
)
from .types import (
    BC_RPC_PASSWORD,
    BC_RPC_USER,
    CONDITION_FALSE,
    CONDITION_TRUE,
    CONDITION_UNKNOWN,
    CONNECTED,
    DEFAULT_IMPLEMENTATION,
    DEFAULT_SECRET,
    IMPLEMENTATION_BITCOIND,
    IMPLEMENTATION_BTCD,
    IMPLEMENTATIONS,
    MAX_NAME_LENGTH,
    MAX_NODES,
    MIN_NODES,
    READY,
    SYNCED,
    BitcoinNetwork,
    BitcoinNetworkNode,
    BitcoinNetworkSpec,
    BitcoinNetworkStatus,
    Condition,
    ResourceRequirements,
)
from .validation import parse_quantity, validate, validate_name

__all__ = [
    "GROUP",
    "VERSION",
    "SCHEME_GROUP_VERSION",
    "API_VERSION",
    "KIND",
    "LIST_KIND",
    "PLURAL",
    "SINGULAR",
    "SHORT_NAME",
    "CRD_NAME",
    "RESOURCE",
    "kind",
    "resource",
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
    "validate",
    "validate_name",
    "parse_quantity",
]
