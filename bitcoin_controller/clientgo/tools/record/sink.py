"""The event sink over a clientset (client-go ``EventSinkImpl`` in ``kubernetes/typed/core/v1``).

:class:`~.event.EventBroadcaster` writes through an :class:`~.event.EventSink`
so that it does not depend on a client; this adapter is the one used in
practice.  An event belongs in the namespace of the object it is about, so
each call goes to the event's own namespace rather than a fixed one.
"""

from __future__ import annotations

from typing import Any

from ....apimachinery.types import STRATEGIC_MERGE_PATCH
from ...kubernetes.clientset import NAMESPACE_ALL, Interface, ResourceClient
from ...rest.body import RequestConstructionError
from .event import EventSink

__all__ = ["EventSinkImpl"]


class EventSinkImpl(EventSink):
    """``v1.EventSinkImpl``: write events with ``clientset.core_v1().events(<event's namespace>)``.

    With ``namespace`` set, events of any other namespace are refused with
    :class:`~...rest.body.RequestConstructionError` (a ``ValueError``; Go's
    ``CreateWithEventNamespace`` check), so a namespaced recorder cannot
    write elsewhere by mistake.  Go returns a plain error here, which the
    broadcaster would retry twelve times to no avail; the same request can
    never succeed, so it is classified as a construction error.
    """

    def __init__(self, clientset: Interface, namespace: str = NAMESPACE_ALL) -> None:
        self._clientset = clientset
        self._namespace = namespace

    def _events(self, event: dict[str, Any]) -> ResourceClient:
        namespace = (event.get("metadata") or {}).get("namespace") or ""
        if self._namespace and namespace != self._namespace:
            raise RequestConstructionError(
                f"can't write an event with namespace '{namespace}' "
                f"in namespace '{self._namespace}'"
            )
        return self._clientset.core_v1().events(namespace)

    def create(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._events(event).create(event)

    def update(self, event: dict[str, Any]) -> dict[str, Any]:
        return self._events(event).update(event)

    def patch(self, event: dict[str, Any], data: bytes) -> dict[str, Any]:
        name = (event.get("metadata") or {}).get("name") or ""
        return self._events(event).patch(name, data, STRATEGIC_MERGE_PATCH)
