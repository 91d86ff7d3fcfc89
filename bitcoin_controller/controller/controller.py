"""The BitcoinNetwork controller, shaped like Kubernetes' sample-controller.

Informers for BitcoinNetworks, StatefulSets, Services and Pods keep local
caches; their event handlers only translate an event into the
``namespace/name`` key of the network it concerns and put it on a
rate-limited work queue.  Worker threads take keys off the queue and run
:meth:`Controller.sync_handler`, which is level-based: it reads the desired
state (the network) and the observed state (caches, the daemons' RPC), makes
one step towards the desired state and writes the status.  It does not care
which event woke it, so a missed or repeated event costs nothing, and every
resync re-checks everything -- including the peer mesh.

Errors are returned, never swallowed: the worker puts the key back with
``add_rate_limited`` (exponential backoff per key); success calls ``forget``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, cast

import structlog

from ..apimachinery import errors, labels, metav1
from ..apimachinery.wait import until
from ..apis.bitcoincontroller import v1 as api
from ..clientgo import listers
from ..clientgo.informers import GenericInformer
from ..clientgo.kubernetes import Interface
from ..clientgo.tools import cache
from ..clientgo.tools.record import EventRecorder
from ..clientgo.util import workqueue
from ..utils.clock import REAL_CLOCK, Clock
from . import events as ev
from . import metrics, nodeconfig, resources
from .credentials import Credentials, CredentialsError, SecretCache
from .implementations import P2P_PORT, Implementation, get_implementation
from .mesh import DEFAULT_MESH_TIMEOUT, MeshDeadlineExceeded, MeshMemory, NodeRPC, reconcile_mesh
from .status import (
    CONNECTED,
    MAX_EVENT_MESSAGE,
    READY,
    SYNCED,
    ConditionSet,
    InvalidNodeReport,
    NodeObservation,
    is_connected,
    node_entries,
    peer_graph,
    pod_ips,
    truncate_message,
)

__all__ = ["Controller", "RPCConnector", "SyncError", "CONTROLLER_NAME", "POLL_INTERVAL"]

log = structlog.get_logger("bitcoin_controller.controller")

CONTROLLER_NAME = "bitcoin-controller"
#: How soon to look again while nodes are ready but not yet connected or
#: synced: connections form within a second or two of ``addnode``, and the
#: daemons send no Kubernetes event when they do.
POLL_INTERVAL = 1.0
#: A sync running longer than this marks the process unhealthy (/healthz).
STUCK_SYNC_SECONDS = 300.0


class RPCConnector:
    """Opens an RPC session to one node; the controller's seam to the daemons."""

    def connect(
        self, impl: Implementation, host: str, credentials: Credentials, tls_cert_pem: str | None
    ) -> NodeRPC:  # pragma: no cover - interface
        raise NotImplementedError


class SyncError(Exception):
    """A sync that made progress but must be retried (its message is safe to log)."""


class Controller:
    """Reconciles BitcoinNetworks into a Service, a StatefulSet and a connected mesh.

    Built from informers handed in by the caller, as sample-controller's
    ``NewController`` is, so that tests can seed the informers' indexers
    directly and call :meth:`sync_handler` without any watch traffic.
    """

    def __init__(
        self,
        clientset: Interface,
        network_informer: GenericInformer,
        statefulset_informer: GenericInformer,
        service_informer: GenericInformer,
        pod_informer: GenericInformer,
        recorder: EventRecorder,
        rpc_connector: RPCConnector,
        *,
        default_images: dict[str, str] | None = None,
        rate_limiter: workqueue.RateLimiter | None = None,
        rpc_pool_size: int = 16,
        clock: Clock = REAL_CLOCK,
        mesh_timeout: float = DEFAULT_MESH_TIMEOUT,
        secret_cache: SecretCache | None = None,
    ) -> None:
        self.clientset = clientset
        self.recorder = recorder
        self.rpc_connector = rpc_connector
        self.default_images = dict(default_images or {})
        self.clock = clock
        #: Seconds the mesh step of one sync may take (far below STUCK_SYNC_SECONDS).
        self.mesh_timeout = mesh_timeout

        self.networks_lister = cast(listers.BitcoinNetworkLister, network_informer.lister())
        self.statefulsets_lister = cast(listers.StatefulSetLister, statefulset_informer.lister())
        self.services_lister = cast(listers.ServiceLister, service_informer.lister())
        self.pods_lister = cast(listers.PodLister, pod_informer.lister())
        self._informers_synced = [
            network_informer.informer().has_synced,
            statefulset_informer.informer().has_synced,
            service_informer.informer().has_synced,
            pod_informer.informer().has_synced,
        ]
        self.workqueue = workqueue.RateLimitingQueue(
            rate_limiter or workqueue.default_controller_rate_limiter(), name="bitcoinnetworks", clock=clock
        )
        self.rpc_pool = ThreadPoolExecutor(max_workers=rpc_pool_size, thread_name_prefix="rpc")
        self.mesh_memory = MeshMemory()
        self.node_configs = nodeconfig.NodeConfigs()
        # Credential Secrets come from single-object watches, not a GET per
        # sync; a changed Secret resyncs the networks that use it.
        self.secrets = secret_cache or SecretCache(clientset, self.workqueue.add, clock=clock)
        self._in_flight: dict[int, tuple[str, float]] = {}
        self._in_flight_lock = threading.Lock()

        network_informer.informer().add_event_handler(
            cache.ResourceEventHandlerFuncs(
                on_add=self.enqueue_network,
                on_update=lambda old, new: self.enqueue_network(new),
                on_delete=self._network_deleted,
            )
        )
        owned = _owned_object_handlers(self.handle_object)
        statefulset_informer.informer().add_event_handler(owned)
        service_informer.informer().add_event_handler(owned)
        pod_informer.informer().add_event_handler(_owned_object_handlers(self.handle_pod))

    # -- event handlers: translate events into keys ------------------------------

    def enqueue_network(self, obj: Any) -> None:
        """Put the network's ``namespace/name`` key on the queue (never the object)."""
        try:
            key = cache.meta_namespace_key_func(obj)
        except Exception as err:  # an object without metadata is a bug upstream; drop it
            log.error("cannot compute key", error=str(err))
            return
        self.workqueue.add(key)

    def _network_deleted(self, obj: Any) -> None:
        # Enqueue rather than clean up here: a sync of this network may be
        # running right now and would set its gauges again after any cleanup
        # done in this handler.  The queue runs the key once more after that
        # sync, and a sync that finds the network gone forgets its metrics.
        try:
            key = cache.deletion_handling_meta_namespace_key_func(obj)
        except Exception as err:
            log.error("cannot compute key", error=str(err))
            return
        self.workqueue.add(key)

    @staticmethod
    def _unwrap(obj: Any) -> dict | None:
        if isinstance(obj, cache.DeletedFinalStateUnknown):
            obj = obj.obj
        return obj if isinstance(obj, dict) and isinstance(obj.get("metadata"), dict) else None

    def handle_object(self, obj: Any) -> None:
        """Enqueue the network that controls a StatefulSet or Service (tombstones unwrapped)."""
        obj = self._unwrap(obj)
        if obj is None:
            return
        ref = _controller_ref(obj, api.KIND, api.GROUP)
        if ref is None:
            return
        try:
            network = self.networks_lister.bitcoin_networks(metav1.get_namespace(obj)).get(ref.get("name", ""))
        except errors.NotFoundError:
            return  # orphaned: its network is gone and garbage collection will follow
        if metav1.get_uid(network) != ref.get("uid"):
            return  # a new network with the same name does not own the old objects
        self.enqueue_network(network)

    def handle_pod(self, obj: Any) -> None:
        """Pods are owned by the StatefulSet, which is owned by the network: follow both links."""
        pod = self._unwrap(obj)
        if pod is None:
            return
        ref = _controller_ref(pod, "StatefulSet", "apps")
        if ref is None:
            return
        try:
            sts = self.statefulsets_lister.stateful_sets(metav1.get_namespace(pod)).get(ref.get("name", ""))
        except errors.NotFoundError:
            return
        self.handle_object(sts)

    # -- running -------------------------------------------------------------------

    def run(self, workers: int, stop_event: threading.Event, drain_timeout: float = 20.0) -> None:
        """Wait for the caches, run ``workers`` worker threads until ``stop_event`` is set.

        On stop the queue is shut down with drain: no new work is taken, and
        syncs already running get ``drain_timeout`` seconds to finish before
        the drain is cut short.
        """
        log.info("starting controller", workers=workers)
        if not cache.wait_for_cache_sync(stop_event, *self._informers_synced):
            raise RuntimeError("failed to wait for caches to sync")
        log.info("caches synced; starting workers")
        threads = [
            threading.Thread(target=self._run_worker, args=(stop_event,), name=f"worker-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in threads:
            t.start()
        stop_event.wait()
        log.info("shutting down workers")
        cut_short = threading.Timer(drain_timeout, self.workqueue.shut_down)
        cut_short.daemon = True
        cut_short.start()
        self.workqueue.shut_down_with_drain()
        cut_short.cancel()
        for t in threads:
            t.join()
        self.secrets.stop()
        self.rpc_pool.shutdown(wait=True, cancel_futures=True)
        log.info("controller stopped")

    def _run_worker(self, stop_event: threading.Event) -> None:
        # until() restarts the loop a second after it returns unexpectedly,
        # like wait.Until in Go, while the queue is still running.
        until(self._worker_loop, 1.0, stop_event, clock=self.clock)

    def _worker_loop(self) -> None:
        while self.process_next_work_item():
            pass

    def process_next_work_item(self) -> bool:
        """Take one key, sync it, and tell the queue how it went. False once shut down."""
        key, shutdown = self.workqueue.get()
        if shutdown:
            return False
        ident = threading.get_ident()
        with self._in_flight_lock:
            self._in_flight[ident] = (key, self.clock.now())
        start = self.clock.now()
        try:
            requeue_after = self.sync_handler(key)
        except Exception as err:
            result = self._handle_err(key, err)
        else:
            self.workqueue.forget(key)
            result = "success"
            if requeue_after is not None:
                self.workqueue.add_after(key, requeue_after)
        finally:
            self.workqueue.done(key)
            with self._in_flight_lock:
                self._in_flight.pop(ident, None)
        metrics.observe_sync(result, self.clock.since(start))
        return True

    def _handle_err(self, key: str, err: Exception) -> str:
        """The error policy of a failed sync; return its result for the metrics.

        Mirrors the error branch of sample-controller's processNextWorkItem,
        with two kinds of error that are not failures: a stale cache (retried
        quietly) and an object or namespace going away (dropped).
        """
        namespace, _, name = key.rpartition("/")
        logger = log.bind(key=key, namespace=namespace, network=name)
        if isinstance(err, (errors.ConflictError, errors.AlreadyExistsError)):
            # The cache had not yet seen our own last write (a status update,
            # a create): routine, and the retry after the informer catches up
            # will see the new version.
            self.workqueue.add_rate_limited(key)
            logger.debug("stale cache; retrying", error=str(err))
            return "conflict"
        if isinstance(err, errors.StatusError) and (errors.is_namespace_terminating(err) or errors.is_not_found(err)):
            # The namespace is being deleted, or an object went away mid-sync
            # (its deletion event enqueues the network again if anything is
            # left to do): retrying now would only fail again.  Neither a
            # success nor an error: counted apart so that success means synced.
            self.workqueue.forget(key)
            logger.debug("object or namespace going away; dropping the key", error=str(err))
            return "dropped"
        self.workqueue.add_rate_limited(key)
        logger.warning(
            "sync failed; requeued with backoff",
            error=str(err),
            retries=self.workqueue.num_requeues(key),
            exc_info=not isinstance(err, (SyncError, errors.StatusError)),
        )
        return "error"

    def stuck_syncs(self, limit: float = STUCK_SYNC_SECONDS) -> list[str]:
        """Keys whose sync has been running longer than ``limit`` (for /healthz)."""
        now = self.clock.now()
        with self._in_flight_lock:
            return [key for key, started in self._in_flight.values() if now - started > limit]

    def caches_synced(self) -> bool:
        return all(fn() for fn in self._informers_synced)

    # -- the sync --------------------------------------------------------------------

    def sync_handler(self, key: str) -> float | None:
        """Bring one network one step closer to its spec; return a requeue delay or None.

        Raises to have the key retried with backoff.
        """
        namespace, name = cache.split_meta_namespace_key(key)
        logger = log.bind(key=key, namespace=namespace, network=name)
        try:
            network = self.networks_lister.bitcoin_networks(namespace).get(name)
        except errors.NotFoundError:
            # Deleted: garbage collection removes what it owned.
            logger.debug("network no longer exists")
            metrics.forget_network(namespace, name)
            self.node_configs.forget(namespace, name)
            self.secrets.release(key)
            return None
        if metav1.get_deletion_timestamp(network):
            logger.debug("network is being deleted")
            return None
        return _Sync(self, network, logger).run()

    # -- helpers used by _Sync -----------------------------------------------------

    def image_for(self, impl: Implementation, spec: api.BitcoinNetworkSpec) -> str:
        if spec.image:
            return spec.image
        image = self.default_images.get(impl.name) or impl.default_image
        # spec.version picks the release as the default image's tag.
        return nodeconfig.image_with_version(image, spec.version) if spec.version else image


class _Failure(Exception):
    """A problem a step found that only the user can fix (a bad spec, a name taken, a missing Secret).

    ``run`` reports it: a Warning event, the three conditions, the status.
    A ``final`` one is not retried (a new generation of the spec triggers a
    sync); the others are retried with backoff, as any error is.
    """

    def __init__(
        self, reason: str, message: str, *, nodes: list[NodeObservation] | None = None, final: bool = False
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.nodes = nodes or []
        self.final = final


#: Tries of the status write that records a certificate issued in this sync:
#: the certificate cannot be issued again once its Secret exists, so a
#: conflict is retried over the network as the API server has it now
#: (``retry.RetryOnConflict``) instead of left to the next sync.
CERTIFICATE_WRITE_TRIES = 5


class _Sync:
    """One sync of one network, as straight-line steps (sample-controller's syncHandler).

    The steps return values or raise (:class:`_Failure` for what the user
    must fix); :meth:`run` decides the conditions and writes the status once,
    whatever the steps did.
    """

    def __init__(self, controller: Controller, network: dict, logger: Any) -> None:
        self.c = controller
        self.network = network
        self.log = logger
        self.namespace = metav1.get_namespace(network)
        self.name = metav1.get_name(network)
        self.generation = metav1.get_generation(network)
        old_status = network.get("status") or {}
        self.conditions = ConditionSet(old_status.get("conditions"), self.generation, controller.clock.wall())
        #: The newest copy of the network this sync has seen: the status is written over it.
        self.latest = network
        #: btcd's pinned RPC certificate: as recorded, or issued in this sync.
        self.certificate: str | None = old_status.get("rpcCertificate")
        self.issued_certificate = False

    def event(self, type_: str, reason: str, message: str) -> None:
        # Objects from a LIST carry no kind; the recorder needs it for the
        # event's involvedObject (Go's recorder asks the scheme instead).
        involved = {**self.network, "apiVersion": api.API_VERSION, "kind": api.KIND}
        self.c.recorder.event(involved, type_, reason, truncate_message(message, MAX_EVENT_MESSAGE))

    def run(self) -> float | None:
        """The steps, the one status write, then what the work queue should do."""
        spec = api.BitcoinNetworkSpec.from_dict(self.network.get("spec") or {})
        was_converged = _all_true((self.network.get("status") or {}).get("conditions"))
        nodes: list[NodeObservation] | None = None
        mesh_errors: list[str] = []
        converged = False
        failure: _Failure | None = None
        error: Exception | None = None
        try:
            nodes, mesh_errors = self.reconcile(spec)
            converged = self.set_conditions(spec, nodes, mesh_errors)
        except _Failure as err:
            failure = err
            self.event(ev.WARNING, failure.reason, failure.message)
            self.fail_all(failure.reason, failure.message)
            nodes = failure.nodes
        except Exception as err:
            # Nothing to decide from: the conditions stay as they are, but a
            # certificate issued before the error is recorded all the same.
            error = err
        status = self.write_status(nodes)
        if error is not None:
            raise error
        if failure is not None:
            if failure.final:
                return None
            raise SyncError(failure.message) from None
        metrics.set_network(self.namespace, self.name, spec.nodes, status)
        if mesh_errors:
            message = "; ".join(mesh_errors)
            self.event(ev.WARNING, ev.RPC_ERROR, message)
            raise SyncError(f"RPC failed for {message}")
        if converged and not was_converged:
            self.event(ev.NORMAL, ev.SYNCED, ev.MESSAGE_SYNCED)
        if not converged and any(n.rpc_ok for n in nodes or []):
            return POLL_INTERVAL
        return None

    def reconcile(self, spec: api.BitcoinNetworkSpec) -> tuple[list[NodeObservation], list[str]]:
        """Owned objects, then the mesh; return the nodes observed and the RPC errors."""
        impl = self.validate(spec)
        self.ensure_service(impl)
        try:
            credentials = self.c.secrets.get(f"{self.namespace}/{self.name}", self.namespace, spec.secret)
        except CredentialsError as err:
            raise _Failure(err.reason, err.message, nodes=self.observe_pods()) from None
        if impl.uses_tls:
            self.ensure_tls()
        config_secret = None if impl.credentials_in_env else self.ensure_node_config(impl, spec, credentials)
        self.ensure_statefulset(impl, spec, config_secret)

        nodes = self.observe_pods()
        instances = {n.ordinal: n.instance for n in nodes}
        cert_pem = self.certificate if impl.uses_tls else None
        result = reconcile_mesh(
            nodes,
            instances,
            lambda node: self.c.rpc_connector.connect(impl, node.ip, credentials, cert_pem),
            self.c.rpc_pool,
            P2P_PORT,
            self.c.mesh_memory,
            describe_error=_describe_rpc_error,
            now=self.c.clock.now(),
            timeout=self.c.mesh_timeout,
        )
        if result.sync_restarted or result.blocks_relayed:
            self.log.info(
                "helped nodes stuck behind the network",
                sync_restarted=result.sync_restarted,
                blocks_relayed=result.blocks_relayed,
            )
        if result.added:
            self.event(ev.NORMAL, ev.PEERS_ADDED, _peer_message("Added", nodes, "added"))
        if result.removed:
            self.event(ev.NORMAL, ev.PEERS_REMOVED, _peer_message("Removed", nodes, "removed"))
        return nodes, result.errors

    def validate(self, spec: api.BitcoinNetworkSpec) -> Implementation:
        """What the schema cannot check; a bad spec is a final failure."""
        # The name is checked too: a 63-character name (a fake clientset, or a
        # CRD installed without its schema rules) would give children longer
        # than the 63 characters a label or a Service name may have.
        problems = api.validate_name(self.name) + api.validate(spec)
        if not problems and spec.implementation == api.IMPLEMENTATION_BITCOIND:
            image = self.c.image_for(get_implementation(spec.implementation), spec)
            problems = nodeconfig.image_version_problems(spec.version, image)
        if problems:
            raise _Failure(ev.INVALID_SPEC, "; ".join(problems), final=True)
        return get_implementation(spec.implementation)

    # -- owned objects ---------------------------------------------------------------

    def check_owned(self, obj: dict, kind: str) -> None:
        if not metav1.is_controlled_by(obj, self.network):
            message = f'{kind} "{metav1.get_name(obj)}" already exists and is not managed by this BitcoinNetwork'
            raise _Failure(ev.ERR_RESOURCE_EXISTS, message)

    def ensure_service(self, impl: Implementation) -> dict:
        desired = resources.new_service(self.network, impl)
        name = desired["metadata"]["name"]
        try:
            actual = self.c.services_lister.services(self.namespace).get(name)
        except errors.NotFoundError:
            created = self.c.clientset.core_v1().services(self.namespace).create(desired)
            self.event(ev.NORMAL, ev.SERVICE_CREATED, f'Created headless Service "{name}"')
            return created
        self.check_owned(actual, "Service")
        drift = resources.owned_fields_differ(desired["spec"], actual.get("spec", {}), "spec") or \
            resources.owned_fields_differ(desired["metadata"]["labels"], metav1.get_labels(actual), "metadata.labels")
        if not drift:
            return actual
        updated = metav1.deep_copy(actual)
        updated["spec"].update(desired["spec"])
        updated["metadata"]["labels"] = {**metav1.get_labels(actual), **desired["metadata"]["labels"]}
        result = self.c.clientset.core_v1().services(self.namespace).update(updated)
        self.event(ev.NORMAL, ev.SERVICE_UPDATED, f'Corrected drift in Service "{name}" at {drift}')
        return result

    def ensure_tls(self) -> None:
        """Provision btcd's RPC certificate once; ``self.certificate`` is the PEM the controller pins.

        The controller may create Secrets but never read them, so it keeps
        the public certificate in the network's status.  The Secret is
        created first and the certificate recorded by this sync's status
        write, which is made even when a later step fails.  If the Secret
        exists but the status has no certificate (a crash between the two
        steps, or someone else's Secret), the controller cannot learn the
        certificate and says so -- deleting the Secret lets it start over.
        """
        from ..bitcoin import certs

        if self.certificate:
            return
        cert_pem, key_pem = certs.generate_self_signed_cert(common_name=f"{self.name}.{self.namespace}")
        secret = resources.new_tls_secret(self.network, cert_pem, key_pem)
        secret_name = secret["metadata"]["name"]
        try:
            self.c.clientset.core_v1().secrets(self.namespace).create(secret)
        except errors.AlreadyExistsError:
            if self._certificate_recorded_meanwhile():
                return
            message = (
                f'Secret "{secret_name}" exists but its certificate is not recorded in this network\'s status; '
                "delete the Secret to have a new certificate issued"
            )
            raise _Failure(ev.TLS_SECRET_UNKNOWN, message) from None
        self.event(ev.NORMAL, ev.TLS_SECRET_CREATED, f'Created RPC certificate Secret "{secret_name}"')
        self.certificate = cert_pem.decode("ascii")
        self.issued_certificate = True

    def _certificate_recorded_meanwhile(self) -> bool:
        """Whether the network as the API server has it now records a certificate (then pinned).

        The usual reason the Secret already exists is that the previous sync
        created it and wrote the certificate to the status a moment ago, and
        the informer's copy of the network has not caught up with that write
        yet.  Only the API server can tell, so ask it once before telling the
        user to delete a Secret that is in fact in use.
        """
        client = self.c.clientset.bitcoincontroller_v1().bitcoin_networks(self.namespace)
        current = client.get(self.name)
        pem = (current.get("status") or {}).get("rpcCertificate")
        if not pem or metav1.get_uid(current) != metav1.get_uid(self.network):
            return False
        self.log.debug("the cache lagged behind our own certificate write; using the recorded certificate")
        # Write over the current object, so this sync's status write does not conflict.
        self.latest = current
        self.certificate = pem
        return True

    def ensure_node_config(self, impl: Implementation, spec: api.BitcoinNetworkSpec, creds: Credentials) -> str:
        """The Secret with bitcoind's rendered bitcoin.conf, created if missing (see nodeconfig)."""
        try:
            current = self.c.statefulsets_lister.stateful_sets(self.namespace).get(
                resources.statefulset_name(self.name)
            )
        except errors.NotFoundError:
            current = None
        if current is not None and not metav1.is_controlled_by(current, self.network):
            current = None  # reported by ensure_statefulset
        name, created = self.c.node_configs.ensure(
            self.c.clientset,
            self.network,
            user=creds.user,
            password=creds.password,
            credentials_version=creds.source_version,
            version=nodeconfig.core_version(spec.version, self.c.image_for(impl, spec)),
            rpc_port=impl.rpc_port,
            mounted=nodeconfig.mounted_config_secret(current),
        )
        if created:
            self.event(ev.NORMAL, ev.CONFIG_SECRET_CREATED, f'Created node configuration Secret "{name}"')
        return name

    def ensure_statefulset(
        self, impl: Implementation, spec: api.BitcoinNetworkSpec, config_secret: str | None = None
    ) -> dict:
        desired = resources.new_statefulset(
            self.network,
            impl,
            replicas=spec.nodes,
            image=self.c.image_for(impl, spec),
            secret_name=spec.secret,
            resources=spec.resources,
            config_secret=config_secret,
        )
        name = desired["metadata"]["name"]
        client = self.c.clientset.apps_v1().stateful_sets(self.namespace)
        try:
            actual = self.c.statefulsets_lister.stateful_sets(self.namespace).get(name)
        except errors.NotFoundError:
            created = client.create(desired)
            self.event(ev.NORMAL, ev.STATEFULSET_CREATED, f'Created StatefulSet "{name}" with {spec.nodes} node(s)')
            return created
        self.check_owned(actual, "StatefulSet")
        actual_spec = actual.get("spec", {})
        old_replicas = actual_spec.get("replicas")
        template_drift = resources.owned_fields_differ(
            desired["spec"]["template"], actual_spec.get("template", {}), "spec.template"
        ) or _resources_drift(desired, actual)
        if old_replicas == spec.nodes and not template_drift:
            return actual
        updated = metav1.deep_copy(actual)
        updated["spec"]["replicas"] = spec.nodes
        if template_drift:
            updated["spec"]["template"] = desired["spec"]["template"]
        result = client.update(updated)
        if old_replicas != spec.nodes:
            self.event(ev.NORMAL, ev.SCALED, f'Scaled StatefulSet "{name}" from {old_replicas} to {spec.nodes} node(s)')
        if template_drift:
            self.event(ev.NORMAL, ev.STATEFULSET_UPDATED, f'Updated the pod template of "{name}" ({template_drift})')
        return result

    # -- observing ---------------------------------------------------------------------

    def observe_pods(self) -> list[NodeObservation]:
        """The network's wanted pods as node observations (ordinals below ``spec.nodes``)."""
        selector = labels.selector_from_set(resources.selector_labels(self.name))
        wanted = int((self.network.get("spec") or {}).get("nodes") or 0)
        service = resources.service_name(self.name)
        nodes = []
        for pod in self.c.pods_lister.pods(self.namespace).list(selector):
            ordinal = resources.ordinal_of(pod, self.name)
            if ordinal is None or ordinal >= wanted or metav1.get_deletion_timestamp(pod):
                continue
            status = pod.get("status") or {}
            ready = any(
                c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or []
            )
            ip, ips = pod_ips(status)  # canonical; anything that is no IP address is not used
            node = NodeObservation(
                ordinal=ordinal,
                pod_name=metav1.get_name(pod),
                ip=ip,
                ips=ips,
                pod_ready=ready and bool(ip),
                dns_name=f"{metav1.get_name(pod)}.{service}.{self.namespace}.svc.cluster.local",
            )
            restarts = sum(int(cs.get("restartCount") or 0) for cs in status.get("containerStatuses") or [])
            node.instance = f"{metav1.get_uid(pod)}/{restarts}"
            nodes.append(node)
        return sorted(nodes, key=lambda n: n.ordinal)

    # -- status ------------------------------------------------------------------------

    def fail_all(self, reason: str, message: str) -> None:
        self.conditions.set(READY, False, reason, message)
        self.conditions.set(CONNECTED, None, reason, message)
        self.conditions.set(SYNCED, None, reason, message)

    def set_conditions(self, spec: api.BitcoinNetworkSpec, nodes: list[NodeObservation], rpc_errors: list[str]) -> bool:
        ready = [n for n in nodes if n.pod_ready]
        if len(ready) == spec.nodes:
            self.conditions.set(READY, True, "AllNodesReady", f"{len(ready)}/{spec.nodes} nodes ready")
        else:
            self.conditions.set(READY, False, "NodesNotReady", f"{len(ready)}/{spec.nodes} nodes ready")
        if rpc_errors:
            message = "; ".join(rpc_errors)
            self.conditions.set(CONNECTED, None, ev.RPC_ERROR, message)
            self.conditions.set(SYNCED, None, ev.RPC_ERROR, message)
            return False
        if not ready and spec.nodes > 0:
            # Nothing to judge yet; "True" about an empty graph would read as good news.
            message = f"0/{spec.nodes} nodes ready"
            self.conditions.set(CONNECTED, None, "NoReadyNodes", message)
            self.conditions.set(SYNCED, None, "NoReadyNodes", message)
            return False
        graph = peer_graph(nodes, P2P_PORT)
        connected, why = is_connected(graph)
        if connected:
            self.conditions.set(CONNECTED, True, "PeersConnected", f"{len(graph)} ready node(s) form one peer graph")
        else:
            self.conditions.set(CONNECTED, False, "PeersMissing", why)
        tips = {n.best_block_hash for n in ready if n.best_block_hash}
        heights = sorted({n.blocks for n in ready if n.blocks is not None})
        if len(tips) <= 1:
            height = heights[-1] if heights else 0
            self.conditions.set(SYNCED, True, "SameBestBlock", f"all ready nodes at height {height}")
        else:
            self.conditions.set(
                SYNCED, False, "BestBlocksDiffer", f"ready nodes are at heights {', '.join(map(str, heights))}"
            )
        return all(c["status"] == "True" for c in self.conditions.conditions)

    def write_status(self, nodes: list[NodeObservation] | None) -> dict:
        """The one status write, made if, and only if, the status changed; return the status.

        ``nodes`` None: the sync failed before deciding anything, and only a
        certificate it issued is recorded.
        """
        old_status = self.latest.get("status") or {}
        if nodes is None:
            status = dict(old_status)
        else:
            ready = [n for n in nodes if n.pod_ready]
            heights = [n.blocks for n in ready if n.blocks is not None]
            status = {
                "observedGeneration": self.generation,
                "readyNodes": len(ready),
                "bestHeight": max(heights) if heights else 0,
                "nodes": node_entries(nodes),
                "conditions": self.conditions.conditions,
            }
        if self.certificate:
            status["rpcCertificate"] = self.certificate
        if status == old_status:
            return status
        client = self.c.clientset.bitcoincontroller_v1().bitcoin_networks(self.namespace)
        tries = CERTIFICATE_WRITE_TRIES if self.issued_certificate else 1
        network = self.latest
        for attempt in range(1, tries + 1):
            updated = metav1.deep_copy(network)
            updated["status"] = status
            try:
                client.update_status(updated)
                break
            except errors.ConflictError:
                if attempt == tries:
                    raise
                network = client.get(self.name)
                if metav1.get_uid(network) != metav1.get_uid(self.network):
                    raise
        return status


def _owned_object_handlers(handle: Callable[[Any], None]) -> cache.ResourceEventHandlerFuncs:
    """Add, update and delete of an owned object all lead to ``handle``."""

    def on_update(old: Any, new: Any) -> None:
        # A periodic resync delivers unchanged objects; their owner is resynced
        # on its own, so skip them (sample-controller compares resourceVersions).
        if metav1.get_resource_version(old) != metav1.get_resource_version(new):
            handle(new)

    return cache.ResourceEventHandlerFuncs(on_add=handle, on_update=on_update, on_delete=handle)


def _controller_ref(obj: dict, kind: str, group: str) -> dict | None:
    """``obj``'s controller reference if it names a ``kind`` of API group ``group``."""
    ref = metav1.get_controller_of(obj)
    if not ref or ref.get("kind") != kind or not str(ref.get("apiVersion", "")).startswith(group + "/"):
        return None
    return ref


def _resources_drift(desired: dict, actual: dict) -> str | None:
    """Resource requirements compared both ways (removing them is drift too)."""
    def res(obj: dict) -> dict:
        containers = obj.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or [{}]
        return containers[0].get("resources") or {}

    want, got = res(desired), res(actual)
    for kind in ("limits", "requests"):
        w, g = want.get(kind) or {}, got.get(kind) or {}
        if set(w) != set(g) or any(
            api.parse_quantity(w[k]) != api.parse_quantity(g[k]) for k in w
        ):
            return f"spec.template.spec.containers[0].resources.{kind}"
    return None


def _all_true(conditions: list[dict] | None) -> bool:
    wanted = {READY, CONNECTED, SYNCED}
    seen = {c.get("type") for c in conditions or [] if c.get("status") == "True"}
    return wanted <= seen


def _peer_message(verb: str, nodes: list[NodeObservation], attr: str) -> str:
    parts = [f"node {n.ordinal}: {', '.join(getattr(n, attr))}" for n in nodes if getattr(n, attr)]
    return f"{verb} peers on " + "; ".join(parts)


def _describe_rpc_error(err: BaseException) -> str:
    """A short, credential-free description of an RPC failure, for status and Events.

    The RPC client's errors and the mesh's own are built from fixed texts
    (never from what a daemon said), so they are shown.  Anything else is
    unexpected: only its type is shown, and the details go to the log.
    """
    from ..bitcoin.errors import BitcoinRPCError

    if isinstance(err, BitcoinRPCError | InvalidNodeReport | MeshDeadlineExceeded):
        return truncate_message(f"{type(err).__name__}: {err}", 512)
    log.error("unexpected error talking to a node", error_type=type(err).__name__, exc_info=err)
    return f"{type(err).__name__} (unexpected; see the controller's log)"

