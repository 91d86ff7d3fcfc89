"""Informer transforms: what the controller's caches keep of each object.

client-go's ``SharedIndexInformer.SetTransform`` (``cache.TransformFunc``)
rewrites every object before it enters the cache; controllers use it to drop
``metadata.managedFields`` -- often the largest part of an object -- and
whatever else they never read.  Here that saves most of the cache's memory.

What may be dropped depends on how the object is used, not only what is read:

* **Pods** are only read (readiness, IP, node, restarts, owner): everything
  else goes, including most of ``spec`` and ``status``.
* **Services and StatefulSets** are read *and* written back: a drift
  correction is an ``update`` built from the cached copy.  An update without
  ``managedFields`` leaves them as they are on the server (only an explicit
  empty list resets them), and a StatefulSet update ignores ``status``; but
  anything else missing from the body would be *removed* by the update, so
  only those two are dropped.
* **BitcoinNetworks** are written back through the ``status`` subresource
  only, which ignores every change outside ``status``; ``managedFields`` and
  the ``kubectl.kubernetes.io/last-applied-configuration`` annotation (a full
  copy of the spec) are dropped.

Every transform is idempotent (a relist may hand an already transformed
object in again) and leaves tombstones alone.

Each also **compacts** what it keeps (:func:`compact`): ``json.loads`` makes
a new string object for every key and value of every object, so 200
StatefulSets hold 200 copies of ``"imagePullPolicy"``, ``"IfNotPresent"``
and every other key and label.  Interning keys and short values shares one
copy: a cached StatefulSet shrinks from about 16 KB to 7.5 KB, a Service
from 6.3 KB to 2.4 KB.  Interned strings are freed with their last user, so
nothing accumulates.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = [
    "compact",
    "strip_managed_fields",
    "slim_network",
    "slim_statefulset",
    "slim_pod",
    "LAST_APPLIED",
]

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
#: Longer strings (certificates, messages) are rarely shared; not worth a lookup.
_SHORT = 64


def compact(obj: Any) -> Any:
    """The same JSON value with every key and every short string interned (shared)."""
    if isinstance(obj, dict):
        return {sys.intern(k) if type(k) is str else k: compact(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [compact(v) for v in obj]
    if type(obj) is str and len(obj) <= _SHORT:
        return sys.intern(obj)
    return obj


def strip_managed_fields(obj: Any) -> Any:
    """Drop ``metadata.managedFields`` (the usual ``TransformStripManagedFields``); compact the rest."""
    if isinstance(obj, dict):
        meta = obj.get("metadata")
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        return compact(obj)
    return obj


def slim_network(obj: Any) -> Any:
    """BitcoinNetworks: no managedFields, no last-applied copy of the spec."""
    obj = strip_managed_fields(obj)
    if isinstance(obj, dict):
        annotations = (obj.get("metadata") or {}).get("annotations")
        if isinstance(annotations, dict):
            annotations.pop(LAST_APPLIED, None)
    return obj


def slim_statefulset(obj: Any) -> Any:
    """StatefulSets: no managedFields, no status (an update of the object ignores it)."""
    obj = strip_managed_fields(obj)
    if isinstance(obj, dict):
        obj.pop("status", None)
    return obj


_POD_META = ("name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences", "deletionTimestamp")


def slim_pod(obj: Any) -> Any:
    """Pods: only what the status, the mesh and the event handlers read."""
    if not isinstance(obj, dict) or not isinstance(obj.get("metadata"), dict):
        return obj
    meta = obj["metadata"]
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    slim_status: dict[str, Any] = {}
    for key in ("phase", "podIP"):
        if key in status:
            slim_status[key] = status[key]
    if "conditions" in status:
        slim_status["conditions"] = [
            {"type": c.get("type"), "status": c.get("status")} for c in status.get("conditions") or []
        ]
    if "containerStatuses" in status:
        slim_status["containerStatuses"] = [
            {"name": c.get("name"), "restartCount": c.get("restartCount", 0), "ready": c.get("ready")}
            for c in status.get("containerStatuses") or []
        ]
    slim: dict[str, Any] = {
        "metadata": {k: meta[k] for k in _POD_META if k in meta},
        "spec": {"nodeName": spec["nodeName"]} if "nodeName" in spec else {},
        "status": slim_status,
    }
    for key in ("apiVersion", "kind"):
        if key in obj:
            slim[key] = obj[key]
    return compact(slim)
