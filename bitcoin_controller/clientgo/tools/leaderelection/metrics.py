"""Prometheus metrics of leader election (client-go ``tools/leaderelection/metrics.go``
with component-base's ``leader_election_*`` names).

``leader_election_master_status{name}`` is 1 while this process leads the
election ``name`` and 0 otherwise: summed over replicas it must never exceed
1, which makes split-brain visible on a dashboard.
``leader_election_slowpath_total{name}`` counts renewals that needed a full
read of the lock because the optimistic write failed.  Both live on the
process-wide registry shared with the work queue metrics.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from ....componentbase.metrics.legacyregistry import REGISTRY

__all__ = [
    "LEADER_GAUGE",
    "LEADER_SLOWPATH_COUNTER",
    "leader_on",
    "leader_off",
    "slowpath_exercised",
]

LEADER_GAUGE = Gauge(
    "leader_election_master_status",
    "1 while this process holds the lease named by 'name' and leads, 0 while it stands by.",
    ("name",),
    registry=REGISTRY,
)

LEADER_SLOWPATH_COUNTER = Counter(
    "leader_election_slowpath",
    "Renewals of the lease that fell back to reading it first ('name' identifies the lease).",
    ("name",),
    registry=REGISTRY,
)


def leader_on(name: str) -> None:
    """This process now leads election ``name``."""
    LEADER_GAUGE.labels(name).set(1)


def leader_off(name: str) -> None:
    """This process does not lead election ``name`` (set at start and when leadership ends)."""
    LEADER_GAUGE.labels(name).set(0)


def slowpath_exercised(name: str) -> None:
    """A renewal had to read the lease because the optimistic update failed."""
    LEADER_SLOWPATH_COUNTER.labels(name).inc()
