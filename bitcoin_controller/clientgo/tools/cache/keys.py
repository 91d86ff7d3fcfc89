"""Object keys, mirroring the key functions of client-go's ``tools/cache/store.go``
(plus ``object-names.go``, and the ``DeletedFinalStateUnknown`` tombstone that
Go declares in ``delta_fifo.go``).

Every cache in the machinery is a map from a *key* to an object.  The key of a
namespaced object is ``"<namespace>/<name>"``; the key of a cluster-scoped
object is just ``"<name>"``.  Work queues carry these keys too: a controller
enqueues a key, and its worker later splits the key back into namespace and
name and reads the current object from a lister.  Keys (not objects) are what
travel because a key stays valid while the object behind it changes.

Two special values may stand in for an object:

* :class:`ExplicitKey` -- a string that *is* its own key, for callers that
  only know the key (for instance a work queue handing a key back).
* :class:`DeletedFinalStateUnknown` -- a tombstone.  A relist noticed that an
  object disappeared but the watch event announcing the deletion was missed,
  so the last state the cache knew of is all that can be delivered.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bitcoin_controller.apimachinery.metav1 import ObjectMetaError, meta

__all__ = [
    "KeyFunc",
    "KeyFuncError",
    "ExplicitKey",
    "DeletedFinalStateUnknown",
    "ObjectName",
    "object_to_name",
    "parse_object_name",
    "meta_namespace_key_func",
    "deletion_handling_meta_namespace_key_func",
    "split_meta_namespace_key",
]

#: ``cache.KeyFunc``: computes the key of an object; raises if it cannot.
KeyFunc = Callable[[Any], str]


class KeyFuncError(Exception):
    """client-go's ``KeyError{Obj, Err}``: a key function failed for ``obj``.

    Stores and queues wrap key-function failures in this so that the caller
    can still reach the offending object (``.obj``) and the cause (``.err``,
    also chained as ``__cause__``).  It is deliberately *not* Python's builtin
    :class:`KeyError`, which means "missing mapping key".

    Unlike Go, the message names only the object's Python type, never the
    object itself: objects may be Secrets, and secrets must not reach logs.
    """

    def __init__(self, obj: Any, err: BaseException) -> None:
        super().__init__(f"couldn't create key for object of type {type(obj).__name__}: {err}")
        self.obj = obj
        self.err = err
        self.__cause__ = err


class ExplicitKey(str):
    """``cache.ExplicitKey``: a string that key functions return unchanged.

    It lets a caller that holds only a key (not an object) use the object APIs
    of a store or queue, e.g. ``store.delete(ExplicitKey("ns/name"))``.
    """

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class DeletedFinalStateUnknown:
    """``cache.DeletedFinalStateUnknown``: the tombstone of an inferred deletion.

    When a relist no longer contains an object the cache still holds, the
    deletion happened while the watch was down and its final state was never
    seen.  The DeltaFIFO then delivers ``Deleted`` with this tombstone instead
    of the object: ``key`` identifies the object and ``obj`` is the last state
    the cache knew (possibly stale, or ``None`` if none was known).  Delete
    handlers must therefore accept either an object or a tombstone.

    Go declares it in ``delta_fifo.go``; it lives here, next to the key
    functions that understand it, and is re-exported by the package.
    """

    key: str
    obj: Any


@dataclass(frozen=True, slots=True)
class ObjectName:
    """``cache.ObjectName``: the structured form of a key (namespace and name).

    ``str()`` gives exactly the key :func:`meta_namespace_key_func` computes.
    """

    namespace: str
    name: str

    def parts(self) -> tuple[str, str]:
        """``ObjectName.Parts``: ``(namespace, name)``."""
        return self.namespace, self.name

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def object_to_name(obj: Any) -> ObjectName:
    """``cache.ObjectToName``: the namespace and name in ``obj``'s metadata.

    Raises :class:`~bitcoin_controller.apimachinery.metav1.ObjectMetaError`
    ("object has no meta") when ``obj`` has no ``metadata`` dict.
    """
    m = meta(obj)
    return ObjectName(m.get("namespace") or "", m.get("name") or "")


def parse_object_name(key: str) -> ObjectName:
    """``cache.ParseObjectName``: the inverse of ``str(ObjectName)``."""
    namespace, name = split_meta_namespace_key(key)
    return ObjectName(namespace, name)


def meta_namespace_key_func(obj: Any) -> str:
    """``cache.MetaNamespaceKeyFunc``: ``"<namespace>/<name>"``, or ``"<name>"``.

    The default key function.  An :class:`ExplicitKey` is returned as is.
    Cluster-scoped objects (empty namespace) get just their name, so that the
    key format is the same for every resource and
    :func:`split_meta_namespace_key` can invert it.  Raises
    :class:`~bitcoin_controller.apimachinery.metav1.ObjectMetaError` for an
    object without metadata.
    """
    if isinstance(obj, ExplicitKey):
        return str(obj)
    # Hot path (every add/update of every informer): read the two fields
    # directly rather than building an ObjectName.
    m = obj.get("metadata") if isinstance(obj, dict) else None
    if not isinstance(m, dict):
        raise ObjectMetaError("object has no meta")
    name = m.get("name") or ""
    namespace = m.get("namespace")
    return f"{namespace}/{name}" if namespace else name


def deletion_handling_meta_namespace_key_func(obj: Any) -> str:
    """``cache.DeletionHandlingMetaNamespaceKeyFunc``: like
    :func:`meta_namespace_key_func`, but a tombstone yields its ``key``.

    Informers and their indexers use this one, because delete handlers receive
    :class:`DeletedFinalStateUnknown` and still need the key to enqueue.
    """
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key
    return meta_namespace_key_func(obj)


def split_meta_namespace_key(key: str) -> tuple[str, str]:
    """``cache.SplitMetaNamespaceKey``: ``(namespace, name)`` from a key.

    ``"name"`` gives ``("", name)`` and ``"ns/name"`` gives ``(ns, name)``.
    Anything else (two or more slashes) raises
    ``ValueError('unexpected key format: "<key>"')``: a malformed key in a work
    queue is a bug a controller should drop, not retry.
    """
    parts = key.split("/")
    if len(parts) == 1:
        return "", parts[0]
    if len(parts) == 2:
        return parts[0], parts[1]
    # Go formats the key with %q; a JSON string literal is the same for keys.
    raise ValueError(f"unexpected key format: {json.dumps(key, ensure_ascii=False)}")
