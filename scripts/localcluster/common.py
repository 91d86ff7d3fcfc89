"""Names and constants every part of the local cluster shares, and ClusterError."""

from __future__ import annotations

NODE_NAME = "kwok-node-0"
NODE_IP = "127.0.0.1"
SERVICE_CIDR = "10.0.0.0/24"
ADMIN_USER = "local-admin"

BACKENDS = ("node", "kwok")
CONTROL_PLANE = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"]
# start order per backend; stop order is the reverse
BACKEND_COMPONENTS = {
    "kwok": ["kwok", "pod-runner"],
    "node": ["containerd", "kubelet", "kube-proxy"],
}
COMPONENTS = CONTROL_PLANE + BACKEND_COMPONENTS["kwok"]  # the kwok backend's, as before
BACKEND_BINARIES = {
    "kwok": ["kwok", "btcd", "btcctl"],
    "node": ["kubelet", "kube-proxy", "btcd", "btcctl"],
}
BINARIES = CONTROL_PLANE + BACKEND_BINARIES["kwok"]


class ClusterError(Exception):
    pass
