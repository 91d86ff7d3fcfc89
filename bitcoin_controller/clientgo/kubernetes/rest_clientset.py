"""The clientset that talks to a real API server (``kubernetes.NewForConfig`` in Go).

client-go generates one typed client per resource; all of them are thin
wrappers that turn ``Get(ctx, name, opts)`` into ``GET /api/v1/namespaces/<ns>/pods/<name>``
on a shared ``rest.RESTClient``.  Because our objects are plain dicts, a
single :class:`RESTResourceClient` does that for every resource, with the
paths coming from :class:`~.scheme.ResourceInfo`.  Requests and responses are
raw JSON.

Watches (:meth:`RESTResourceClient.watch`) always ask for bookmarks and carry
a ``timeoutSeconds`` (random in [300, 600) unless given), the same choices
the reflector makes, and get a client-side read deadline a little past that
timeout so that a silently dead connection ends the watch instead of hanging
the informer.
"""

from __future__ import annotations

from typing import Any

from ...apimachinery import watch
from ...apimachinery.metav1 import ListOptions, get_name, get_namespace
from ...apimachinery.schema import ResourceInfo
from ...apimachinery.types import MERGE_PATCH
from ...utils.clock import REAL_CLOCK, Clock
from ..rest import RESTClient, StreamWatcher, delete_options, encode_json, random_watch_timeout
from ..rest.config import Config
from .clientset import NAMESPACE_ALL, Interface, ResourceClient

__all__ = ["Clientset", "RESTResourceClient", "new_for_config"]


class Clientset(Interface):
    """``kubernetes.Clientset``: every group of the API over one :class:`~..rest.RESTClient`.

    ``Clientset(config)`` and ``Clientset.new_for_config(config)`` are the
    same; the latter is the Go spelling.
    """

    def __init__(self, config: Config, *, clock: Clock = REAL_CLOCK) -> None:
        self.config = config
        self.rest_client = RESTClient(config, clock=clock)

    @classmethod
    def new_for_config(cls, config: Config) -> Clientset:
        return cls(config)

    def resource(self, info: ResourceInfo, namespace: str = NAMESPACE_ALL) -> ResourceClient:
        return RESTResourceClient(self.rest_client, info, namespace)


def new_for_config(config: Config) -> Clientset:
    """``kubernetes.NewForConfig``."""
    return Clientset(config)


class RESTResourceClient(ResourceClient):
    """One resource in one namespace, over REST (a generated typed client in Go).

    For create/update, when the client was made for all namespaces (``""``),
    the object's own ``metadata.namespace`` picks the path -- a convenience
    the Go typed clients do not have, harmless because the server rejects a
    namespace mismatch anyway.
    """

    def __init__(self, client: RESTClient, info: ResourceInfo, namespace: str = NAMESPACE_ALL):
        super().__init__(info, namespace)
        self.client = client

    def _namespace_of(self, obj: dict[str, Any]) -> str:
        if not self.info.namespaced:
            return ""
        return self.namespace or get_namespace(obj)

    def get(self, name: str) -> dict[str, Any]:
        return self.client.get().abs_path(self.info.path(self.namespace, name)).do()

    def list(self, opts: ListOptions | None = None) -> dict[str, Any]:
        query = (opts or ListOptions()).to_query()
        return self.client.get().abs_path(self.info.path(self.namespace)).params(query).do()

    def watch(self, opts: ListOptions | None = None) -> watch.Interface:
        opts = (opts or ListOptions()).copy(watch=True)
        if opts.allow_watch_bookmarks is None:
            opts.allow_watch_bookmarks = True
        if opts.timeout_seconds is None:
            opts.timeout_seconds = random_watch_timeout()
        request = self.client.get().abs_path(self.info.path(self.namespace)).params(opts.to_query())
        watcher: StreamWatcher = request.watch()
        return watcher

    def create(self, obj: dict[str, Any]) -> dict[str, Any]:
        path = self.info.path(self._namespace_of(obj))
        return self.client.post().abs_path(path).body(obj).do()

    def update(self, obj: dict[str, Any]) -> dict[str, Any]:
        path = self.info.path(self._namespace_of(obj), get_name(obj))
        return self.client.put().abs_path(path).body(obj).do()

    def update_status(self, obj: dict[str, Any]) -> dict[str, Any]:
        path = self.info.path(self._namespace_of(obj), get_name(obj), "status")
        return self.client.put().abs_path(path).body(obj).do()

    def patch(
        self,
        name: str,
        patch: bytes | dict[str, Any] | list[Any],
        patch_type: str = MERGE_PATCH,
        subresource: str | None = None,
    ) -> dict[str, Any]:
        path = self.info.path(self.namespace, name, subresource)
        return self.client.patch(patch_type).abs_path(path).body(encode_json(patch)).do()

    def delete(
        self,
        name: str,
        *,
        propagation_policy: str | None = None,
        preconditions: dict[str, str] | None = None,
        grace_period_seconds: int | None = None,
    ) -> None:
        body = delete_options(
            propagation_policy=propagation_policy,
            preconditions=preconditions,
            grace_period_seconds=grace_period_seconds,
        )
        self.client.delete().abs_path(self.info.path(self.namespace, name)).body(body).do()
