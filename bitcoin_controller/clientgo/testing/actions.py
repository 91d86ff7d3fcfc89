"""Recorded client calls, mirroring ``k8s.io/client-go/testing/actions.go``.

Every call on a fake clientset becomes an *action* -- a record of the verb,
the resource, the namespace and the arguments -- that the fake logs and
hands to its reactors.  Tests then assert on ``clientset.actions()``: "the
controller created this StatefulSet, then updated that status".  The
generated fake clients in Go build exactly these actions; so does
:class:`bitcoin_controller.clientgo.kubernetes.fake.Clientset`.

Go's ``GetX()`` accessors are plain attributes here (``action.namespace``,
``action.name``, ``action.object``); the ``get_*`` methods exist too, so
code read side by side with Go looks familiar.

A resource is a :class:`~bitcoin_controller.apimachinery.schema.ResourceInfo`
(what the fake clientset records) or a :class:`GroupVersionResource`; the
constructors also accept a plain plural name (``"pods"``), the short form
sample-controller's tests use for expected actions, since
:meth:`Action.matches` compares only the verb and the resource name.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from ...apimachinery.metav1 import ListOptions, deep_copy
from ...apimachinery.schema import ResourceInfo

__all__ = [
    "GroupVersionResource",
    "Resource",
    "Action",
    "GetAction",
    "ListAction",
    "WatchAction",
    "CreateAction",
    "UpdateAction",
    "PatchAction",
    "DeleteAction",
    "DeleteCollectionAction",
    "ListRestrictions",
    "WatchRestrictions",
    "to_resource",
    "new_get_action",
    "new_root_get_action",
    "new_get_subresource_action",
    "new_root_get_subresource_action",
    "new_list_action",
    "new_root_list_action",
    "new_watch_action",
    "new_root_watch_action",
    "new_create_action",
    "new_root_create_action",
    "new_create_subresource_action",
    "new_root_create_subresource_action",
    "new_update_action",
    "new_root_update_action",
    "new_update_subresource_action",
    "new_root_update_subresource_action",
    "new_patch_action",
    "new_root_patch_action",
    "new_patch_subresource_action",
    "new_root_patch_subresource_action",
    "new_delete_action",
    "new_root_delete_action",
    "new_delete_action_with_options",
    "new_root_delete_action_with_options",
    "new_delete_subresource_action",
    "new_delete_collection_action",
    "new_root_delete_collection_action",
]


@dataclass(frozen=True)
class GroupVersionResource:
    """``schema.GroupVersionResource``; tests often fill in only ``resource``."""

    group: str = ""
    version: str = ""
    resource: str = ""


Resource = ResourceInfo | GroupVersionResource


def to_resource(resource: ResourceInfo | GroupVersionResource | str) -> Resource:
    """Accept a ResourceInfo, a GroupVersionResource, or a plural name like ``"pods"``."""
    if isinstance(resource, str):
        return GroupVersionResource(resource=resource)
    return resource


@dataclass(frozen=True)
class ListRestrictions:
    """``testing.ListRestrictions``: the selectors of a list, as the query strings."""

    labels: str = ""
    fields: str = ""


@dataclass(frozen=True)
class WatchRestrictions:
    """``testing.WatchRestrictions``: selectors and the resourceVersion a watch starts at."""

    labels: str = ""
    fields: str = ""
    resource_version: str = ""


@dataclass(kw_only=True)
class Action:
    """``testing.Action``/``ActionImpl``: one recorded call.

    Actions are values: the fake records a deep copy (:meth:`deep_copy`), so
    a controller changing an object after sending it cannot rewrite history.
    """

    namespace: str = ""
    verb: str = ""
    resource: Resource = field(default_factory=GroupVersionResource)
    subresource: str = ""

    def matches(self, verb: str, resource: str) -> bool:
        """Same verb and resource (case-insensitive); ``"pods/status"`` also checks the subresource.

        A bare ``"pods"`` matches ``pods/status`` actions too, as in Go.
        """
        if verb.lower() != self.verb.lower():
            return False
        top, slash, sub = resource.partition("/")
        if top.lower() != self.resource.resource.lower():
            return False
        return not slash or sub.lower() == self.subresource.lower()

    def deep_copy(self) -> Action:
        """A copy sharing no mutable state with this action."""
        changes = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, (dict, list)):
                changes[f.name] = deep_copy(value)
            elif isinstance(value, ListOptions):
                changes[f.name] = value.copy()
        return dataclasses.replace(self, **changes)

    # Go-style accessors, for code read next to client-go.
    def get_namespace(self) -> str:
        return self.namespace

    def get_verb(self) -> str:
        return self.verb

    def get_resource(self) -> Resource:
        return self.resource

    def get_subresource(self) -> str:
        return self.subresource


@dataclass(kw_only=True)
class GetAction(Action):
    """``GetActionImpl``."""

    verb: str = "get"
    name: str = ""

    def get_name(self) -> str:
        return self.name


@dataclass(kw_only=True)
class ListAction(Action):
    """``ListActionImpl``: ``kind`` is the item kind (``Pod``), ``list_options`` the query."""

    verb: str = "list"
    kind: str = ""
    list_options: ListOptions = field(default_factory=ListOptions)

    @property
    def list_restrictions(self) -> ListRestrictions:
        return ListRestrictions(self.list_options.label_selector or "",
                                self.list_options.field_selector or "")

    def get_list_restrictions(self) -> ListRestrictions:
        return self.list_restrictions

    def get_kind(self) -> str:
        return self.kind


@dataclass(kw_only=True)
class WatchAction(Action):
    """``WatchActionImpl``."""

    verb: str = "watch"
    list_options: ListOptions = field(default_factory=ListOptions)

    @property
    def watch_restrictions(self) -> WatchRestrictions:
        opts = self.list_options
        return WatchRestrictions(opts.label_selector or "", opts.field_selector or "",
                                 opts.resource_version or "")

    def get_watch_restrictions(self) -> WatchRestrictions:
        return self.watch_restrictions


@dataclass(kw_only=True)
class CreateAction(Action):
    """``CreateActionImpl``; ``name`` is set for subresource creates (e.g. ``pods/eviction``)."""

    verb: str = "create"
    name: str = ""
    object: dict[str, Any] = field(default_factory=dict)

    def get_object(self) -> dict[str, Any]:
        return self.object


@dataclass(kw_only=True)
class UpdateAction(Action):
    """``UpdateActionImpl``; ``update_status`` is this with ``subresource="status"``."""

    verb: str = "update"
    object: dict[str, Any] = field(default_factory=dict)

    def get_object(self) -> dict[str, Any]:
        return self.object


@dataclass(kw_only=True)
class PatchAction(Action):
    """``PatchActionImpl``: ``patch`` is the body as sent (bytes), ``patch_type`` its type."""

    verb: str = "patch"
    name: str = ""
    patch_type: str = ""
    patch: bytes = b""

    def get_name(self) -> str:
        return self.name

    def get_patch_type(self) -> str:
        return self.patch_type

    def get_patch(self) -> bytes:
        return self.patch


@dataclass(kw_only=True)
class DeleteAction(Action):
    """``DeleteActionImpl``: ``delete_options`` is a ``metav1.DeleteOptions`` dict."""

    verb: str = "delete"
    name: str = ""
    delete_options: dict[str, Any] = field(default_factory=dict)

    def get_name(self) -> str:
        return self.name

    def get_delete_options(self) -> dict[str, Any]:
        return self.delete_options


@dataclass(kw_only=True)
class DeleteCollectionAction(Action):
    """``DeleteCollectionActionImpl``."""

    verb: str = "delete-collection"
    list_options: ListOptions = field(default_factory=ListOptions)

    @property
    def list_restrictions(self) -> ListRestrictions:
        return ListRestrictions(self.list_options.label_selector or "",
                                self.list_options.field_selector or "")


# -- constructors (NewGetAction & co.); "root" = cluster-scoped, no namespace --------

_R = ResourceInfo | GroupVersionResource | str


def new_get_action(resource: _R, namespace: str, name: str) -> GetAction:
    return GetAction(resource=to_resource(resource), namespace=namespace, name=name)


def new_root_get_action(resource: _R, name: str) -> GetAction:
    return new_get_action(resource, "", name)


def new_get_subresource_action(resource: _R, namespace: str, subresource: str,
                               name: str) -> GetAction:
    return GetAction(resource=to_resource(resource), namespace=namespace,
                     subresource=subresource, name=name)


def new_root_get_subresource_action(resource: _R, subresource: str, name: str) -> GetAction:
    return new_get_subresource_action(resource, "", subresource, name)


def new_list_action(resource: _R, kind: str, namespace: str,
                    opts: ListOptions | None = None) -> ListAction:
    return ListAction(resource=to_resource(resource), kind=kind, namespace=namespace,
                      list_options=(opts or ListOptions()).copy())


def new_root_list_action(resource: _R, kind: str, opts: ListOptions | None = None) -> ListAction:
    return new_list_action(resource, kind, "", opts)


def new_watch_action(resource: _R, namespace: str, opts: ListOptions | None = None) -> WatchAction:
    return WatchAction(resource=to_resource(resource), namespace=namespace,
                       list_options=(opts or ListOptions()).copy())


def new_root_watch_action(resource: _R, opts: ListOptions | None = None) -> WatchAction:
    return new_watch_action(resource, "", opts)


def new_create_action(resource: _R, namespace: str, obj: dict[str, Any]) -> CreateAction:
    return CreateAction(resource=to_resource(resource), namespace=namespace, object=obj)


def new_root_create_action(resource: _R, obj: dict[str, Any]) -> CreateAction:
    return new_create_action(resource, "", obj)


def new_create_subresource_action(resource: _R, name: str, subresource: str, namespace: str,
                                  obj: dict[str, Any]) -> CreateAction:
    return CreateAction(resource=to_resource(resource), namespace=namespace, name=name,
                        subresource=subresource, object=obj)


def new_root_create_subresource_action(resource: _R, name: str, subresource: str,
                                       obj: dict[str, Any]) -> CreateAction:
    return new_create_subresource_action(resource, name, subresource, "", obj)


def new_update_action(resource: _R, namespace: str, obj: dict[str, Any]) -> UpdateAction:
    return UpdateAction(resource=to_resource(resource), namespace=namespace, object=obj)


def new_root_update_action(resource: _R, obj: dict[str, Any]) -> UpdateAction:
    return new_update_action(resource, "", obj)


def new_update_subresource_action(resource: _R, subresource: str, namespace: str,
                                  obj: dict[str, Any]) -> UpdateAction:
    return UpdateAction(resource=to_resource(resource), namespace=namespace,
                        subresource=subresource, object=obj)


def new_root_update_subresource_action(resource: _R, subresource: str,
                                       obj: dict[str, Any]) -> UpdateAction:
    return new_update_subresource_action(resource, subresource, "", obj)


def new_patch_action(resource: _R, namespace: str, name: str, patch_type: str,
                     patch: bytes) -> PatchAction:
    return PatchAction(resource=to_resource(resource), namespace=namespace, name=name,
                       patch_type=patch_type, patch=patch)


def new_root_patch_action(resource: _R, name: str, patch_type: str, patch: bytes) -> PatchAction:
    return new_patch_action(resource, "", name, patch_type, patch)


def new_patch_subresource_action(resource: _R, namespace: str, name: str, patch_type: str,
                                 patch: bytes, *subresources: str) -> PatchAction:
    return PatchAction(resource=to_resource(resource), namespace=namespace, name=name,
                       patch_type=patch_type, patch=patch, subresource="/".join(subresources))


def new_root_patch_subresource_action(resource: _R, name: str, patch_type: str, patch: bytes,
                                      *subresources: str) -> PatchAction:
    return new_patch_subresource_action(resource, "", name, patch_type, patch, *subresources)


def new_delete_action(resource: _R, namespace: str, name: str) -> DeleteAction:
    return DeleteAction(resource=to_resource(resource), namespace=namespace, name=name)


def new_root_delete_action(resource: _R, name: str) -> DeleteAction:
    return new_delete_action(resource, "", name)


def new_delete_action_with_options(resource: _R, namespace: str, name: str,
                                   opts: dict[str, Any]) -> DeleteAction:
    return DeleteAction(resource=to_resource(resource), namespace=namespace, name=name,
                        delete_options=dict(opts))


def new_root_delete_action_with_options(resource: _R, name: str,
                                        opts: dict[str, Any]) -> DeleteAction:
    return new_delete_action_with_options(resource, "", name, opts)


def new_delete_subresource_action(resource: _R, subresource: str, namespace: str,
                                  name: str) -> DeleteAction:
    return DeleteAction(resource=to_resource(resource), namespace=namespace,
                        subresource=subresource, name=name)


def new_delete_collection_action(resource: _R, namespace: str,
                                 opts: ListOptions | None = None) -> DeleteCollectionAction:
    return DeleteCollectionAction(resource=to_resource(resource), namespace=namespace,
                                  list_options=(opts or ListOptions()).copy())


def new_root_delete_collection_action(resource: _R,
                                      opts: ListOptions | None = None) -> DeleteCollectionAction:
    return new_delete_collection_action(resource, "", opts)
