"""The client-go mirror against a real API server.

Unit tests drive the machinery with fakes; these tests check that the same
code holds up against kube-apiserver itself, where the interesting
behaviours come from the server: resourceVersions, bookmarks, 410 Expired
after compaction, connections that die, RBAC.  Each test uses its own
namespace, cleans up after itself, and waits on conditions with deadlines,
never on fixed sleeps.

Run: ``.venv/bin/pytest -q test_integration/test_machinery_integration.py``
(the session fixtures in conftest.py bring the local cluster up).
"""

from __future__ import annotations

import datetime
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers_machinery import (
    GatedListWatch,
    HandlerRecorder,
    RecordingStore,
    admin_config,
    config_map,
    create_namespace,
    delete_namespace,
    kubectl_get,
    new_clientset,
    peer_apiserver,
    running_informer,
    running_reflector,
    store_view,
    tcp_proxy,
    wait_for,
)

from bitcoin_controller.apimachinery import errors, labels
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.apimachinery.schema import ResourceInfo
from bitcoin_controller.apimachinery.watch import EventType
from bitcoin_controller.clientgo.informers import SharedInformerFactory
from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.clientgo.kubernetes.scheme import CONFIG_MAPS, EVENTS
from bitcoin_controller.clientgo.tools.cache import (
    NAMESPACE_INDEX,
    DeletedFinalStateUnknown,
    meta_namespace_index_func,
)
from bitcoin_controller.clientgo.tools.cache.listwatch import (
    new_filtered_list_watch_from_client,
    new_list_watch_from_client,
)
from bitcoin_controller.clientgo.tools.cache.reflector import Reflector, is_connection_refused
from bitcoin_controller.clientgo.tools.cache.shared_informer import SharedIndexInformer
from bitcoin_controller.clientgo.tools.leaderelection import (
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElectionRecord,
    LeaderElector,
    LeaseLock,
)
from bitcoin_controller.clientgo.tools.leaderelection.resourcelock.interface import (
    Interface as LockInterface,
)
from bitcoin_controller.clientgo.tools.record import (
    EVENT_TYPE_NORMAL,
    EVENT_TYPE_WARNING,
    EventSinkImpl,
    EventSource,
    new_broadcaster,
)

if os.environ.get("MACHINERY_IT_CLUSTER_BASE"):
    # Development aid: run these tests against a private local cluster in the
    # given directory (binaries from .local-cluster/bin), so that compacting its
    # etcd cannot disturb other people's test runs on a shared cluster, nor
    # their API server restarts ours.  Overrides conftest's ``cluster`` for this
    # module only; LOCAL_CLUSTER_KEEP=1 leaves it running afterwards.
    from conftest import ROOT, ClusterInfo
    from localcluster import LocalCluster

    @pytest.fixture(scope="session")
    def cluster() -> Iterator[ClusterInfo]:
        local = LocalCluster(ROOT, base=os.environ["MACHINERY_IT_CLUSTER_BASE"],
                             bin_dir=ROOT / ".local-cluster" / "bin")
        started = local.up()
        try:
            yield ClusterInfo("local", local.kubeconfig, local)
        finally:
            if started and not os.environ.get("LOCAL_CLUSTER_KEEP"):
                local.down()


ROLES = ResourceInfo("rbac.authorization.k8s.io", "v1", "roles", "Role")
ROLE_BINDINGS = ResourceInfo("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding")


@pytest.fixture(scope="module")
def client(kubeconfig: str) -> Clientset:
    """The admin clientset (our own REST clientset, not the kubernetes package)."""
    return new_clientset(kubeconfig)


@pytest.fixture
def other_namespace(client: Clientset) -> Iterator[str]:
    """A second namespace for tests that need changes *outside* the watched one."""
    name = create_namespace(client, "it-machinery-other")
    try:
        yield name
    finally:
        delete_namespace(client, name)


def rv(obj: dict[str, Any]) -> int:
    """An object's resourceVersion as a number.

    resourceVersions are opaque to clients and the machinery never compares
    them; the tests may, because this API server is backed by etcd, where
    they are the (increasing) revision numbers.
    """
    return int(obj["metadata"]["resourceVersion"])


# --------------------------------------------------------------------------- clientset


def test_clientset_errors_from_real_server_integration(
    kubeconfig: str, client: Clientset, namespace: str
) -> None:
    """Real Status replies map onto the typed errors, with the server's reason and code."""
    cms = client.core_v1().config_maps(namespace)

    with pytest.raises(errors.NotFoundError) as not_found:
        cms.get("missing")
    assert not_found.value.code == 404
    assert 'configmaps "missing" not found' in not_found.value.message

    created = cms.create(config_map("it-errors", {"k": "v1"}))
    with pytest.raises(errors.AlreadyExistsError) as exists:
        cms.create(config_map("it-errors"))
    assert (exists.value.code, exists.value.reason) == (409, "AlreadyExists")

    # Optimistic concurrency: an update carrying a stale resourceVersion is a Conflict.
    fresh = cms.update({**created, "data": {"k": "v2"}})
    assert rv(fresh) > rv(created)
    with pytest.raises(errors.ConflictError) as conflict:
        cms.update({**created, "data": {"k": "stale"}})
    assert (conflict.value.code, conflict.value.reason) == (409, "Conflict")
    assert cms.get("it-errors")["data"] == {"k": "v2"}

    # A delete precondition on a stale resourceVersion is a Conflict too.
    with pytest.raises(errors.ConflictError):
        cms.delete("it-errors",
                   preconditions={"resourceVersion": created["metadata"]["resourceVersion"]})

    with pytest.raises(errors.InvalidError) as invalid:
        cms.create(config_map("Not_A_Valid_Name"))
    assert (invalid.value.code, invalid.value.reason) == (422, "Invalid")
    assert invalid.value.details.get("causes"), "the server explains which field is invalid"

    token = admin_config(kubeconfig).bearer_token
    for err in (not_found.value, exists.value, conflict.value, invalid.value):
        assert not token or token not in f"{err} {err!r}", "credentials never reach error text"


# --------------------------------------------------------------------------- RBAC


def test_rbac_enforced_when_impersonating_service_account_integration(
    kubeconfig: str, client: Clientset, namespace: str
) -> None:
    """Acting as a ServiceAccount through impersonation, the server's RBAC decides.

    Without a binding the list is Forbidden (403, typed as ForbiddenError);
    after a Role granting ``list secrets`` is bound, exactly that works --
    and nothing else: configmaps stay forbidden, as do secrets elsewhere.
    """
    sa_name = "it-reader"
    client.core_v1().service_accounts(namespace).create(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa_name}}
    )
    user = f"system:serviceaccount:{namespace}:{sa_name}"
    as_sa = new_clientset(kubeconfig, impersonate_user=user)

    with pytest.raises(errors.ForbiddenError) as forbidden:
        as_sa.core_v1().secrets(namespace).list()
    assert forbidden.value.code == 403
    assert user in forbidden.value.message
    assert 'cannot list resource "secrets"' in forbidden.value.message

    client.resource(ROLES, namespace).create({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "it-secret-reader"},
        "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get", "list"]}],
    })
    client.resource(ROLE_BINDINGS, namespace).create({
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "it-secret-reader"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "it-secret-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": sa_name, "namespace": namespace}],
    })
    client.core_v1().secrets(namespace).create({
        "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "it-secret"},
        "stringData": {"password": "not-logged"},
    })

    # The authorizer sees new bindings through its own informers: poll until it does.
    listed = wait_for(lambda: as_sa.core_v1().secrets(namespace).list(), 30,
                      "the RoleBinding to take effect")
    assert "it-secret" in {s["metadata"]["name"] for s in listed["items"]}
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().config_maps(namespace).list()
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().secrets("default").list()
    with pytest.raises(errors.ForbiddenError):
        as_sa.core_v1().secrets(namespace).delete("it-secret")


# --------------------------------------------------------------------------- bookmarks


@pytest.mark.timeout(60)
def test_watch_bookmark_from_real_server_integration(
    client: Clientset, namespace: str, other_namespace: str
) -> None:
    """A quiet watch still gets a BOOKMARK carrying a newer resourceVersion.

    kube-apiserver's watch cache (k8s.io/apiserver 1.34, cacher.go and
    cache_watcher.go) schedules a bookmark for every watch that allows them
    once a minute *and* two seconds before the watch's deadline; its
    resourceVersion is the newest the cache has processed for the whole
    resource -- here advanced by a change in another namespace that this
    watch does not receive.  With ``timeoutSeconds=5`` the bookmark comes
    about three seconds in, and the server ends the stream at five.

    The label selector keeps out objects other components may create in the
    namespace meanwhile (kube-root-ca.crt); bookmarks are never filtered.
    """
    cms = client.core_v1().config_maps(namespace)
    start = cms.create(config_map("it-quiet", app="it-bookmark"))
    w = cms.watch(ListOptions(resource_version=start["metadata"]["resourceVersion"],
                              label_selector="app=it-bookmark",
                              allow_watch_bookmarks=True, timeout_seconds=5))
    elsewhere = client.core_v1().config_maps(other_namespace).create(
        config_map("it-elsewhere", app="it-bookmark"))

    events = list(w)  # ends when the server closes the stream at its timeout

    assert [e for e in events if e["type"] != EventType.BOOKMARK] == [], \
        "nothing changed in the watched namespace"
    bookmarks = [e["object"] for e in events if e["type"] == EventType.BOOKMARK]
    assert bookmarks, "the server sends a bookmark shortly before the watch deadline"
    assert bookmarks[-1]["kind"] == "ConfigMap"
    assert "name" not in bookmarks[-1]["metadata"], "a bookmark carries only a resourceVersion"
    assert rv(bookmarks[-1]) >= rv(elsewhere) > rv(start)


@pytest.mark.timeout(90)
def test_reflector_bookmarks_advance_resource_version_integration(
    client: Clientset, namespace: str, other_namespace: str
) -> None:
    """Bookmarks move ``last_sync_resource_version()`` past the last object event, and the
    reflector resumes from there without a relist.

    The reflector's own 5-10 minute watches would see a bookmark once a
    minute; the gate shortens ``timeoutSeconds`` to 6 s so the pre-deadline
    bookmark comes within seconds (the only thing changed in the reflector's
    requests).  A label selector keeps other components' objects out.
    """

    def only_ours(opts: ListOptions) -> None:
        opts.label_selector = "app=it-bookmark"

    gate = GatedListWatch(
        new_filtered_list_watch_from_client(client, CONFIG_MAPS, namespace, only_ours),
        watch_timeout_seconds=6,
    )
    store = RecordingStore()
    reflector = Reflector("it-bookmarks", gate, CONFIG_MAPS, store)
    with running_reflector(reflector):
        store.wait(lambda s: ("replace" in {v for v, _ in s.log}), 30, "the initial list")
        last_event = client.core_v1().config_maps(namespace).create(
            config_map("it-last-event", app="it-bookmark"))
        store.wait(lambda s: ("add", "it-last-event") in s.log, 30, "the watch event")
        calls_after_event = len(store.snapshot())

        elsewhere = client.core_v1().config_maps(other_namespace).create(
            config_map("it-other", app="it-bookmark"))
        assert rv(elsewhere) > rv(last_event)
        wait_for(lambda: int(reflector.last_sync_resource_version()) >= rv(elsewhere), 30,
                 "a bookmark to advance the resourceVersion")
        gate.wait_calls(
            lambda g: any(int(o.resource_version or 0) >= rv(elsewhere) for o in g.watch_calls),
            30, "a re-watch from the bookmark's resourceVersion")

    assert store.snapshot()[calls_after_event:] == [], "no object event moved the version"
    assert len(gate.list_calls) == 1, "a clean watch end re-watches without relisting"
    assert all(o.allow_watch_bookmarks for o in gate.watch_calls)


# --------------------------------------------------------------------------- dropped connection


@pytest.mark.timeout(90)
def test_watch_survives_dropped_connection_integration(
    kubeconfig: str, client: Clientset, namespace: str
) -> None:
    """A watch whose TCP connection is cut just ends (no exception escapes the iteration),
    and a reflector re-watches from its last resourceVersion: no relist, nothing missed."""
    server = admin_config(kubeconfig).host
    with tcp_proxy(server) as proxy:
        via_proxy = new_clientset(kubeconfig, host=proxy.url)
        cms_proxy = via_proxy.core_v1().config_maps(namespace)
        cms = client.core_v1().config_maps(namespace)

        # -- the raw watch ------------------------------------------------------
        start_rv = cms_proxy.list()["metadata"]["resourceVersion"]
        w = cms_proxy.watch(ListOptions(resource_version=start_rv))
        seen: list[dict[str, Any]] = []
        outcome: dict[str, Any] = {}
        cond = threading.Condition()

        def consume() -> None:
            try:
                for event in w:
                    with cond:
                        seen.append(event)
                        cond.notify_all()
            except BaseException as err:  # noqa: BLE001 - the assertion below reports it
                outcome["error"] = err
            finally:
                with cond:
                    outcome["ended"] = True
                    cond.notify_all()

        consumer = threading.Thread(target=consume, name="it-raw-watch", daemon=True)
        consumer.start()
        cms.create(config_map("it-before-drop"))
        with cond:
            assert cond.wait_for(lambda: any(e["object"]["metadata"].get("name") == "it-before-drop"
                                             for e in seen), 30)
        assert proxy.drop_connections() >= 1
        with cond:
            assert cond.wait_for(lambda: outcome.get("ended"), 30), "the watch notices the drop"
        assert "error" not in outcome, f"a dropped connection ends the watch: {outcome}"
        w.stop()  # idempotent after the end

        # -- a reflector through the proxy ---------------------------------------
        gate = GatedListWatch(new_list_watch_from_client(via_proxy, CONFIG_MAPS, namespace))
        store = RecordingStore()
        with running_reflector(Reflector("it-dropped", gate, CONFIG_MAPS, store)):
            store.wait(lambda s: "it-before-drop" in s.names(), 30, "the initial list")
            first = cms.create(config_map("it-event-1"))
            store.wait(lambda s: ("add", "it-event-1") in s.log, 30, "a watch event")
            assert proxy.drop_connections() >= 1
            cms.create(config_map("it-event-2"))
            store.wait(lambda s: ("add", "it-event-2") in s.log, 60, "the event after the drop")

        assert len(gate.list_calls) == 1, "a dropped watch is resumed, not relisted"
        assert len(gate.watch_calls) >= 2
        assert int(gate.watch_calls[1].resource_version or 0) >= rv(first)
        assert {"it-before-drop", "it-event-1", "it-event-2"} <= store.names()


# --------------------------------------------------------------------------- informers


@pytest.mark.timeout(120)
def test_informer_sync_events_and_lister_agree_with_kubectl_integration(
    kubeconfig: str, client: Clientset, namespace: str
) -> None:
    """The factory's config map informer: initial sync as adds, then live create/update/
    delete reach the handler, and the lister (the informer's cache) agrees with kubectl."""
    cms = client.core_v1().config_maps(namespace)
    cms.create(config_map("it-a", {"v": "1"}, app="it"))
    b = cms.create(config_map("it-b", {"v": "1"}, app="it"))

    factory = SharedInformerFactory(client, 0.0, namespace=namespace)
    config_maps = factory.core().v1().config_maps()
    informer = config_maps.informer()
    lister = config_maps.lister().config_maps(namespace)
    assert factory.core().v1().config_maps().informer() is informer, "one informer per resource"
    handler = HandlerRecorder()
    registration = informer.add_event_handler(handler)
    stop = threading.Event()
    give_up = threading.Timer(60, stop.set)  # the deadline of wait_for_cache_sync
    give_up.start()
    factory.start(stop)
    try:
        assert factory.wait_for_cache_sync(stop) == {CONFIG_MAPS: True}
        give_up.cancel()
        wait_for(registration.has_synced, 30, "the handler to receive the initial list")
        initial = {_name(c.obj): c.is_in_initial_list for c in handler.snapshot()}
        assert initial["it-a"] is True and initial["it-b"] is True
        wait_for(lambda: kubectl_get(kubeconfig, "configmaps", namespace)
                 == store_view(lister.list()), 30, "the lister to agree with kubectl")

        cms.create(config_map("it-c", {"v": "1"}, app="it"))
        added = handler.wait(handler.find("add", "it-c"), 30, "the creation")
        assert added.is_in_initial_list is False

        updated = cms.update({**cms.get("it-a"), "data": {"v": "2"}})
        update = handler.wait(handler.find("update", "it-a"), 30, "the update")
        assert (update.old["data"], update.obj["data"]) == ({"v": "1"}, {"v": "2"})
        assert rv(update.obj) == rv(updated)

        cms.delete("it-b")
        deleted = handler.wait(handler.find("delete", "it-b"), 30, "the deletion").obj
        assert isinstance(deleted, dict), "a deletion seen live carries the final state"
        assert deleted["metadata"]["uid"] == b["metadata"]["uid"]

        assert lister.get("it-a")["data"] == {"v": "2"}
        with pytest.raises(errors.NotFoundError) as not_found:
            lister.get("it-b")
        assert 'configmap "it-b" not found' in str(not_found.value), "lister-gen's wording"
        assert {_name(o) for o in lister.list(labels.parse("app=it"))} == {"it-a", "it-c"}
        assert {_name(o) for o in informer.get_indexer().by_index(NAMESPACE_INDEX, namespace)} \
            == {_name(o) for o in lister.list()}
        wait_for(lambda: kubectl_get(kubeconfig, "configmaps", namespace)
                 == store_view(lister.list()), 30, "the lister to agree with kubectl")
    finally:
        give_up.cancel()
        stop.set()
        factory.shutdown()


def new_config_map_informer(lister_watcher: Any) -> SharedIndexInformer:
    """A config map informer with the ``namespace`` index, as a factory would build it."""
    return SharedIndexInformer(lister_watcher, CONFIG_MAPS, 0.0,
                               {NAMESPACE_INDEX: meta_namespace_index_func})


def event(namespace: str, name: str, message: str) -> dict[str, Any]:
    """A core/v1 Event about a (made-up) ConfigMap."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"apiVersion": "v1", "kind": "ConfigMap", "name": "it-subject",
                           "namespace": namespace},
        "reason": "Testing",
        "message": message,
        "type": "Normal",
        "source": {"component": "machinery-integration-test"},
        "count": 1,
        "firstTimestamp": now,
        "lastTimestamp": now,
    }


@pytest.mark.timeout(120)
def test_informer_relists_after_watch_expired_and_delivers_tombstone_integration(
    kubeconfig: str, client: Clientset, namespace: str, local_cluster: Any
) -> None:
    """A watch that cannot resume (410 Expired) leads to a relist; a deletion that happened
    while the informer was not watching reaches ``on_delete`` as a DeletedFinalStateUnknown.

    How the 410 is forced: the informer watches core/v1 *events*, the one
    resource kube-apiserver serves without a watch cache (1.34's
    ``DefaultWatchCacheSizes`` sets it to 0), so its watches are served by
    etcd itself.  The gate holds the reflector's watch closed (its WATCH call
    waits, with the resourceVersion it will resume from); behind its back one
    object is deleted, one changed and one created; then etcd is compacted.
    Released, the watch asks etcd for history that no longer exists and gets
    an ERROR event with 410 Expired; the reflector relists at its last
    resourceVersion and the DeltaFIFO infers the deletion.  (For cached
    resources the watch cache would replay recent history from memory despite
    the compaction; only an API server restart makes those expire.)

    Unchanged objects come back from the relist as ``on_update(old, new)``
    with equal resourceVersions, also to a handler without resync: client-go
    marks a new listener as "syncing" until the first resync check, which an
    informer with resync period 0 never makes.  That is why handlers (like
    sample-controller's) ignore updates whose resourceVersion did not change.
    """
    events = client.core_v1().events(namespace)
    for name in ("it-keep", "it-change", "it-doomed"):
        events.create(event(namespace, name, "first"))
    gate = GatedListWatch(new_list_watch_from_client(client, EVENTS, namespace))
    informer = SharedIndexInformer(gate, EVENTS, 0.0, {NAMESPACE_INDEX: meta_namespace_index_func})
    handler = HandlerRecorder()
    informer.add_event_handler(handler)
    try:
        with running_informer(informer):
            wait_for(informer.has_synced, 30, "the initial sync")
            handler.wait(handler.find("add", "it-doomed"), 30, "the initial adds")
            # One event on the current watch, so that ending it is a clean close
            # (re-watch at once) rather than a "very short watch" (relist first).
            events.create(event(namespace, "it-canary", "live"))
            handler.wait(handler.find("add", "it-canary"), 30, "a live event")

            gate.hold()
            held_rv = gate.wait_blocked(30).resource_version
            assert held_rv, "the reflector resumes from a concrete resourceVersion"
            calls_before = len(handler.snapshot())
            lists_before = len(gate.list_calls)

            # Behind the informer's back:
            doomed = events.get("it-doomed")
            events.delete("it-doomed")
            changed = events.update({**events.get("it-change"), "message": "second"})
            events.create(event(namespace, "it-born", "new"))
            local_cluster.compact_etcd()
            assert handler.snapshot()[calls_before:] == [], "the informer saw nothing yet"
            gate.release()

            tombstone = handler.wait(handler.find("delete", "it-doomed"), 60,
                                     "the missed deletion").obj
            assert isinstance(tombstone, DeletedFinalStateUnknown)
            assert tombstone.key == f"{namespace}/it-doomed"
            assert tombstone.obj["metadata"]["uid"] == doomed["metadata"]["uid"], \
                "the tombstone carries the last state the cache knew"
            update = handler.wait(handler.find("update", "it-change"), 30, "the missed update")
            assert update.obj["message"] == "second"
            assert rv(update.obj) == rv(changed) > rv(update.old)
            added = handler.wait(handler.find("add", "it-born"), 30, "the missed creation")
            assert added.is_in_initial_list is False
            keep = handler.wait(handler.find("update", "it-keep"), 30, "the relisted object")
            assert rv(keep.old) == rv(keep.obj), "unchanged, and visibly so"

            assert [s.get("code") for s in gate.error_events] == [410], \
                "the resumed watch was refused with 410 Expired"
            assert len(gate.list_calls) > lists_before, "the expired watch led to a relist"
            assert gate.list_calls[lists_before].resource_version == held_rv, \
                'classic client-go relists at the last resourceVersion, not at ""'
            wait_for(lambda: kubectl_get(kubeconfig, "events", namespace)
                     == store_view(informer.get_indexer().list()), 30,
                     "the cache to agree with kubectl")
    finally:
        gate.release()


@pytest.mark.timeout(180)
def test_informer_reconnects_after_apiserver_restart_integration(
    kubeconfig: str, client: Clientset, namespace: str, tmp_path: Path, local_cluster: Any
) -> None:
    """The informer's API server goes away and comes back: the reflector backs off on
    "connection refused", reconnects, and converges -- including changes made while it
    was down (another API server of the cluster took them).

    The informer talks to a peer kube-apiserver (see ``PeerAPIServer``; it
    clones the local cluster's API server process, hence ``local_cluster``); the
    restarted peer starts with a fresh watch cache, so the re-watch from the
    old resourceVersion is refused (410) and the reflector relists -- the
    deletion made during the outage arrives as a tombstone.
    """
    cms = client.core_v1().config_maps(namespace)
    cms.create(config_map("it-before"))
    cms.create(config_map("it-doomed"))
    with peer_apiserver(kubeconfig, tmp_path / "peer-kube-apiserver.log") as peer:
        via_peer = new_clientset(kubeconfig, host=peer.url)
        gate = GatedListWatch(new_list_watch_from_client(via_peer, CONFIG_MAPS, namespace))
        informer = new_config_map_informer(gate)
        handler = HandlerRecorder()
        informer.add_event_handler(handler)
        with running_informer(informer):
            wait_for(informer.has_synced, 30, "the initial sync")
            handler.wait(handler.find("add", "it-doomed"), 30, "the initial adds")
            # An event on the current watch: its end is then a clean close, and the
            # reflector re-watches at once (refused) instead of relisting first.
            cms.create(config_map("it-canary"))
            handler.wait(handler.find("add", "it-canary"), 30, "a live event")

            peer.stop()
            gate.wait_calls(lambda g: any(is_connection_refused(e) for e in g.watch_errors),
                            60, "a watch refused while the server is down")
            cms.create(config_map("it-during"))
            cms.delete("it-doomed")
            peer.start()
            cms.create(config_map("it-after"))

            handler.wait(handler.find("add", "it-during"), 90, "the creation during the outage")
            handler.wait(handler.find("add", "it-after"), 30, "the creation after the restart")
            gone = handler.wait(handler.find("delete", "it-doomed"), 30, "the missed deletion")
            assert isinstance(gone.obj, DeletedFinalStateUnknown)
            wait_for(lambda: kubectl_get(kubeconfig, "configmaps", namespace)
                     == store_view(informer.get_indexer().list()), 30,
                     "the cache to agree with kubectl")

    lists, _ = gate.counts()
    assert lists >= 2, "the fresh watch cache of the restarted server forced a relist"
    deletes = [_name(c.obj) for c in handler.snapshot() if c.kind == "delete"]
    assert deletes == ["it-doomed"], "nothing else was lost"


def _name(obj: Any) -> str:
    if isinstance(obj, DeletedFinalStateUnknown):
        return obj.key.rsplit("/", 1)[-1]
    return obj["metadata"]["name"]


# --------------------------------------------------------------------------- leader election


class BlockableLock(LockInterface):
    """A LeaseLock whose API calls can be cut off, as by a network partition.

    While blocked, every read and write fails: the holder can no longer renew
    and must give up leadership by its renew deadline -- before anyone else
    can take over after ``lease_duration``.
    """

    def __init__(self, inner: LeaseLock) -> None:
        self._inner = inner
        self.blocked = threading.Event()

    def _check(self) -> None:
        if self.blocked.is_set():
            raise ConnectionError("partitioned from the API server (test)")

    def get(self) -> tuple[LeaderElectionRecord, bytes]:
        self._check()
        return self._inner.get()

    def create(self, record: LeaderElectionRecord) -> None:
        self._check()
        self._inner.create(record)

    def update(self, record: LeaderElectionRecord) -> None:
        self._check()
        self._inner.update(record)

    def record_event(self, message: str) -> None:
        self._inner.record_event(message)

    def identity(self) -> str:
        return self._inner.identity()

    def describe(self) -> str:
        return self._inner.describe()


class Candidate:
    """One elector on its own thread, with a journal of what its callbacks saw."""

    def __init__(self, identity: str, client: Clientset, namespace: str,
                 journal: list[tuple[str, str]], cond: threading.Condition) -> None:
        self.identity = identity
        self.lock = BlockableLock(LeaseLock(namespace, "it-election", client, identity))
        self.work_stop: threading.Event | None = None
        self.new_leaders: list[str] = []
        self._journal = journal
        self._cond = cond
        self.elector = LeaderElector(LeaderElectionConfig(
            self.lock,
            lease_duration=4.0,
            renew_deadline=3.0,
            retry_period=0.5,
            callbacks=LeaderCallbacks(
                on_started_leading=self._started,
                on_stopped_leading=self._stopped,
                on_new_leader=self._new_leader,
            ),
            name=f"it-{identity}",
        ))
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.elector.run, args=(self.stop,),
                                       name=f"it-elector-{identity}", daemon=True)

    def _note(self, what: str) -> None:
        with self._cond:
            self._journal.append((what, self.identity))
            self._cond.notify_all()

    def _started(self, work_stop: threading.Event) -> None:
        self.work_stop = work_stop
        self._note("started")
        work_stop.wait()  # the "controller" runs until leadership ends
        self._note("work-stopped")

    def _stopped(self) -> None:
        self._note("stopped")

    def _new_leader(self, identity: str) -> None:
        with self._cond:
            self.new_leaders.append(identity)
            self._cond.notify_all()


@pytest.mark.timeout(120)
def test_leader_election_on_real_lease_integration(client: Clientset, namespace: str) -> None:
    """Two candidates, one Lease: exactly one leads; when the leader can no longer renew,
    it stops its work by the renew deadline and the other takes over after the lease
    duration (4 s lease, 3 s renew deadline, 0.5 s retry)."""
    journal: list[tuple[str, str]] = []
    cond = threading.Condition()
    candidates = {i: Candidate(i, client, namespace, journal, cond) for i in ("alpha", "beta")}
    leases = client.coordination_v1().leases(namespace)

    def started() -> list[str]:
        return [who for what, who in journal if what == "started"]

    try:
        for c in candidates.values():
            c.thread.start()
        with cond:
            assert cond.wait_for(lambda: started(), 30), "someone acquires the lease"
        leader_id = started()[0]
        leader = candidates[leader_id]
        follower = candidates["beta" if leader_id == "alpha" else "alpha"]

        lease = leases.get("it-election")
        assert lease["spec"]["holderIdentity"] == leader_id
        assert lease["spec"]["leaseDurationSeconds"] == 4
        transitions = lease["spec"].get("leaseTransitions", 0)
        # The leader keeps renewing while the follower watches and waits.
        first_renew = lease["spec"]["renewTime"]
        wait_for(lambda: leases.get("it-election")["spec"]["renewTime"] != first_renew, 10,
                 "a renewal")
        with cond:
            assert cond.wait_for(lambda: leader_id in follower.new_leaders, 10)
            assert started() == [leader_id], "exactly one candidate leads"
        assert leader.elector.is_leader() and not follower.elector.is_leader()

        leader.lock.blocked.set()  # the leader is cut off from the API server

        with cond:
            assert cond.wait_for(lambda: ("stopped", leader_id) in journal, 20), \
                "the cut-off leader gives up by its renew deadline"
            assert cond.wait_for(lambda: ("started", follower.identity) in journal, 20), \
                "the follower takes over once the lease has expired"
            order = [entry for entry in journal if entry[0] in ("work-stopped", "started")]
        assert order.index(("work-stopped", leader_id)) < order.index(
            ("started", follower.identity)), "never two leaders at work"

        lease = leases.get("it-election")
        assert lease["spec"]["holderIdentity"] == follower.identity
        assert lease["spec"]["leaseTransitions"] == transitions + 1
        assert follower.elector.is_leader()
    finally:
        for c in candidates.values():
            c.stop.set()
        for c in candidates.values():
            c.thread.join(timeout=30)
    assert not any(c.thread.is_alive() for c in candidates.values())


# --------------------------------------------------------------------------- events


@pytest.mark.timeout(60)
def test_event_recorder_writes_and_aggregates_on_real_server_integration(
    client: Clientset, namespace: str
) -> None:
    """The event recorder creates an Event about an object, and a repeat of the same event
    becomes a PATCH of its count on the same Event object, as the server stores it."""
    subject = client.core_v1().config_maps(namespace).create(config_map("it-subject"))
    events = client.core_v1().events(namespace)
    broadcaster = new_broadcaster()
    broadcaster.start_recording_to_sink(EventSinkImpl(client))
    recorder = broadcaster.new_recorder(EventSource(component="machinery-it"))

    def ours() -> list[dict[str, Any]]:
        return [e for e in events.list()["items"]
                if e["involvedObject"].get("uid") == subject["metadata"]["uid"]]

    try:
        recorder.eventf(subject, EVENT_TYPE_NORMAL, "Tested", "hello %s", "world")
        (first,) = wait_for(ours, 30, "the event to be written")
        assert first["involvedObject"]["kind"] == "ConfigMap"
        assert first["involvedObject"]["name"] == "it-subject"
        assert first["involvedObject"]["namespace"] == namespace
        assert (first["type"], first["reason"], first["message"]) == \
            ("Normal", "Tested", "hello world")
        assert first["source"] == {"component": "machinery-it"}
        assert first["count"] == 1

        recorder.eventf(subject, EVENT_TYPE_NORMAL, "Tested", "hello %s", "world")
        (again,) = wait_for(lambda: [e for e in ours() if e["count"] == 2], 30,
                            "the repeat to be counted")
        assert again["metadata"]["name"] == first["metadata"]["name"], "patched, not re-created"
        assert len(ours()) == 1

        recorder.event(subject, EVENT_TYPE_WARNING, "Broken", "something else")
        wait_for(lambda: len(ours()) == 2, 30, "a different event to get its own object")
    finally:
        broadcaster.shutdown(5)
