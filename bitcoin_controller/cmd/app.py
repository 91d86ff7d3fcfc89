"""Start-up and shut-down of the controller process, in client-go order.

config -> clientset -> informer factories -> event broadcaster -> controller
-> leader election (when enabled) -> start informers -> wait for cache sync
-> workers.

With leader election the informers and workers only run while this replica
holds the lease; a standby replica keeps no caches and is "ready" because
standing by is its job.  Losing the lease while the process should still run
means another replica may already be writing, so the process stops its work
and exits with :data:`EXIT_LOST_LEASE` (3) for its Deployment to restart it.
A crash of the work itself (an exception out of the controller) is reported
as what it is: logged with its traceback, exit :data:`EXIT_CRASH` (1) --
never disguised as a lost lease.

SIGTERM/SIGINT set the stop event: the queue stops handing out work, syncs
in flight get up to :data:`DRAIN_SECONDS` to finish, the lease is released so
a standby takes over at once, queued events are flushed, and the process
exits 0.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import uuid
from typing import Any

import structlog

from ..clientgo.informers import SharedInformerFactory
from ..clientgo.kubernetes import Clientset
from ..clientgo.tools import clientcmd, record
from ..clientgo.tools.leaderelection import (
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    LeaseLock,
    new_leader_healthz_adaptor,
)
from ..componentbase.metrics.legacyregistry import REGISTRY
from ..controller import CONTROLLER_NAME, Controller, transforms
from ..controller.resources import NODE_POD_SELECTOR
from ..controller.rpc import BitcoinRPCConnector
from ..logs import configure_logging
from ..utils import memory
from .options import Options
from .servers import HTTPEndpoints

__all__ = ["run", "preflight", "DRAIN_SECONDS", "EXIT_CRASH", "EXIT_LOST_LEASE", "STARTUP_API_WAIT"]

log = structlog.get_logger("bitcoin_controller.cmd")

#: How long in-flight syncs may take to finish after a stop signal.
DRAIN_SECONDS = 20.0
#: How long past its lease's expiry a leader that has not renewed still counts
#: as healthy (kube-controller-manager's ``NewLeaderHealthzAdaptor(20 * time.Second)``).
LEADER_HEALTHZ_TIMEOUT = 20.0
#: Exit code when the controller's work raised (with or without leader election).
EXIT_CRASH = 1
#: Exit code when the lease was lost while the process should still have run.
EXIT_LOST_LEASE = 3
_LEADER_NAMESPACE_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def _leader_namespace(opts: Options) -> str:
    if opts.leader_election_namespace:
        return opts.leader_election_namespace
    try:
        with open(_LEADER_NAMESPACE_FILE) as f:
            return f.read().strip() or "bitcoin-controller"
    except OSError:
        return "bitcoin-controller"


def _install_signal_handlers(stop: threading.Event) -> None:
    def handle(signum: int, _frame: Any) -> None:
        if stop.is_set():
            log.warning("second signal: exiting at once", signal=signum)
            os._exit(1)
        log.info("signal received: shutting down", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)


def load_rest_config(opts: Options) -> Any:
    """The API client configuration the flags ask for (kubeconfig or in-cluster, impersonation)."""
    config = clientcmd.load_config(opts.kubeconfig)
    if opts.impersonate:
        config.impersonate_user = opts.impersonate
    return config


class Process:
    """The wired-up controller process (kept as an object so tests can drive it)."""

    def __init__(self, opts: Options, config: Any = None) -> None:
        self.opts = opts
        self.identity = f"{socket.gethostname()}_{uuid.uuid4().hex[:8]}"
        config = config if config is not None else load_rest_config(opts)
        self.clientset = Clientset(config)
        namespace = opts.namespace or None
        self.factory = SharedInformerFactory(self.clientset, opts.resync_period, namespace=namespace)
        # Pods are the one resource that is numerous in other people's
        # clusters: cache only the pods of bitcoin networks.
        def only_node_pods(options: Any) -> None:
            options.label_selector = NODE_POD_SELECTOR

        self.pod_factory = SharedInformerFactory(
            self.clientset, opts.resync_period, namespace=namespace, tweak_list_options=only_node_pods
        )
        # Cache only what the controller reads or writes back (controller/transforms.py).
        for informer, transform in (
            (self.factory.bitcoincontroller().v1().bitcoin_networks(), transforms.slim_network),
            (self.factory.apps().v1().stateful_sets(), transforms.slim_statefulset),
            (self.factory.core().v1().services(), transforms.strip_managed_fields),
            (self.pod_factory.core().v1().pods(), transforms.slim_pod),
        ):
            informer.informer().set_transform(transform)
        self.broadcaster = record.new_broadcaster()
        self.broadcaster.start_structured_logging()
        self.broadcaster.start_recording_to_sink(record.EventSinkImpl(self.clientset))
        self.recorder = self.broadcaster.new_recorder(record.EventSource(component=CONTROLLER_NAME, host=self.identity))
        self.controller = Controller(
            self.clientset,
            self.factory.bitcoincontroller().v1().bitcoin_networks(),
            self.factory.apps().v1().stateful_sets(),
            self.factory.core().v1().services(),
            self.pod_factory.core().v1().pods(),
            self.recorder,
            BitcoinRPCConnector(call_timeout=opts.rpc_call_timeout, max_reply_bytes=opts.rpc_max_reply_bytes),
            default_images={"bitcoind": opts.default_image_bitcoind, "btcd": opts.default_image_btcd},
            mesh_timeout=opts.mesh_timeout,
        )
        self.elector: LeaderElector | None = None
        # Passes until an elector is bound, so it is harmless without leader election.
        self.leader_healthz = new_leader_healthz_adaptor(LEADER_HEALTHZ_TIMEOUT)
        if opts.leader_elect:
            lock = LeaseLock(
                _leader_namespace(opts), opts.leader_election_id, self.clientset, self.identity, self.recorder
            )
            self.elector = LeaderElector(
                LeaderElectionConfig(
                    lock,
                    lease_duration=opts.leader_elect_lease_duration,
                    renew_deadline=opts.leader_elect_renew_deadline,
                    retry_period=opts.leader_elect_retry_period,
                    callbacks=LeaderCallbacks(
                        on_started_leading=self.run_controller,
                        on_stopped_leading=self._stopped_leading,
                        on_new_leader=self._new_leader,
                    ),
                    release_on_cancel=True,
                    name=opts.leader_election_id,
                    watch_dog=self.leader_healthz,
                )
            )
            # What run_or_die does; the elector is built here because readyz asks it is_leader().
            self.leader_healthz.set_leader_election(self.elector)
        self.stop = threading.Event()
        self.lost_lease = False
        self.controller_started = threading.Event()
        self.endpoints = HTTPEndpoints(
            REGISTRY,
            opts.metrics_bind_address,
            opts.health_probe_bind_address,
            healthz={"workers": self._check_workers, "leader": self._check_lease},
            readyz={"caches": self._check_ready},
        )

    # -- health ------------------------------------------------------------------
    def _check_workers(self) -> str | None:
        stuck = self.controller.stuck_syncs()
        return f"syncs stuck: {', '.join(stuck)}" if stuck else None

    def _check_lease(self) -> str | None:
        try:
            self.leader_healthz.check()
        except Exception as err:
            return str(err)
        return None

    def _check_ready(self) -> str | None:
        if self.elector is not None and not self.elector.is_leader():
            return None  # standing by is what a follower is for
        if not self.controller_started.is_set() or not self.controller.caches_synced():
            return "informer caches not synced yet"
        return None

    # -- leader election callbacks ------------------------------------------------
    def _new_leader(self, identity: str) -> None:
        log.info("leader observed", leader=identity, me=identity == self.identity)

    def _stopped_leading(self) -> None:
        if self.stop.is_set():
            return
        if self.elector is not None and self.elector.work_error is not None:
            # The elector gave the lease up because our own work raised; run()
            # reports the crash when the elector re-raises it.
            log.error("controller failed while leading: stopping")
        else:
            self.lost_lease = True
            log.error("leader lease lost: stopping work and exiting so no two replicas write")
        self.stop.set()

    # -- running ------------------------------------------------------------------
    def run_controller(self, stop: threading.Event) -> None:
        """Start informers, wait for their caches, run workers until ``stop``."""
        self.factory.start(stop)
        self.pod_factory.start(stop)
        self.controller_started.set()
        try:
            self.controller.run(self.opts.workers, stop, drain_timeout=DRAIN_SECONDS)
        except RuntimeError:
            # Controller.run gives up waiting for the caches only when asked to
            # stop; a SIGTERM while they sync (API server slow, RBAC missing)
            # is an ordinary shutdown, not a crash.
            if not stop.is_set():
                raise
            log.info("stopped before the informer caches synced")

    def run(self) -> int:
        self.endpoints.start()
        log.info("bitcoin-controller starting", identity=self.identity, leader_elect=self.opts.leader_elect,
                 namespace=self.opts.namespace or "<all>", workers=self.opts.workers)
        crashed = False
        try:
            if self.elector is not None:
                self.elector.run(self.stop)
            else:
                self.run_controller(self.stop)
        except Exception:
            crashed = True
            log.exception("bitcoin-controller crashed")
        finally:
            self.stop.set()  # whatever ended the run, nothing may keep working
            self.factory.shutdown()
            self.pod_factory.shutdown()
            self.broadcaster.shutdown()
            self.endpoints.stop()
        if crashed:
            return EXIT_CRASH
        if self.lost_lease:
            return EXIT_LOST_LEASE
        log.info("bitcoin-controller stopped")
        return 0


def _register_process_metrics() -> None:
    """process_* and python_* series (CPU, memory, file descriptors), as most exporters offer."""
    from prometheus_client import PLATFORM_COLLECTOR, PROCESS_COLLECTOR
    from prometheus_client.platform_collector import PlatformCollector
    from prometheus_client.process_collector import ProcessCollector

    del PLATFORM_COLLECTOR, PROCESS_COLLECTOR  # those sit on the default registry; ours is separate
    try:
        ProcessCollector(registry=REGISTRY)
        PlatformCollector(registry=REGISTRY)
    except ValueError:
        pass  # already registered (a second Process in one interpreter, e.g. in tests)


#: How long start-up waits for an unreachable API server before giving up
#: (a pod may start while the API server restarts; after that, the
#: Deployment's restart back-off takes over).
STARTUP_API_WAIT = 30.0
#: Pause between start-up checks while the API server is not answering.
PREFLIGHT_RETRY_PAUSE = 2.0


def preflight(
    clientset: Clientset, server: str, namespace: str, wait: float = STARTUP_API_WAIT, impersonate: str = ""
) -> None:
    """Check, before starting informers, that the controller can do what they will do.

    Without this a missing CRD, a wrong token or a missing RBAC rule shows up
    only as reflector errors repeated in the log every few seconds, while
    /readyz stays red; controller-runtime refuses to start in these cases
    too.  One ``list`` (limit 1) per watched resource, in the watched
    namespace: a 403 names the exact verb, resource and namespace to grant.
    An unreachable API server (or a 5xx) is retried for up to ``wait`` seconds.
    """
    from ..apimachinery.metav1 import ListOptions
    from ..clientgo.kubernetes import scheme
    from .cli_errors import ApiTarget, CLIError, ExitCode, api_call

    deadline = time.monotonic() + wait
    pause = threading.Event()
    for info in (scheme.BITCOIN_NETWORKS, scheme.STATEFUL_SETS, scheme.SERVICES, scheme.PODS):
        client = clientset.resource(info, namespace)
        while True:
            try:
                target = ApiTarget("list", info, namespace, impersonate=impersonate)
                api_call(lambda c=client: c.list(ListOptions(limit=1)), target, server)
                break
            except CLIError as err:
                # An API server that is starting (or restarting) refuses
                # connections or answers 5xx for a moment; anything else will
                # not heal by waiting.
                transient = err.code == ExitCode.UNREACHABLE or (
                    err.code == ExitCode.API_ERROR and getattr(err.original, "code", 0) >= 500)
                if not transient or time.monotonic() >= deadline:
                    raise
                log.warning("API server not reachable yet, retrying", server=server)
                pause.wait(PREFLIGHT_RETRY_PAUSE)


def run(opts: Options, *, api_wait: float | None = None) -> int:
    """Start the controller; a start-up failure is one ``error:`` line and an exit code
    (see :class:`~.cli_errors.ExitCode`), with the traceback only for ``--debug``."""
    from .cli_errors import run_cli

    memory.limit_arenas()  # before any thread starts (utils/memory.py says why)
    configure_logging(opts.log_format, "debug" if opts.debug else opts.log_level)
    holder: list[Process] = []

    def start() -> int:
        config = load_rest_config(opts)
        preflight(Clientset(config), config.host, opts.namespace,
                  STARTUP_API_WAIT if api_wait is None else api_wait, opts.impersonate or "")
        holder.append(Process(opts, config))
        return 0

    code = run_cli(start, debug=opts.debug)
    if code:
        return code
    _register_process_metrics()
    process = holder[0]
    _install_signal_handlers(process.stop)
    memory.start_trimming(process.stop)
    return process.run()
