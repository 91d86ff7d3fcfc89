"""A BitcoinNetwork operator written the way Kopf's users write operators: the benchmark's peer.

Same CRD and the same control-plane work as bitcoin-controller -- read the
credential Secret, create the headless Service and the StatefulSet (owned by
the network, via ``kopf.adopt``), keep ``status`` (node list, ready count,
conditions) -- in idiomatic Kopf: decorated handlers, the ``kubernetes``
client for the children, the handler's ``patch`` for the status, a
``kopf.index`` of the node pods and Kopf's own progress storage, retries and
events.  It does not mesh the daemons over RPC: the benchmark compares
control-plane work on ``nodes: 0`` networks.

Not part of the product and not imported by it: it runs in its own venv
(``benchmarks/.venv-kopf``, created by ``benchmarks/bench_peers.py``) with
``kopf`` and ``kubernetes`` from PyPI::

    benchmarks/.venv-kopf/bin/kopf run --standalone --all-namespaces benchmarks/peers/kopf_operator.py
"""

from __future__ import annotations

import datetime
from typing import Any

import kopf
import kubernetes
from kubernetes.client.rest import ApiException

GROUP, VERSION, PLURAL = "bitcoincontroller.dev", "v1", "bitcoinnetworks"
P2P_PORT = 18444
RPC_PORTS = {"bitcoind": 18443, "btcd": 18334}
IMAGES = {"bitcoind": "ghcr.io/bitcoin-controller/bitcoind:30.2", "btcd": "ghcr.io/bitcoin-controller/btcd:v0.24.2"}
NODE_LABELS = {"app.kubernetes.io/name": "bitcoin-node"}


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    kubernetes.config.load_kube_config()
    settings.watching.server_timeout = 300


def _labels(name: str, impl: str) -> dict[str, str]:
    return {**NODE_LABELS, "app.kubernetes.io/instance": name, "app.kubernetes.io/component": impl,
            "app.kubernetes.io/managed-by": "kopf-peer", "bitcoincontroller.dev/network": name}


def _service(name: str, impl: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": f"{name}-svc", "labels": _labels(name, impl)},
        "spec": {
            "clusterIP": "None",
            "publishNotReadyAddresses": True,
            "selector": {**NODE_LABELS, "app.kubernetes.io/instance": name},
            "ports": [{"name": "p2p", "port": P2P_PORT, "targetPort": "p2p"},
                      {"name": "rpc", "port": RPC_PORTS[impl], "targetPort": "rpc"}],
        },
    }


def _statefulset(name: str, impl: str, spec: dict[str, Any]) -> dict[str, Any]:
    labels = _labels(name, impl)
    return {
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": {"name": f"{name}-sts", "labels": labels},
        "spec": {
            "replicas": int(spec.get("nodes", 0)),
            "serviceName": f"{name}-svc",
            "podManagementPolicy": "Parallel",
            "selector": {"matchLabels": {**NODE_LABELS, "app.kubernetes.io/instance": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "automountServiceAccountToken": False,
                    "containers": [{
                        "name": "node",
                        "image": spec.get("image") or IMAGES[impl],
                        "envFrom": [{"secretRef": {"name": spec.get("secret", "bitcoin-default-secret")}}],
                        "ports": [{"name": "p2p", "containerPort": P2P_PORT},
                                  {"name": "rpc", "containerPort": RPC_PORTS[impl]}],
                        "readinessProbe": {"tcpSocket": {"port": "rpc"}, "periodSeconds": 2},
                    }],
                },
            },
        },
    }


def _condition(type_: str, status: str, reason: str, message: str) -> dict[str, str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": now}


@kopf.index("pods", labels=NODE_LABELS)
def nodes_by_network(namespace: str, labels: dict, name: str, status: dict, **_: Any) -> dict:
    """Node pods by (namespace, network): what the status node list is built from."""
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return {(namespace, labels.get("app.kubernetes.io/instance")): {"name": name, "ip": status.get("podIP"),
                                                                    "ready": ready}}


def _status(spec: dict, nodes: list[dict], generation: int) -> dict[str, Any]:
    ready = sum(1 for n in nodes if n["ready"])
    wanted = int(spec.get("nodes", 0))
    return {
        "observedGeneration": generation,
        "readyNodes": ready,
        "nodes": sorted(nodes, key=lambda n: n["name"]),
        "conditions": [_condition("Ready", "True" if ready == wanted else "False",
                                  "AllNodesReady" if ready == wanted else "NodesNotReady",
                                  f"{ready}/{wanted} nodes ready")],
    }


@kopf.on.resume(GROUP, VERSION, PLURAL)
@kopf.on.create(GROUP, VERSION, PLURAL)
@kopf.on.update(GROUP, VERSION, PLURAL, field="spec")
def reconcile(spec: dict, name: str, namespace: str, body: Any, meta: dict, patch: kopf.Patch,
              nodes_by_network: kopf.Index, logger: Any, **_: Any) -> None:
    impl = spec.get("implementation", "bitcoind")
    if impl not in RPC_PORTS:
        raise kopf.PermanentError(f"unknown implementation {impl!r}")
    core, apps = kubernetes.client.CoreV1Api(), kubernetes.client.AppsV1Api()
    try:  # the credentials must exist before any node may start
        core.read_namespaced_secret(spec.get("secret", "bitcoin-default-secret"), namespace)
    except ApiException as err:
        raise kopf.TemporaryError(f"credential Secret unavailable: {err.reason}", delay=10) from None

    svc = _service(name, impl)
    kopf.adopt(svc, owner=body)
    try:
        core.create_namespaced_service(namespace, svc)
    except ApiException as err:
        if err.status != 409:
            raise
    sts = _statefulset(name, impl, spec)
    kopf.adopt(sts, owner=body)
    try:
        apps.create_namespaced_stateful_set(namespace, sts)
    except ApiException as err:
        if err.status != 409:
            raise
        apps.patch_namespaced_stateful_set(f"{name}-sts", namespace, {"spec": {"replicas": sts["spec"]["replicas"]}})
    nodes = list(nodes_by_network.get((namespace, name), []))
    patch.status.update(_status(spec, nodes, meta.get("generation", 0)))


@kopf.on.event("pods", labels=NODE_LABELS)
def pod_changed(namespace: str, labels: dict, nodes_by_network: kopf.Index, **_: Any) -> None:
    """A node pod changed: rewrite its network's status node list."""
    network = labels.get("app.kubernetes.io/instance")
    if not network:
        return
    api = kubernetes.client.CustomObjectsApi()
    try:
        obj = api.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, network)
    except ApiException as err:
        if err.status == 404:
            return
        raise
    status = _status(obj.get("spec") or {}, list(nodes_by_network.get((namespace, network), [])),
                     obj["metadata"].get("generation", 0))
    api.patch_namespaced_custom_object_status(GROUP, VERSION, namespace, PLURAL, network, {"status": status})
