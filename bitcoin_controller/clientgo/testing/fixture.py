"""An in-memory API server for fake clients, mirroring ``k8s.io/client-go/testing/fixture.go``.

:class:`ObjectTracker` stores objects by resource, namespace and name, and
:func:`object_reaction` turns recorded actions into tracker calls -- together
they are what makes ``fake.Clientset`` behave like a (very small) API server.

Where this tracker deliberately goes beyond client-go's
-------------------------------------------------------
client-go's classic tracker is a bare map: it never sets resourceVersions,
uids, timestamps or generations, ignores ``generateName``, lets
``UpdateStatus`` overwrite the spec, and its watches only see the future, so
an informer started against it can miss objects created between its LIST
and its WATCH.  Controllers are largely *about* those fields, so this tracker
behaves like a real API server instead (closer to client-go v0.36's tracker,
and further):

* **resourceVersion** -- one counter for the whole tracker, as etcd's
  revision is for a whole cluster: every create, update, patch and delete
  takes the next value, and a DELETED event carries the deletion's version.
  ``list`` returns the counter as the list's resourceVersion.
* **optimistic concurrency** -- an update or patch carrying a non-empty,
  stale ``metadata.resourceVersion`` fails with Conflict (409); an empty one
  is an unconditional write.  Delete preconditions (uid, resourceVersion)
  are checked too.
* **watch from a resourceVersion** -- the tracker keeps a history of events
  (``history_limit`` per resource).  ``watch`` with resourceVersion *X*
  first replays every event after *X*, then follows live ones, so
  "list at X, then watch from X" sees every change exactly once.  With no
  resourceVersion, ``""`` or ``"0"`` it starts with a synthetic ADDED for
  each existing object, as the API server does.  A version older than the
  retained history gets an ERROR event with a 410 Expired Status, which is
  how a reflector learns it must relist.
* **server-set fields** -- create assigns ``uid`` and
  ``creationTimestamp`` and honours ``generateName`` (five random
  characters appended); updates keep them.  Setting resourceVersion on
  create is a BadRequest, as on a real server.
* **status subresource** (StatefulSets and BitcoinNetworks, the resources
  our controller reads status from): create drops ``status``; ``update``
  keeps the stored status whatever the object says; ``update_status`` (and
  patches to ``status``) change only ``status``; ``metadata.generation``
  starts at 1 and grows by one on every spec change -- the contract behind
  ``status.observedGeneration``.  For other resources, as in Go, updates
  replace the whole object.
* **no-op writes** -- an update or patch that changes nothing keeps the
  resourceVersion and sends no event, as the API server does.
* **WatchList** -- ``send_initial_events=True`` replays the current objects
  as ADDED and then sends the BOOKMARK annotated
  ``k8s.io/initial-events-end: "true"`` that a streaming-list reflector
  waits for (client-go's fake refuses WatchList instead).
* **label selectors on watches** -- a watch with a label selector gets only
  matching objects, and an object that stops (starts) matching arrives as
  DELETED (ADDED), as from a real server.

Kept from Go: ``add`` (seeding) stores objects as given (it assigns a
resourceVersion only if the object has none, and keeps uids and timestamps
absent), deletion is immediate (no finalizers, no graceful deletion, no
garbage collection), no defaulting, validation or admission, and field
selectors are ignored.  NotFound/AlreadyExists messages are the API
server's (``statefulsets.apps "x" not found``).

**Watch buffers.**  Go's fake watchers hold 100 events and panic when full.
With replay, a watch opened on a tracker holding more than 100 objects
would overflow before its consumer read anything, so tracker watchers are
unbounded by default.  Pass ``watch_buffer_size=100`` to get Go's
behaviour: the write that overflows a watcher raises
:class:`~bitcoin_controller.apimachinery.watch.WatcherFullError`.
"""

from __future__ import annotations

import random
import sys
import threading
import uuid
from collections import deque
from dataclasses import dataclass
from typing import Any

from ...apimachinery import errors, labels, watch
from ...apimachinery.metav1 import ListOptions, deep_copy, format_time
from ...apimachinery.schema import ResourceInfo, Scheme
from ...utils.clock import REAL_CLOCK, Clock
from .actions import (
    Action,
    CreateAction,
    DeleteAction,
    GetAction,
    GroupVersionResource,
    ListAction,
    PatchAction,
    UpdateAction,
    WatchAction,
)
from .fake import ReactionFunc, WatchReactionFunc
from .patch import apply_patch

__all__ = [
    "ObjectTracker",
    "object_reaction",
    "watch_reaction",
    "default_watch_reactor",
]

_GENERATE_NAME_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # no vowels: no accidental words
_SYSTEM_FIELDS = ("uid", "creationTimestamp", "deletionTimestamp", "generation")
_NOT_SPEC = frozenset({"apiVersion", "kind", "metadata", "status"})

_Key = tuple[str, str]  # (group, plural): the version does not change identity


@dataclass(frozen=True)
class _Event:
    rv: int
    type: str
    namespace: str
    obj: dict[str, Any]
    old: dict[str, Any] | None = None


class _Watch:
    """One open watch: its watcher and what it asked for."""

    def __init__(self, namespace: str, selector: labels.Selector, size: int) -> None:
        self.namespace = namespace
        self.selector = selector
        self.watcher = watch.FakeWatcher(size=size)

    def send(self, event: _Event) -> None:
        if self.namespace and event.namespace != self.namespace:
            return
        event_type, obj = _through_selector(self.selector, event)
        if event_type is not None:
            self.watcher.action(event_type, deep_copy(obj))


def _through_selector(selector: labels.Selector, event: _Event) -> tuple[str | None, dict]:
    """What a watch with ``selector`` sees of ``event`` (None: nothing)."""
    if selector.empty():
        return event.type, event.obj
    now = selector.matches(_labels(event.obj))
    if event.type == str(watch.MODIFIED):
        before = event.old is not None and selector.matches(_labels(event.old))
        if now and before:
            return event.type, event.obj
        if now:
            return str(watch.ADDED), event.obj
        if before:
            return str(watch.DELETED), event.obj
        return None, event.obj
    return (event.type if now else None), event.obj


def _labels(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("labels") or {}


class ObjectTracker:
    """``testing.ObjectTracker``: the object store behind a fake clientset.

    Methods take a resource as a
    :class:`~bitcoin_controller.apimachinery.schema.ResourceInfo`, a
    ``GroupVersionResource`` or a plural name (``"pods"``); the last two are
    looked up in ``scheme`` (Go: ``NewObjectTracker(scheme, decoder)``; the
    fake clientset passes the clientset's scheme), which also says which
    resources have a status subresource.  Every method returns deep copies,
    so callers can never alter stored state by mutating what they got.
    Thread-safe.
    """

    def __init__(
        self,
        scheme: Scheme,
        *,
        clock: Clock = REAL_CLOCK,
        watch_buffer_size: int | None = None,
        history_limit: int = 10_000,
        rng: random.Random | None = None,
    ) -> None:
        self._scheme = scheme
        self._clock = clock
        self._watch_size = watch_buffer_size if watch_buffer_size is not None else sys.maxsize
        self._history_limit = history_limit
        self._rng = rng or random.Random()
        self._lock = threading.RLock()
        self._rv = 0
        self._infos: dict[_Key, ResourceInfo] = {}
        self._objects: dict[_Key, dict[tuple[str, str], dict[str, Any]]] = {}
        self._history: dict[_Key, deque[_Event]] = {}
        self._compacted: dict[_Key, int] = {}
        self._watches: dict[_Key, list[_Watch]] = {}

    # -- reading ----------------------------------------------------------------
    @property
    def resource_version(self) -> str:
        """The latest resourceVersion handed out (the tracker's "revision")."""
        with self._lock:
            return str(self._rv)

    def get(self, resource: Any, namespace: str, name: str) -> dict[str, Any]:
        """``Get``: a copy of the object, or NotFound (``pods "x" not found``)."""
        info, key = self._resolve(resource)
        with self._lock:
            obj = self._objects.get(key, {}).get((self._ns(info, namespace), name))
            if obj is None:
                raise errors.new_not_found(info.group_resource, name)
            return deep_copy(obj)

    def list(self, resource: Any, namespace: str = "", opts: ListOptions | None = None
             ) -> dict[str, Any]:
        """``List``: a ``<Kind>List`` of the namespace's objects (``""``: all), sorted
        by namespace and name, with the current resourceVersion.

        Selectors, limits and resourceVersion options are ignored, as in Go;
        the fake clientset applies the label selector itself.
        """
        info, key = self._resolve(resource)
        ns = self._ns(info, namespace)
        with self._lock:
            stored = self._objects.get(key, {})
            items = [deep_copy(stored[k]) for k in sorted(stored) if not ns or k[0] == ns]
            return {
                "apiVersion": info.api_version,
                "kind": info.list_kind,
                "metadata": {"resourceVersion": str(self._rv)},
                "items": items,
            }

    # -- writing ----------------------------------------------------------------
    def add(self, obj: dict[str, Any]) -> None:
        """``Add``: seed an object (or every item of a ``<Kind>List``) as given.

        The resource comes from ``apiVersion``/``kind``.  A missing
        resourceVersion is assigned; an existing one (a decimal string) is
        kept, so a test can hold the same object in a lister and in the
        tracker and update it without a conflict.
        """
        kind = obj.get("kind", "")
        if kind.endswith("List") and isinstance(obj.get("items"), list):
            item_kind = kind[: -len("List")]
            for item in obj["items"]:
                item = dict(item)
                item.setdefault("apiVersion", obj.get("apiVersion", ""))
                item.setdefault("kind", item_kind)
                self.add(item)
            return
        try:
            info = self._scheme.resource_for(obj)
        except KeyError:
            raise ValueError(
                f"no resource known for apiVersion={obj.get('apiVersion')!r} kind={kind!r}; "
                "seed it with tracker.create(resource_info, obj, namespace)"
            ) from None
        key = self._key(info)
        obj = deep_copy(obj)
        meta = _metadata(obj)
        name, ns = meta.get("name") or "", self._ns(info, meta.get("namespace") or "")
        if not name:
            raise ValueError("objects added to the tracker need metadata.name")
        with self._lock:
            self._infos.setdefault(key, info)
            if (ns, name) in self._objects.setdefault(key, {}):
                raise errors.new_already_exists(info.group_resource, name)
            given = meta.get("resourceVersion")
            if given:
                if not str(given).isdigit():
                    raise ValueError(f"resourceVersion {given!r} is not a decimal string")
                rv = int(given)
                self._rv = max(self._rv, rv)
            else:
                self._rv += 1
                rv = self._rv
                meta["resourceVersion"] = str(rv)
            self._objects[key][(ns, name)] = obj
            self._emit(key, _Event(rv, str(watch.ADDED), ns, obj))

    def create(self, resource: Any, obj: dict[str, Any], namespace: str = "") -> dict[str, Any]:
        """``Create``: store a new object as an API server would; returns it as stored."""
        info, key = self._resolve(resource)
        obj = deep_copy(obj)
        meta = _metadata(obj)
        ns = self._request_namespace(info, meta, namespace)
        if meta.get("resourceVersion"):
            raise errors.new_bad_request(
                "resourceVersion should not be set on objects to be created")
        obj["apiVersion"], obj["kind"] = info.api_version, info.kind
        with self._lock:
            stored = self._objects.setdefault(key, {})
            name = meta.get("name") or ""
            if not name:
                if not meta.get("generateName"):
                    raise errors.new_invalid(
                        info.kind, "",
                        "metadata.name: Required value: name or generateName is required",
                    )
                name = self._generate_name(meta["generateName"], ns, stored)
                meta["name"] = name
            if (ns, name) in stored:
                raise errors.new_already_exists(info.group_resource, name)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = format_time(self._clock.wall())
            meta.pop("deletionTimestamp", None)
            if self._has_status_subresource(key):
                obj.pop("status", None)
                meta["generation"] = 1
            self._rv += 1
            meta["resourceVersion"] = str(self._rv)
            stored[(ns, name)] = obj
            self._emit(key, _Event(self._rv, str(watch.ADDED), ns, obj))
            return deep_copy(obj)

    def update(self, resource: Any, obj: dict[str, Any], namespace: str = "",
               subresource: str | None = None) -> dict[str, Any]:
        """``Update`` (``subresource="status"`` for ``UpdateStatus``); returns the stored object.

        NotFound if absent; Conflict if ``obj`` carries a stale resourceVersion.
        """
        info, key = self._resolve(resource)
        status_only = self._check_subresource(info, subresource)
        obj = deep_copy(obj)
        meta = _metadata(obj)
        ns = self._request_namespace(info, meta, namespace)
        name = meta.get("name") or ""
        if not name:
            raise errors.new_bad_request("the object to update has no metadata.name")
        with self._lock:
            old = self._objects.get(key, {}).get((ns, name))
            if old is None:
                raise errors.new_not_found(info.group_resource, name)
            given = meta.get("resourceVersion")
            if given and given != old["metadata"].get("resourceVersion"):
                raise _conflict(info, name)
            return self._replace(info, key, old, obj, status_only)

    def patch(self, resource: Any, namespace: str, name: str, patch_type: str,
              patch: bytes | str | Any, subresource: str | None = None) -> dict[str, Any]:
        """Apply a JSON, merge or strategic-merge patch (see :mod:`.patch`) atomically.

        A patch that sets ``metadata.resourceVersion`` makes it a
        precondition: a stale value is a Conflict.
        """
        info, key = self._resolve(resource)
        status_only = self._check_subresource(info, subresource)
        ns = self._ns(info, namespace)
        with self._lock:
            old = self._objects.get(key, {}).get((ns, name))
            if old is None:
                raise errors.new_not_found(info.group_resource, name)
            patched = apply_patch(old, patch_type, patch)
            meta = _metadata(patched)
            given = meta.get("resourceVersion")
            if given and given != old["metadata"].get("resourceVersion"):
                raise _conflict(info, name)
            meta["name"] = name
            if info.namespaced:
                meta["namespace"] = ns
            return self._replace(info, key, old, patched, status_only)

    def delete(self, resource: Any, namespace: str, name: str, *,
               preconditions: dict[str, str] | None = None) -> None:
        """``Delete``: remove at once and send DELETED with the last state.

        ``preconditions`` (``uid``, ``resourceVersion``) must match the stored
        object, else Conflict -- how a controller avoids deleting a
        recreated namesake.
        """
        info, key = self._resolve(resource)
        ns = self._ns(info, namespace)
        with self._lock:
            stored = self._objects.get(key, {})
            old = stored.get((ns, name))
            if old is None:
                raise errors.new_not_found(info.group_resource, name)
            for field_name in ("uid", "resourceVersion"):
                wanted = (preconditions or {}).get(field_name)
                if wanted and wanted != old["metadata"].get(field_name):
                    raise errors.new_conflict(
                        info.group_resource, name,
                        f"precondition failed: {field_name} {wanted} does not match the object",
                    )
            del stored[(ns, name)]
            self._rv += 1
            last = deep_copy(old)
            last["metadata"]["resourceVersion"] = str(self._rv)
            self._emit(key, _Event(self._rv, str(watch.DELETED), ns, last))

    # -- watching ---------------------------------------------------------------
    def watch(self, resource: Any, namespace: str = "", opts: ListOptions | None = None
              ) -> watch.Interface:
        """``Watch``: events in ``namespace`` (``""``: all) from ``opts.resource_version``.

        See the module notes for replay, label selectors and buffer size.
        Raises BadRequest for a malformed resourceVersion or label selector.
        """
        info, key = self._resolve(resource)
        opts = opts or ListOptions()
        try:
            selector = labels.parse(opts.label_selector or "")
        except ValueError as err:
            raise errors.new_bad_request(f"invalid label selector: {err}") from None
        rv_text = opts.resource_version or ""
        if rv_text not in ("", "0") and not rv_text.isdigit():
            raise errors.new_bad_request(f"invalid resource version {rv_text!r}")
        w = _Watch(self._ns(info, namespace), selector, self._watch_size)
        with self._lock:
            if rv_text in ("", "0") or opts.send_initial_events:
                stored = self._objects.get(key, {})
                for k in sorted(stored):
                    obj = stored[k]
                    rv = int(obj["metadata"].get("resourceVersion") or 0)
                    w.send(_Event(rv, str(watch.ADDED), k[0], obj))
                if opts.send_initial_events:
                    # WatchList (KEP-3157): a bookmark marks the end of the initial state.
                    w.watcher.bookmark({
                        "apiVersion": info.api_version,
                        "kind": info.kind,
                        "metadata": {
                            "resourceVersion": str(self._rv),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    })
            else:
                since = int(rv_text)
                if since < self._compacted.get(key, 0):
                    gone = errors.new_gone(
                        f"too old resource version: {since} ({self._compacted[key]})")
                    w.watcher.error(gone.status)
                    w.watcher.stop()
                    return w.watcher
                for event in self._history.get(key, ()):
                    if event.rv > since:
                        w.send(event)
            self._watches.setdefault(key, []).append(w)
        return w.watcher

    # -- internals --------------------------------------------------------------
    def _replace(self, info: ResourceInfo, key: _Key, old: dict[str, Any],
                 new: dict[str, Any], status_only: bool) -> dict[str, Any]:
        """Store ``new`` in place of ``old`` under the status and system-field rules."""
        old_meta = old["metadata"]
        if self._has_status_subresource(key):
            if status_only:
                status = new.get("status")
                new = deep_copy(old)
                if status is None:
                    new.pop("status", None)
                else:
                    new["status"] = status
            elif "status" in old:
                new["status"] = deep_copy(old["status"])
            else:
                new.pop("status", None)
        new["apiVersion"], new["kind"] = info.api_version, info.kind
        meta = _metadata(new)
        for field_name in _SYSTEM_FIELDS:
            if field_name in old_meta:
                meta[field_name] = old_meta[field_name]
            else:
                meta.pop(field_name, None)
        meta["resourceVersion"] = old_meta.get("resourceVersion")
        if self._has_status_subresource(key) and _spec(new) != _spec(old):
            meta["generation"] = int(old_meta.get("generation") or 0) + 1
        if new == old:
            return deep_copy(old)  # nothing changed: no new resourceVersion, no event
        self._rv += 1
        meta["resourceVersion"] = str(self._rv)
        ns = meta.get("namespace") or ""
        self._objects[key][(ns, meta["name"])] = new
        self._emit(key, _Event(self._rv, str(watch.MODIFIED), ns, new, old))
        return deep_copy(new)

    def _emit(self, key: _Key, event: _Event) -> None:
        history = self._history.setdefault(key, deque())
        history.append(event)
        while len(history) > self._history_limit:
            self._compacted[key] = history.popleft().rv
        watches = self._watches.get(key)
        if not watches:
            return
        watches[:] = [w for w in watches if not w.watcher.is_stopped]
        for w in watches:
            w.send(event)

    def _resolve(self, resource: Any) -> tuple[ResourceInfo, _Key]:
        if isinstance(resource, str):
            resource = GroupVersionResource(resource=resource)
        if isinstance(resource, ResourceInfo):
            key = self._key(resource)
            with self._lock:
                return self._infos.setdefault(key, resource), key
        key = (resource.group, resource.resource)
        with self._lock:
            info = self._infos.get(key)
        if info is None:
            info = self._scheme.for_group_resource(*key)
            if info is None:
                raise ValueError(f"unknown resource {resource!r}: pass its ResourceInfo")
        return info, key

    @staticmethod
    def _key(info: ResourceInfo) -> _Key:
        return (info.group, info.resource)

    @staticmethod
    def _ns(info: ResourceInfo, namespace: str) -> str:
        return namespace if info.namespaced else ""

    def _has_status_subresource(self, key: _Key) -> bool:
        return key in self._scheme.status_subresources

    @staticmethod
    def _check_subresource(info: ResourceInfo, subresource: str | None) -> bool:
        if not subresource:
            return False
        if subresource == "status":
            return True
        raise errors.new_bad_request(
            f"the fake tracker does not support the {info.resource}/{subresource} subresource")

    @staticmethod
    def _request_namespace(info: ResourceInfo, meta: dict[str, Any], namespace: str) -> str:
        """The namespace a write applies to, checked against the object's own."""
        if not info.namespaced:
            meta.pop("namespace", None)
            return ""
        own = meta.get("namespace") or ""
        if own and namespace and own != namespace:
            raise errors.new_bad_request(
                "the namespace of the provided object does not match the namespace sent "
                "on the request")
        ns = own or namespace
        if not ns:
            raise errors.new_bad_request(f"a namespace is required for {info.resource}")
        meta["namespace"] = ns
        return ns

    def _generate_name(self, prefix: str, ns: str, stored: dict) -> str:
        while True:
            suffix = "".join(self._rng.choice(_GENERATE_NAME_ALPHABET) for _ in range(5))
            if (ns, prefix + suffix) not in stored:
                return prefix + suffix


def _metadata(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.setdefault("metadata", {})
    if not isinstance(meta, dict):
        raise errors.new_bad_request("metadata must be an object")
    return meta


def _spec(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in _NOT_SPEC}


def _conflict(info: ResourceInfo, name: str) -> errors.ConflictError:
    return errors.new_conflict(
        info.group_resource, name,
        "the object has been modified; please apply your changes to the latest version "
        "and try again",
    )


# -- reactions -------------------------------------------------------------------


def object_reaction(tracker: ObjectTracker) -> ReactionFunc:
    """``testing.ObjectReaction``: serve get/list/create/update/patch/delete from ``tracker``.

    API errors come back as the reaction's error.  A create on a subresource
    (``pods/eviction``, ``serviceaccounts/token``) echoes the submitted object
    without storing it, as in Go.  Other actions are not handled.
    """

    def react(action: Action) -> tuple[bool, Any, BaseException | None]:
        try:
            if isinstance(action, GetAction):
                return True, tracker.get(action.resource, action.namespace, action.name), None
            if isinstance(action, ListAction):
                return True, tracker.list(action.resource, action.namespace,
                                          action.list_options), None
            if isinstance(action, CreateAction):
                if action.subresource:
                    return True, deep_copy(action.object), None
                return True, tracker.create(action.resource, action.object,
                                            action.namespace), None
            if isinstance(action, UpdateAction):
                return True, tracker.update(action.resource, action.object, action.namespace,
                                            action.subresource or None), None
            if isinstance(action, PatchAction):
                return True, tracker.patch(action.resource, action.namespace, action.name,
                                           action.patch_type, action.patch,
                                           action.subresource or None), None
            if isinstance(action, DeleteAction):
                preconditions = action.delete_options.get("preconditions")
                tracker.delete(action.resource, action.namespace, action.name,
                               preconditions=preconditions)
                return True, None, None
        except errors.StatusError as err:
            return True, None, err
        return False, None, None

    return react


def watch_reaction(tracker: ObjectTracker) -> WatchReactionFunc:
    """The watch reactor a fake clientset installs: ``tracker.watch`` with the action's options."""

    def react(action: Action) -> tuple[bool, watch.Interface | None, BaseException | None]:
        opts = action.list_options if isinstance(action, WatchAction) else None
        try:
            return True, tracker.watch(action.resource, action.namespace, opts), None
        except errors.StatusError as err:
            return True, None, err

    return react


def default_watch_reactor(watcher: watch.Interface | None,
                          err: BaseException | None = None) -> WatchReactionFunc:
    """``testing.DefaultWatchReactor``: always answer with this watcher (or error).

    With a :class:`~bitcoin_controller.apimachinery.watch.FakeWatcher`, a test
    feeds events by hand::

        w = watch.FakeWatcher()
        cs.prepend_watch_reactor("pods", default_watch_reactor(w))
        w.add(pod)
    """

    def react(action: Action) -> tuple[bool, watch.Interface | None, BaseException | None]:
        return True, watcher, err

    return react

