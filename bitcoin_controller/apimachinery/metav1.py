"""Object metadata for plain-dict objects, mirroring ``k8s.io/apimachinery/pkg/apis/meta/v1``
and ``pkg/api/meta``.

Objects travel through the machinery as decoded JSON dicts (client-go's
"unstructured" objects).  These helpers read the ``metadata`` fields the
machinery needs, build owner references, format API timestamps and carry the
``ListOptions`` that a List or Watch request takes.

Objects handed out by caches are shared: treat them as read-only and call
:func:`deep_copy` before changing anything.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field, replace
from typing import Any

__all__ = [
    "NAMESPACE_ALL",
    "ListOptions",
    "ObjectMetaError",
    "meta",
    "get_name",
    "get_namespace",
    "get_resource_version",
    "get_uid",
    "get_generation",
    "get_labels",
    "get_annotations",
    "get_deletion_timestamp",
    "get_owner_references",
    "get_controller_of",
    "is_controlled_by",
    "new_controller_ref",
    "deep_copy",
    "format_time",
    "format_micro_time",
    "parse_time",
]

#: ``metav1.NamespaceAll``: list and watch across every namespace.
NAMESPACE_ALL = ""


class ObjectMetaError(ValueError):
    """The object has no usable ``metadata`` ("object has no meta" in client-go)."""


@dataclass
class ListOptions:
    """``metav1.ListOptions``: the query of a LIST or WATCH request.

    Field names are the PEP 8 forms of the JSON/query names
    (``resourceVersion`` -> ``resource_version``, ``continue`` ->
    ``continue_``).  ``None`` means "not sent".
    """

    label_selector: str | None = None
    field_selector: str | None = None
    resource_version: str | None = None
    resource_version_match: str | None = None
    limit: int | None = None
    continue_: str | None = None
    timeout_seconds: int | None = None
    allow_watch_bookmarks: bool | None = None
    send_initial_events: bool | None = None
    watch: bool | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def copy(self, **changes: Any) -> ListOptions:
        return replace(self, extra=dict(self.extra), **changes)

    def to_query(self) -> dict[str, str]:
        """The URL query parameters of this request, with the API's names."""
        query: dict[str, str] = {}
        pairs = (
            ("labelSelector", self.label_selector),
            ("fieldSelector", self.field_selector),
            ("resourceVersion", self.resource_version),
            ("resourceVersionMatch", self.resource_version_match),
            ("limit", self.limit),
            ("continue", self.continue_),
            ("timeoutSeconds", self.timeout_seconds),
            ("allowWatchBookmarks", self.allow_watch_bookmarks),
            ("sendInitialEvents", self.send_initial_events),
            ("watch", self.watch),
        )
        for name, value in pairs:
            if value is None or value == "":
                continue
            if isinstance(value, bool):
                value = "true" if value else "false"
            query[name] = str(value)
        query.update(self.extra)
        return query


def meta(obj: Any) -> dict[str, Any]:
    """The ``metadata`` dict of ``obj``; raises :class:`ObjectMetaError` if there is none."""
    if isinstance(obj, dict):
        m = obj.get("metadata")
        if isinstance(m, dict):
            return m
    raise ObjectMetaError("object has no meta")


def get_name(obj: Any) -> str:
    return str(meta(obj).get("name") or "")


def get_namespace(obj: Any) -> str:
    return str(meta(obj).get("namespace") or "")


def get_resource_version(obj: Any) -> str:
    return str(meta(obj).get("resourceVersion") or "")


def get_uid(obj: Any) -> str:
    return str(meta(obj).get("uid") or "")


def get_generation(obj: Any) -> int:
    return int(meta(obj).get("generation") or 0)


def get_labels(obj: Any) -> dict[str, str]:
    return meta(obj).get("labels") or {}


def get_annotations(obj: Any) -> dict[str, str]:
    return meta(obj).get("annotations") or {}


def get_deletion_timestamp(obj: Any) -> str | None:
    return meta(obj).get("deletionTimestamp")


def get_owner_references(obj: Any) -> list[dict[str, Any]]:
    return meta(obj).get("ownerReferences") or []


def get_controller_of(obj: Any) -> dict[str, Any] | None:
    """``metav1.GetControllerOf``: the owner reference with ``controller: true``, if any."""
    for ref in get_owner_references(obj):
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Any, owner: Any) -> bool:
    """``metav1.IsControlledBy``: the controller reference points at ``owner``'s UID."""
    ref = get_controller_of(obj)
    return ref is not None and bool(ref.get("uid")) and ref.get("uid") == get_uid(owner)


def new_controller_ref(owner: Any, api_version: str, kind: str) -> dict[str, Any]:
    """``metav1.NewControllerRef``: a controller reference that blocks owner deletion."""
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": get_name(owner),
        "uid": get_uid(owner),
        "controller": True,
        "blockOwnerDeletion": True,
    }


def deep_copy(obj: Any) -> Any:
    """Copy decoded JSON (dicts, lists, scalars) -- much faster than :func:`copy.deepcopy`."""
    if isinstance(obj, dict):
        return {k: deep_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [deep_copy(v) for v in obj]
    return obj


def format_time(when: datetime.datetime) -> str:
    """``metav1.Time`` in JSON: RFC 3339, second precision, UTC ``Z``."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_micro_time(when: datetime.datetime) -> str:
    """``metav1.MicroTime`` in JSON: RFC 3339 with microseconds, UTC ``Z``."""
    return when.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_time(value: str) -> datetime.datetime:
    """Parse a ``metav1.Time`` or ``MicroTime`` string into an aware datetime."""
    return datetime.datetime.fromisoformat(value.replace("Z", "+00:00"))
