"""The controller's own Prometheus metrics.

Labels stay bounded: a sync's result (``success``, ``error``, ``conflict``, or
``dropped`` for a key given up because its object or namespace is going
away), and for the
per-network gauges the network's namespace and name -- which are removed
when the network is deleted, so deleted networks do not linger as series.
Credentials never become labels.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import Counter, Gauge, Histogram

from ..componentbase.metrics.legacyregistry import REGISTRY

__all__ = ["observe_sync", "set_network", "forget_network"]

SYNC_DURATION = Histogram(
    "bitcoin_controller_sync_duration_seconds",
    "Time one sync of a BitcoinNetwork took, by result.",
    ["result"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
SYNCS = Counter(
    "bitcoin_controller_syncs",
    "Syncs of BitcoinNetworks, by result (success, error, conflict, dropped).",
    ["result"],
    registry=REGISTRY,
)
NODES_DESIRED = Gauge(
    "bitcoin_network_nodes_desired", "Nodes a BitcoinNetwork asks for.", ["namespace", "network"], registry=REGISTRY
)
NODES_READY = Gauge(
    "bitcoin_network_nodes_ready", "Ready nodes of a BitcoinNetwork.", ["namespace", "network"], registry=REGISTRY
)
BEST_HEIGHT = Gauge(
    "bitcoin_network_best_height",
    "Highest block height reported by a BitcoinNetwork's ready nodes.",
    ["namespace", "network"],
    registry=REGISTRY,
)
_GAUGES = (NODES_DESIRED, NODES_READY, BEST_HEIGHT)


def observe_sync(result: str, seconds: float) -> None:
    SYNC_DURATION.labels(result).observe(seconds)
    SYNCS.labels(result).inc()


def set_network(namespace: str, name: str, desired: int, status: dict[str, Any]) -> None:
    NODES_DESIRED.labels(namespace, name).set(desired)
    NODES_READY.labels(namespace, name).set(status.get("readyNodes", 0))
    BEST_HEIGHT.labels(namespace, name).set(status.get("bestHeight", 0))


def forget_network(namespace: str, name: str) -> None:
    for gauge in _GAUGES:
        try:
            gauge.remove(namespace, name)
        except KeyError:
            pass
