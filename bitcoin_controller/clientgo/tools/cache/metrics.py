"""Reflector metrics (the counters client-go's ``tools/cache/reflector_metrics.go`` had).

client-go once exported per-reflector list/watch counters through a
``MetricsProvider`` seam; they were removed upstream (high-cardinality names),
but they are exactly what an operator wants to see when an informer keeps
relisting.  We keep five counters with one label, ``name``, which the
informer machinery sets to the resource it caches (``pods``,
``statefulsets.apps``), so the label stays bounded:

=================================  ==============================================
``reflector_lists_total``          LIST calls (each full, possibly paginated, list)
``reflector_relists_total``        list phases after the first (a relist)
``reflector_watches_total``        WATCH requests opened successfully
``reflector_watch_errors_total``   watches that failed to open or ended in error
``reflector_events_total``         watch events received (bookmarks included)
=================================  ==============================================

They are registered on the process-wide registry of
:mod:`bitcoin_controller.componentbase.metrics.legacyregistry`, the one the
controller's ``/metrics`` endpoint serves, so one scrape shows queues and
reflectors together.
"""

from __future__ import annotations

from prometheus_client import Counter

from ....componentbase.metrics.legacyregistry import REGISTRY

__all__ = [
    "REGISTRY",
    "LISTS",
    "RELISTS",
    "WATCHES",
    "WATCH_ERRORS",
    "EVENTS",
]

_LABELS = ("name",)

# prometheus_client appends "_total" to counter names itself.
LISTS = Counter(
    "reflector_lists", "Number of LIST calls made by a reflector.", _LABELS, registry=REGISTRY
)
RELISTS = Counter(
    "reflector_relists",
    "Number of times a reflector listed again after its first list.",
    _LABELS,
    registry=REGISTRY,
)
WATCHES = Counter(
    "reflector_watches",
    "Number of WATCH requests opened by a reflector.",
    _LABELS,
    registry=REGISTRY,
)
WATCH_ERRORS = Counter(
    "reflector_watch_errors",
    "Number of reflector watches that failed to open or ended with an error.",
    _LABELS,
    registry=REGISTRY,
)
EVENTS = Counter(
    "reflector_events",
    "Number of watch events a reflector received.",
    _LABELS,
    registry=REGISTRY,
)
