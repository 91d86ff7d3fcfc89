"""The typed clientset, mirroring ``k8s.io/client-go/kubernetes``.

* :class:`Clientset` (``kubernetes.NewForConfig(config)``) talks to a real
  API server over :mod:`bitcoin_controller.clientgo.rest`;
* :class:`bitcoin_controller.clientgo.kubernetes.fake.Clientset`
  (``fake.NewSimpleClientset(objects...)``) records actions and serves them
  from an in-memory object tracker, for unit tests.

Both implement :class:`Interface`: ``cs.core_v1().pods(ns).get(name)``,
``cs.apps_v1().stateful_sets(ns)``, ``cs.bitcoincontroller_v1().bitcoin_networks(ns)``...
Patch types are in :mod:`bitcoin_controller.apimachinery.types`, resources in
:mod:`bitcoin_controller.apimachinery.schema`, as in Go.
"""

from .clientset import NAMESPACE_ALL, Interface, ResourceClient
from .rest_clientset import Clientset, RESTResourceClient, new_for_config

__all__ = [
    "NAMESPACE_ALL",
    "Interface",
    "ResourceClient",
    "Clientset",
    "RESTResourceClient",
    "new_for_config",
]
