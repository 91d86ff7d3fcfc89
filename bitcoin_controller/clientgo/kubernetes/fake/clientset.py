"""A fake clientset for unit tests, mirroring ``k8s.io/client-go/kubernetes/fake``.

``Clientset(*objects)`` offers the same surface as the real clientset
(:class:`~bitcoin_controller.clientgo.kubernetes.Interface`) but every call
becomes an :mod:`action <bitcoin_controller.clientgo.testing.actions>`, is
logged, and is answered by the reactor chain -- by default an
:class:`~bitcoin_controller.clientgo.testing.ObjectTracker` seeded with
``objects``.  Watches are fed by the same tracker, so informers running on a
fake clientset see the creates, updates and deletes a test (or the
controller under test) makes.

The calls build exactly the actions Go's generated fake clients build:
``update_status`` is an update with subresource ``"status"``, ``patch`` with
a subresource is a patch action on that subresource, list and watch actions
carry the namespace and the ``ListOptions`` (watch with ``watch=True``), and
cluster-scoped resources use the root (namespace-less) actions.  As in Go,
``list`` applies the label selector itself, after the reactors, so a
reactor's list answer is filtered too; field selectors are ignored.

sample-controller's test recipe works unchanged: seed objects, run the sync
handler, then compare ``cs.actions()`` (usually without the informers' own
list/watch actions) with the expected actions.
"""

from __future__ import annotations

from typing import Any

from ....apimachinery import errors, labels, watch
from ....apimachinery.metav1 import ListOptions
from ....apimachinery.schema import ResourceInfo
from ....apimachinery.types import MERGE_PATCH
from ....utils.clock import REAL_CLOCK, Clock
from ...rest.body import delete_options, encode_json
from ...testing import actions as act
from ...testing.fake import Fake
from ...testing.fixture import ObjectTracker, object_reaction, watch_reaction
from .. import scheme
from ..clientset import NAMESPACE_ALL, Interface, ResourceClient

__all__ = ["Clientset", "FakeResourceClient", "new_simple_clientset", "new_clientset"]


class Clientset(Fake, Interface):
    """``fake.Clientset``: a :class:`~bitcoin_controller.clientgo.testing.Fake` with typed clients.

    Being a ``Fake`` (Go embeds ``testing.Fake``), it has ``actions()``,
    ``clear_actions()``, ``add_reactor``, ``prepend_reactor``,
    ``add_watch_reactor`` and ``prepend_watch_reactor``; ``tracker`` is the
    object store.  Pass ``tracker`` to share one store between clientsets or
    to configure it (clock, watch buffer size).
    """

    def __init__(
        self,
        *objects: dict[str, Any],
        tracker: ObjectTracker | None = None,
        clock: Clock = REAL_CLOCK,
    ) -> None:
        Fake.__init__(self)
        self.tracker = tracker if tracker is not None else ObjectTracker(scheme.SCHEME, clock=clock)
        for obj in objects:
            self.tracker.add(obj)
        self.add_reactor("*", "*", object_reaction(self.tracker))
        self.add_watch_reactor("*", watch_reaction(self.tracker))

    def resource(self, info: ResourceInfo, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return FakeResourceClient(self, info, namespace)


def new_simple_clientset(*objects: dict[str, Any]) -> Clientset:
    """``fake.NewSimpleClientset``."""
    return Clientset(*objects)


def new_clientset(*objects: dict[str, Any]) -> Clientset:
    """``fake.NewClientset`` (without server-side apply support)."""
    return Clientset(*objects)


class FakeResourceClient(ResourceClient):
    """A generated fake typed client: builds the action, invokes the fake, raises its error."""

    def __init__(self, fake: Fake, info: ResourceInfo, namespace: str = NAMESPACE_ALL) -> None:
        super().__init__(info, namespace)
        self.fake = fake

    def _invoke(self, action: act.Action) -> Any:
        obj, err = self.fake.invokes(action, None)
        if err is not None:
            raise err
        # Go returns an empty object when no reactor supplied one.
        return {} if obj is None else obj

    def get(self, name: str) -> dict[str, Any]:
        return self._invoke(act.new_get_action(self.info, self.namespace, name))

    def list(self, opts: ListOptions | None = None) -> dict[str, Any]:
        opts = opts or ListOptions()
        try:
            selector = labels.parse(opts.label_selector or "")
        except ValueError as err:
            raise errors.new_bad_request(f"invalid label selector: {err}") from None
        action = act.new_list_action(self.info, self.info.kind, self.namespace, opts)
        result = self._invoke(action)
        if not result:
            result = {"apiVersion": self.info.api_version, "kind": self.info.list_kind,
                      "metadata": {}, "items": []}
        if selector.empty():
            return result
        items = [item for item in result.get("items") or []
                 if selector.matches((item.get("metadata") or {}).get("labels") or {})]
        return {**result, "items": items}

    def watch(self, opts: ListOptions | None = None) -> watch.Interface:
        action = act.new_watch_action(self.info, self.namespace,
                                      (opts or ListOptions()).copy(watch=True))
        watcher, err = self.fake.invokes_watch(action)
        if err is not None:
            raise err
        return watcher

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._invoke(act.new_create_action(self.info, self.namespace, obj))

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._invoke(act.new_update_action(self.info, self.namespace, obj))

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._invoke(
            act.new_update_subresource_action(self.info, "status", self.namespace, obj))

    def patch(
        self,
        name: str,
        patch: bytes | dict[str, Any] | list[Any],
        patch_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        data = encode_json(patch)
        if subresource:
            action = act.new_patch_subresource_action(
                self.info, self.namespace, name, patch_type, data, subresource)
        else:
            action = act.new_patch_action(self.info, self.namespace, name, patch_type, data)
        return self._invoke(action)

    def delete(
        self,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
        grace_period_seconds: int | None = None,
    ) -> None:
        opts = delete_options(
            propagation_policy=propagation_policy,
            preconditions=preconditions,
            grace_period_seconds=grace_period_seconds,
        )
        _, err = self.fake.invokes(
            act.new_delete_action_with_options(self.info, self.namespace, name, opts), None)
        if err is not None:
            raise err
