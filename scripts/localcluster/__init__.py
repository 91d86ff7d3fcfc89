"""A real (small) Kubernetes control plane on this machine, for development and tests.

Components (built by ``scripts/build-local-cluster`` from their Go modules): etcd,
kube-apiserver, kube-controller-manager, kube-scheduler, kwok (one fake node) and
our own pod runner, which starts the containers of pods bound to the kwok node as
local processes (btcd images run the locally built ``btcd``).

Use from Python::

    from localcluster import LocalCluster
    cluster = LocalCluster("/path/to/repo")   # state lives in <repo>/.local-cluster
    cluster.up()
    cluster.kubeconfig                       # path of the admin kubeconfig

The package deliberately uses the standard library only, so the ``scripts/local-cluster``
command also works outside the project venv. See docs/local-cluster.md.
"""

from .cluster import ClusterError, LocalCluster

__all__ = ["ClusterError", "LocalCluster"]
