"""The objects a BitcoinNetwork owns, built as plain dicts.

Pure functions: given the network and what the controller decided (image,
TLS), they return the desired Service, StatefulSet and TLS Secret.  The sync
handler compares them with what the informers' caches hold and writes only
the difference (see :func:`owned_fields_differ`).

Names follow the original controller: ``<network>-svc`` for the headless
Service, ``<network>-sts`` for the StatefulSet (pods ``<network>-sts-<i>``),
and ``<network>-rpc-tls`` for btcd's RPC certificate Secret.
"""

from __future__ import annotations

from typing import Any

from ..apimachinery import metav1
from ..apis.bitcoincontroller.v1 import parse_quantity
from ..clientgo.kubernetes import scheme
from .implementations import CONF_DIR, CONF_VOLUME, DATA_DIR, P2P_PORT, TLS_DIR, Implementation

__all__ = [
    "SERVICE_SUFFIX",
    "STATEFULSET_SUFFIX",
    "TLS_SECRET_SUFFIX",
    "NETWORK_LABEL",
    "NODE_APP_NAME",
    "NODE_POD_SELECTOR",
    "service_name",
    "statefulset_name",
    "tls_secret_name",
    "pod_name",
    "ordinal_of",
    "selector_labels",
    "common_labels",
    "owner_reference",
    "new_service",
    "new_statefulset",
    "new_tls_secret",
    "owned_fields_differ",
]

SERVICE_SUFFIX = "-svc"
STATEFULSET_SUFFIX = "-sts"
TLS_SECRET_SUFFIX = "-rpc-tls"

#: Label every owned object carries with the network's name, so a person can
#: ``kubectl get all -l bitcoincontroller.dev/network=<name>``.
NETWORK_LABEL = "bitcoincontroller.dev/network"

#: ``app.kubernetes.io/name`` of every node pod; the controller caches only such pods.
NODE_APP_NAME = "bitcoin-node"
NODE_POD_SELECTOR = f"app.kubernetes.io/name={NODE_APP_NAME}"

_CONTAINER = "node"
_UID = 10001  # numeric non-root user of the node images


def service_name(network_name: str) -> str:
    return network_name + SERVICE_SUFFIX


def statefulset_name(network_name: str) -> str:
    return network_name + STATEFULSET_SUFFIX


def tls_secret_name(network_name: str) -> str:
    return network_name + TLS_SECRET_SUFFIX


def pod_name(network_name: str, ordinal: int) -> str:
    return f"{statefulset_name(network_name)}-{ordinal}"


def ordinal_of(pod: dict[str, Any], network_name: str) -> int | None:
    """The StatefulSet ordinal in a pod's name, or None if it isn't one of ours."""
    prefix = statefulset_name(network_name) + "-"
    name = metav1.get_name(pod)
    if not name.startswith(prefix):
        return None
    suffix = name[len(prefix):]
    return int(suffix) if suffix.isdigit() else None


def selector_labels(network_name: str) -> dict[str, str]:
    """The labels that select a network's pods (immutable once the StatefulSet exists)."""
    return {"app.kubernetes.io/name": NODE_APP_NAME, "app.kubernetes.io/instance": network_name}


def common_labels(network_name: str, implementation: str) -> dict[str, str]:
    return {
        **selector_labels(network_name),
        "app.kubernetes.io/component": implementation,
        "app.kubernetes.io/part-of": "bitcoin-network",
        "app.kubernetes.io/managed-by": "bitcoin-controller",
        NETWORK_LABEL: network_name,
    }


def owner_reference(network: dict[str, Any]) -> dict[str, Any]:
    info = scheme.BITCOIN_NETWORKS
    return metav1.new_controller_ref(network, info.api_version, info.kind)


def _object_meta(network: dict[str, Any], name: str, implementation: str) -> dict[str, Any]:
    net_name = metav1.get_name(network)
    return {
        "name": name,
        "namespace": metav1.get_namespace(network),
        "labels": common_labels(net_name, implementation),
        "ownerReferences": [owner_reference(network)],
    }


def new_service(network: dict[str, Any], impl: Implementation) -> dict[str, Any]:
    """The headless Service that gives each node a stable DNS name.

    ``publishNotReadyAddresses`` makes those names resolvable before a node is
    ready, so peers can be dialled while the mesh is still forming.
    """
    net_name = metav1.get_name(network)
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _object_meta(network, service_name(net_name), impl.name),
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": selector_labels(net_name),
            "ports": [
                {"name": "p2p", "port": P2P_PORT, "targetPort": "p2p", "protocol": "TCP"},
                {"name": "rpc", "port": impl.rpc_port, "targetPort": "rpc", "protocol": "TCP"},
            ],
        },
    }


def new_statefulset(
    network: dict[str, Any],
    impl: Implementation,
    *,
    replicas: int,
    image: str,
    secret_name: str,
    resources: dict[str, Any] | None,
    config_secret: str | None = None,
) -> dict[str, Any]:
    """The StatefulSet of bitcoin daemons.

    ``Parallel`` pod management starts all nodes at once: nodes don't depend on
    each other to start, and the controller connects them as they become
    ready.  Chain data lives in an ``emptyDir``: regtest chains are disposable.
    btcd gets the credential Secret as environment variables, required
    (``optional: false``) so the kubelet never starts a daemon with unknown
    credentials; bitcoind gets ``config_secret`` (its rendered bitcoin.conf,
    see nodeconfig) as a read-only volume instead, equally required, and
    never sees the credentials.
    """
    net_name = metav1.get_name(network)
    labels = common_labels(net_name, impl.name)
    volumes: list[dict[str, Any]] = [{"name": "data", "emptyDir": {}}]
    mounts: list[dict[str, Any]] = [{"name": "data", "mountPath": DATA_DIR}]
    if impl.uses_tls:
        volumes.append(
            {"name": "rpc-tls", "secret": {"secretName": tls_secret_name(net_name), "defaultMode": 0o440}}
        )
        mounts.append({"name": "rpc-tls", "mountPath": TLS_DIR, "readOnly": True})
    if config_secret:
        volumes.append({"name": CONF_VOLUME, "secret": {"secretName": config_secret, "defaultMode": 0o440}})
        mounts.append({"name": CONF_VOLUME, "mountPath": CONF_DIR, "readOnly": True})
    container: dict[str, Any] = {
        "name": _CONTAINER,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": impl.args(),
        "env": [{"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}}],
        "ports": [
            {"name": "p2p", "containerPort": P2P_PORT, "protocol": "TCP"},
            {"name": "rpc", "containerPort": impl.rpc_port, "protocol": "TCP"},
        ],
        "readinessProbe": impl.readiness_probe(),
        "volumeMounts": mounts,
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if impl.credentials_in_env:
        container["envFrom"] = [{"secretRef": {"name": secret_name, "optional": False}}]
    container["command"] = impl.command()
    if resources:
        container["resources"] = metav1.deep_copy(resources)
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": _object_meta(network, statefulset_name(net_name), impl.name),
        "spec": {
            "replicas": replicas,
            "serviceName": service_name(net_name),
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": selector_labels(net_name)},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    "terminationGracePeriodSeconds": 10,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": _UID,
                        "runAsGroup": _UID,
                        "fsGroup": _UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": volumes,
                },
            },
        },
    }


def new_tls_secret(network: dict[str, Any], cert_pem: bytes, key_pem: bytes) -> dict[str, Any]:
    """The ``kubernetes.io/tls`` Secret that btcd serves RPC with."""
    import base64

    net_name = metav1.get_name(network)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/tls",
        "metadata": _object_meta(network, tls_secret_name(net_name), "btcd"),
        "data": {
            "tls.crt": base64.b64encode(cert_pem).decode("ascii"),
            "tls.key": base64.b64encode(key_pem).decode("ascii"),
        },
    }


# -- comparing desired with actual -------------------------------------------------

def _same_quantity(a: Any, b: Any) -> bool:
    # The API server rewrites quantities into canonical form (0.5 -> 500m):
    # comparing strings would report drift forever.
    try:
        return parse_quantity(a) == parse_quantity(b)
    except ValueError:
        return a == b


def owned_fields_differ(desired: Any, actual: Any, path: str = "") -> str | None:
    """Where ``actual`` departs from the fields ``desired`` sets, or None.

    The API server adds defaults (``terminationMessagePath``, probe
    thresholds, ``protocol``...) that the controller never set; those are not
    drift.  So every key the controller sets must hold the same value, while
    keys only the server added are ignored.  Lists must match element by
    element and in length, so an extra container or env var *is* drift.
    Quantities under ``resources`` compare by value.  Returns the path of the
    first difference, for the log line and the event.
    """
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return path or "."
        for key, want in desired.items():
            sub = f"{path}.{key}" if path else key
            if key not in actual:
                if want in ({}, [], None, False):
                    continue  # the server drops empty values
                return sub
            if path.endswith(("limits", "requests")):
                if not _same_quantity(want, actual[key]):
                    return sub
                continue
            diff = owned_fields_differ(want, actual[key], sub)
            if diff:
                return diff
        return None
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return path or "."
        for i, (want, got) in enumerate(zip(desired, actual, strict=True)):
            diff = owned_fields_differ(want, got, f"{path}[{i}]")
            if diff:
                return diff
        return None
    if desired != actual:
        return path or "."
    return None
