"""Names under which ``BitcoinNetwork`` v1 is served (Go: ``v1/register.go``).

Go's ``register.go`` declares ``SchemeGroupVersion`` and adds the types to a
``runtime.Scheme`` so that typed clients can encode and decode them.  Objects
here travel as plain dicts, so registering means: the constants below, and
the :data:`RESOURCE` entry, which the clientsets' scheme
(``bitcoin_controller.clientgo.kubernetes.scheme.BITCOIN_NETWORKS``) must
equal -- the API types import only apimachinery, never the clientset.
``manifests/crd.yaml`` must agree with every name here; a unit test checks it.
"""

from __future__ import annotations

from ....apimachinery.schema import ResourceInfo
from ..register import GROUP_NAME

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
]

GROUP = GROUP_NAME
VERSION = "v1"
SCHEME_GROUP_VERSION = f"{GROUP}/{VERSION}"
API_VERSION = SCHEME_GROUP_VERSION  # what objects carry in ``apiVersion``
KIND = "BitcoinNetwork"
LIST_KIND = "BitcoinNetworkList"
PLURAL = "bitcoinnetworks"
SINGULAR = "bitcoinnetwork"
SHORT_NAME = "btcnet"
CRD_NAME = f"{PLURAL}.{GROUP}"  # a CRD's name must be <plural>.<group>

RESOURCE = ResourceInfo(GROUP, VERSION, PLURAL, KIND)


def kind(name: str) -> str:
    """A kind qualified by this group, as Go's ``Kind()`` formats a ``GroupKind``."""
    return f"{name}.{GROUP}"


def resource(name: str) -> str:
    """A resource qualified by this group (Go's ``Resource()``), as error messages
    name it: ``bitcoinnetworks.bitcoincontroller.dev``."""
    return f"{name}.{GROUP}"
