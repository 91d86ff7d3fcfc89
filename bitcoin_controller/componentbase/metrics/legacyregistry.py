"""The process-wide metrics registry, mirroring
``k8s.io/component-base/metrics/legacyregistry``.

Every metric of the process registers here -- the work queues' (through
their Prometheus provider), the reflectors', the REST client's, the event
broadcaster's, leader election's, the RPC client's and the controller's own
-- and the ``/metrics`` endpoint serves this one registry.  It depends on
nothing but ``prometheus_client``, so it sits beside apimachinery, below
client-go, and any layer may register on it.

``auto_describe`` makes registering a second collector with an existing
name fail loudly instead of exporting duplicates.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry

__all__ = ["REGISTRY"]

#: ``legacyregistry``'s default registry: what ``/metrics`` serves.
REGISTRY = CollectorRegistry(auto_describe=True)
