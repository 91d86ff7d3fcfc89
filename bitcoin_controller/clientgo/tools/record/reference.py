"""Object references for events (client-go ``tools/reference.GetReference``).

An event points at the object it is about through an ``ObjectReference``
(``involvedObject``).  Go finds the kind through the scheme from the Go
type; our objects are dicts, so the kind and apiVersion must be in the dict
itself.  Objects read from a LIST response often lack them (the API server
leaves them off list items); give such objects their ``kind`` and
``apiVersion`` before recording, or pass a reference dict instead.
"""

from __future__ import annotations

from typing import Any

from ....apimachinery import metav1

__all__ = ["REFERENCE_FIELDS", "get_reference"]

#: The fields of an ``ObjectReference``, in their JSON spelling.
REFERENCE_FIELDS = (
    "kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath",
)


def _is_reference(obj: dict[str, Any]) -> bool:
    # A reference is flat: no metadata, but a kind and a name of its own.
    return "metadata" not in obj and bool(obj.get("kind")) and bool(obj.get("name"))


def get_reference(obj: Any) -> dict[str, Any]:
    """``reference.GetReference``: the ``ObjectReference`` of a dict object.

    Accepts a full object (with ``kind``, ``apiVersion`` and ``metadata``)
    or an existing reference, which is returned as a copy -- as Go accepts a
    ``*v1.ObjectReference``.  Empty fields are left out, as Go's
    ``omitempty`` JSON does.  Raises :class:`ValueError` when no reference
    can be built; the recorder then drops the event rather than guess.
    """
    if not isinstance(obj, dict):
        raise ValueError(f"cannot build a reference to a {type(obj).__name__}")
    if _is_reference(obj):
        return {k: obj[k] for k in REFERENCE_FIELDS if obj.get(k)}
    kind = obj.get("kind") or ""
    api_version = obj.get("apiVersion") or ""
    if not kind or not api_version:
        raise ValueError("object has no kind or apiVersion; set them before recording an event")
    try:
        meta = metav1.meta(obj)
    except metav1.ObjectMetaError as err:
        raise ValueError(str(err)) from err
    ref = {
        "kind": kind,
        "namespace": meta.get("namespace") or "",
        "name": meta.get("name") or "",
        "uid": meta.get("uid") or "",
        "apiVersion": api_version,
        "resourceVersion": meta.get("resourceVersion") or "",
    }
    return {k: v for k, v in ref.items() if v}
