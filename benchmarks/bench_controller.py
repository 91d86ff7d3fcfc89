"""The controller's figures, measured on a real API server with real btcd daemons.

Not a test: a script that prints each figure next to its goal with PASS/MISS,
then a Markdown results block for the README.  It brings up a private local
cluster (``/tmp/bench-cluster``, stopped at the end; see
``docs/local-cluster.md``) unless ``--kubeconfig`` names a running one, applies
the CRD and RBAC, and runs the controller as a subprocess *as its
ServiceAccount* (``--impersonate``), exactly as ``scripts/run-demo`` does.

Every moment is taken by this script's own watches (raw watch streams of our
REST client, one per resource, all namespaces), never by polling: an object
"exists" when the watch delivers its ADDED event, a pod is Ready when a watch
event shows its Ready condition turn True, and so on.  Times are
``time.monotonic()`` of the event's arrival.

0. **Warm-up** (not timed): one throwaway network, so that the controller's
   lazy imports are done and the garbage collector has discovered the new
   CRD (it rediscovers resources every 30 s) before anything is measured.
1. **Create -> Service and StatefulSet.**  20 btcd networks of 3 nodes, one
   at a time: from the return of the network's create call until both owned
   objects have been seen; p50 and p95 (nearest rank).  Each network is
   deleted, and its pods are gone, before the next one is created.
2. **Last pod Ready -> Connected.**  A 3-node and a 10-node btcd network:
   from the moment the watch sees the last of the network's pods turn Ready
   to the first status, seen after that moment, with ``Connected=True`` for
   all of its nodes (``readyNodes`` = nodes).
3. **200 networks at once.**  The floor: a pool of 16 writer threads
   creates the 200 Services and 200 StatefulSets the controller would create
   (the controller's own object builders, owner references dropped) as fast
   as the API server accepts them.  The controller run: the same pool creates
   200 BitcoinNetworks and the clock runs until all 400 owned objects have
   been seen.  Both are timed from the first create to the last object seen,
   so the ratio compares like with like; a floor run before and one after
   each controller run (fresh namespaces, the previous ones deleted) are
   averaged, because the machine's load drifts.  The networks ask for
   ``nodes: 0``: 200 x 3 btcd daemons would swamp a 2-core machine and
   measure it, not the controller.  Reported with it, to explain the ratio:
   the controller's API requests per network, its syncs and mean sync time,
   and the CPU time of the controller and the API server; then the
   controller's RSS (``VmRSS``).  The run is repeated with the controller's
   ``--workers`` raised (``--more-workers``, default 8) for comparison.
4. **Steady state.**  The controller is restarted with ``--resync-period 2s``
   for the namespace of the converged 3-node network only; its ``/metrics``
   is scraped, N resync periods pass, and it is scraped again.  Deltas of
   ``rest_client_requests_total`` per HTTP method and of
   ``bitcoin_rpc_request_duration_seconds_count`` per RPC method are divided
   by the syncs that ran (``bitcoin_controller_syncs_total``).

Controller flags are the defaults (2 workers, 30 s resync) except where a
figure says otherwise.  ``--time-limit`` (default 900 s) stops the run and
prints what was measured so far.

Run (about three minutes; the cluster start is included)::

    .venv/bin/python benchmarks/bench_controller.py
    .venv/bin/python benchmarks/bench_controller.py --kubeconfig PATH   # an existing cluster
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import yaml  # noqa: E402
from prometheus_client.parser import text_string_to_metric_families  # noqa: E402

from bitcoin_controller.apimachinery import errors  # noqa: E402
from bitcoin_controller.apimachinery.metav1 import ListOptions  # noqa: E402
from bitcoin_controller.clientgo.kubernetes import Clientset, ResourceClient, scheme  # noqa: E402
from bitcoin_controller.clientgo.tools import clientcmd  # noqa: E402
from bitcoin_controller.controller import resources  # noqa: E402
from bitcoin_controller.controller.implementations import get_implementation  # noqa: E402

SERVICE_ACCOUNT = "system:serviceaccount:bitcoin-controller:bitcoin-controller"
SECRET_NAME = "bitcoin-default-secret"
CLUSTER_BASE = "/tmp/bench-cluster"
IMPLEMENTATION = "btcd"  # the daemon the local cluster's pod runner can run

GOAL_CREATE_P50 = 0.100
GOAL_CONNECTED = 2.0
GOAL_SCALE_RATIO = 1.5


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


# -- watching: when did what happen ------------------------------------------------------


def _is_pod_ready(pod: dict) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _condition(status: dict, type_: str) -> str | None:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c.get("status")
    return None


@dataclass
class Timeline:
    """What the watches saw, with arrival times, behind one condition variable.

    Keys are ``(namespace, name)``.  ``added``/``deleted`` hold the first
    ADDED and the DELETED arrival per kind; ``ready_since`` the arrival of a
    pod's latest not-Ready -> Ready transition (None while not Ready);
    ``statuses`` every status of a network with its arrival time.
    """

    cond: threading.Condition = field(default_factory=threading.Condition)
    added: dict[str, dict[tuple[str, str], float]] = field(default_factory=lambda: defaultdict(dict))
    deleted: dict[str, dict[tuple[str, str], float]] = field(default_factory=lambda: defaultdict(dict))
    ready_since: dict[tuple[str, str], float | None] = field(default_factory=dict)
    pod_network: dict[tuple[str, str], str] = field(default_factory=dict)
    statuses: dict[tuple[str, str], list[tuple[float, dict]]] = field(default_factory=lambda: defaultdict(list))

    def record(self, kind: str, event_type: str, obj: dict, at: float) -> None:
        meta = obj.get("metadata") or {}
        key = (meta.get("namespace", ""), meta.get("name", ""))
        with self.cond:
            if event_type == "DELETED":
                self.deleted[kind][key] = at
                if kind == "Pod":
                    self.ready_since[key] = None
            else:
                self.added[kind].setdefault(key, at)
                self.deleted[kind].pop(key, None)
                if kind == "Pod":
                    ready = _is_pod_ready(obj)
                    if not ready:
                        self.ready_since[key] = None
                    elif self.ready_since.get(key) is None:
                        self.ready_since[key] = at
                    instance = (meta.get("labels") or {}).get("app.kubernetes.io/instance")
                    if instance:
                        self.pod_network[key] = instance
                elif kind == "BitcoinNetwork":
                    self.statuses[key].append((at, obj.get("status") or {}))
            self.cond.notify_all()

    def wait(self, predicate: Callable[[], Any], timeout: float) -> Any:
        """Wait (lock held while testing) until ``predicate()`` is truthy; its value, or None."""
        with self.cond:
            return self.cond.wait_for(predicate, timeout)

    def live_pods(self, namespace: str, network: str) -> list[tuple[str, str]]:
        """Pods of ``network`` seen and not deleted (call with the lock held)."""
        return [
            key for key, net in self.pod_network.items()
            if key[0] == namespace and net == network and key not in self.deleted["Pod"]
        ]


class Follower(threading.Thread):
    """Follows one resource in all namespaces (list, then watch; relist on any error)."""

    def __init__(self, kind: str, client: ResourceClient, timeline: Timeline) -> None:
        super().__init__(name=f"follow-{kind}", daemon=True)
        self.kind = kind
        self.client = client
        self.timeline = timeline
        self.synced = threading.Event()
        self._stop = threading.Event()
        self._watch: Any = None
        self._lock = threading.Lock()

    def run(self) -> None:
        rv: str | None = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    listed = self.client.list()
                    now = time.monotonic()
                    for item in listed.get("items") or []:
                        self.timeline.record(self.kind, "ADDED", item, now)
                    rv = listed["metadata"]["resourceVersion"]
                    self.synced.set()
                w = self.client.watch(ListOptions(resource_version=rv, timeout_seconds=600))
                with self._lock:
                    self._watch = w
                if self._stop.is_set():
                    w.stop()
                for event in w:
                    now = time.monotonic()
                    obj = event["object"]
                    if event["type"] == "ERROR":
                        rv = None
                        break
                    rv = (obj.get("metadata") or {}).get("resourceVersion") or rv
                    if event["type"] != "BOOKMARK":
                        self.timeline.record(self.kind, event["type"], obj, now)
            except (errors.StatusError, OSError):
                rv = None
                self._stop.wait(0.5)  # the API server is busy or restarting: try again soon

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            if self._watch is not None:
                self._watch.stop()


# -- the controller process --------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


Samples = dict[tuple[str, frozenset], float]


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text exposition, keyed by (name, labels)."""
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def sum_by(samples: Samples, name: str, label: str) -> dict[str, float]:
    """Sum of the series called ``name``, grouped by one label."""
    out: dict[str, float] = defaultdict(float)
    for (sample, labels), value in samples.items():
        if sample == name:
            out[dict(labels).get(label, "")] += value
    return out


def _delta(before: Samples, after: Samples, sample: str, label: str) -> dict[str, float]:
    """Non-zero growth of the series ``sample`` between two scrapes, by one label."""
    b, a = sum_by(before, sample, label), sum_by(after, sample, label)
    return {k: a[k] - b.get(k, 0.0) for k in a if a[k] - b.get(k, 0.0)}


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class ScaleRun:
    """One run of the many-networks measurement and what the controller spent on it."""

    took: float
    created: float
    rss_before: float
    statuses: float = 0.0
    rss: float = 0.0
    cpu: float = 0.0
    api_cpu: float | None = None
    requests: dict[str, float] = field(default_factory=dict)
    syncs: float = 0.0
    sync_seconds: float = 0.0


def http_get(port: int, path: str) -> tuple[int, str]:
    """GET http://127.0.0.1:<port><path>: (status, body), (0, "") when nothing answers."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, ""
    except OSError:
        return 0, ""


def wait_http_ready(proc: subprocess.Popen, port: int, path: str, what: str, timeout: float) -> None:
    """Wait until ``path`` answers 200 on ``port``; fail if ``proc`` exits or the deadline passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode}")
        if http_get(port, path)[0] == 200:
            return
        time.sleep(0.1)  # start-up poll, not a measurement
    raise RuntimeError(f"{what} did not become ready")


def create_namespace_with_secret(clientset: Clientset, name: str) -> str:
    """Create namespace ``name`` holding the example credential Secret; return the name."""
    clientset.core_v1().namespaces().create({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    secret = yaml.safe_load((ROOT / "manifests" / "default-secret.yaml").read_text())
    secret["metadata"]["namespace"] = name
    deadline = time.monotonic() + 30
    while True:  # the namespace's admission may lag its creation by a moment
        try:
            clientset.core_v1().secrets(name).create(secret)
            return name
        except errors.StatusError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


class ControllerProcess:
    """``bitcoin-controller`` as a child process, as ``scripts/run-demo`` starts it."""

    def __init__(self, kubeconfig: str, log_path: Path, extra: Iterable[str] = ()) -> None:
        self.metrics_port, self.health_port = _free_port(), _free_port()
        argv = [
            str(ROOT / ".venv" / "bin" / "bitcoin-controller"),
            "--kubeconfig", kubeconfig,
            "--impersonate", SERVICE_ACCOUNT,
            "--log-format", "json",
            "--metrics-bind-address", f"127.0.0.1:{self.metrics_port}",
            "--health-probe-bind-address", f"127.0.0.1:{self.health_port}",
            *extra,
        ]
        self.args = " ".join(argv[5:])
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    def _get(self, port: int, path: str) -> tuple[int, str]:
        return http_get(port, path)

    def wait_ready(self, timeout: float = 60.0) -> None:
        wait_http_ready(self.proc, self.health_port, "/readyz", "the controller", timeout)

    def metrics(self) -> Samples:
        status, text = self._get(self.metrics_port, "/metrics")
        if status != 200:
            raise RuntimeError(f"/metrics answered {status}")
        return parse_metrics(text)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()

    def cpu_seconds(self) -> float:
        return _cpu_seconds(self.proc.pid)


# -- figures -----------------------------------------------------------------------------


@dataclass
class Figure:
    name: str
    value: str
    goal: str
    ok: bool | None  # None: no goal, reported for information

    @property
    def mark(self) -> str:
        return {True: "PASS", False: "MISS", None: "info"}[self.ok]


def nearest_rank(values: list[float], q: float) -> float:
    """The q-quantile by the nearest-rank method (an observed value, never interpolated)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms"


# -- the benchmark -----------------------------------------------------------------------


class Bench:
    def __init__(
        self, args: argparse.Namespace, kubeconfig: str, log_dir: Path, apiserver_pid: int | None = None
    ) -> None:
        self.args = args
        self.apiserver_pid = apiserver_pid
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.clientset = Clientset(clientcmd.load_config(kubeconfig))
        self.run_id = secrets.token_hex(2)
        self.namespaces: list[str] = []
        self.figures: list[Figure] = []
        self.notes: list[str] = []
        self.incomplete = False
        self.timeline = Timeline()
        self.followers = [
            Follower(kind, self.clientset.resource(info), self.timeline)
            for kind, info in (
                ("Service", scheme.SERVICES),
                ("StatefulSet", scheme.STATEFUL_SETS),
                ("Pod", scheme.PODS),
                ("BitcoinNetwork", scheme.BITCOIN_NETWORKS),
            )
        ]
        self.controller: ControllerProcess | None = None

    def figure(self, name: str, value: str, goal: str, ok: bool | None) -> None:
        f = Figure(name, value, goal, ok)
        self.figures.append(f)
        print(f"    {f.mark:4}  {name}: {value}   (goal: {goal})", flush=True)

    # -- setup ---------------------------------------------------------------------------

    def kubectl(self, *args: str) -> str:
        binary = shutil.which("kubectl") or str(ROOT / ".local-cluster" / "bin" / "kubectl")
        done = subprocess.run([binary, "--kubeconfig", self.kubeconfig, *args], check=True, text=True,
                              capture_output=True)
        return done.stdout

    def install(self) -> None:
        say("Installing the CRD and the controller's RBAC")
        self.kubectl("apply", "-f", str(ROOT / "manifests" / "crd.yaml"), "-f", str(ROOT / "manifests" / "rbac.yaml"))
        self.kubectl("wait", "--for=condition=Established", "--timeout=60s",
                     "crd/bitcoinnetworks.bitcoincontroller.dev")

    def namespace(self, purpose: str) -> str:
        """A fresh namespace with the example credential Secret the networks name."""
        name = create_namespace_with_secret(self.clientset, f"bench-{self.run_id}-{purpose}")
        self.namespaces.append(name)
        return name

    def start_followers(self) -> None:
        """Start the watch followers and wait until each has listed."""
        for f in self.followers:
            f.start()
        for f in self.followers:
            if not f.synced.wait(30):
                raise RuntimeError(f"{f.kind} watch did not start")

    def start_controller(self, label: str, *extra: str) -> ControllerProcess:
        log_path = self.log_dir / f"bench-controller-{label}.log"
        self.controller = ControllerProcess(self.kubeconfig, log_path, extra)
        self.controller.wait_ready()
        say(f"controller {label} running as {SERVICE_ACCOUNT}: {self.controller.args} (log {log_path})")
        return self.controller

    @staticmethod
    def network(namespace: str, name: str, nodes: int) -> dict:
        return {
            "apiVersion": "bitcoincontroller.dev/v1",
            "kind": "BitcoinNetwork",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"nodes": nodes, "implementation": IMPLEMENTATION, "secret": SECRET_NAME},
        }

    def networks(self, namespace: str) -> ResourceClient:
        return self.clientset.bitcoincontroller_v1().bitcoin_networks(namespace)

    def owned_seen(self, namespace: str, name: str) -> float | None:
        """When both the Service and the StatefulSet of a network were first seen (lock held)."""
        svc = self.timeline.added["Service"].get((namespace, resources.service_name(name)))
        sts = self.timeline.added["StatefulSet"].get((namespace, resources.statefulset_name(name)))
        return max(svc, sts) if svc is not None and sts is not None else None

    # -- 1. create -> Service + StatefulSet --------------------------------------------------

    def bench_create(self, ns: str) -> None:
        n = self.args.create_networks
        say(f"1. create -> Service and StatefulSet: {n} networks of 3 btcd nodes, one at a time")
        client = self.networks(ns)
        latencies = []
        for i in range(n):
            name = f"create-{i:02d}"
            client.create(self.network(ns, name, 3))
            created = time.monotonic()
            seen = self.timeline.wait(lambda name=name: self.owned_seen(ns, name), 30)
            if seen is None:
                self.notes.append(f"create: {name}'s Service/StatefulSet not seen within 30 s")
            else:
                latencies.append(seen - created)
            # One network at a time: the next create finds the controller idle.
            client.delete(name, propagation_policy="Background")
            self.timeline.wait(
                lambda name=name: (ns, resources.statefulset_name(name)) in self.timeline.deleted["StatefulSet"]
                and not self.timeline.live_pods(ns, name),
                60,
            )
        if not latencies:
            self.figure("create -> Service+StatefulSet p50", "no sample", f"<= {ms(GOAL_CREATE_P50)}", False)
            return
        p50, p95 = statistics.median(latencies), nearest_rank(latencies, 0.95)
        self.figure(f"create -> Service+StatefulSet, p50 of {len(latencies)}", ms(p50),
                    f"<= {ms(GOAL_CREATE_P50)}", p50 <= GOAL_CREATE_P50)
        self.figure(f"create -> Service+StatefulSet, p95 of {len(latencies)}", ms(p95), "reported", None)
        print(f"          samples (ms): {', '.join(f'{x * 1000:.0f}' for x in latencies)}")

    # -- 2. last pod Ready -> Connected ---------------------------------------------------------

    def converged_after_ready(self, ns: str, name: str, nodes: int) -> tuple[float, float] | None:
        """(last pod Ready, first full Connected=True status after it), or None yet (lock held)."""
        pods = [(ns, resources.pod_name(name, i)) for i in range(nodes)]
        ready = [self.timeline.ready_since.get(p) for p in pods]
        if any(r is None for r in ready):
            return None
        last_ready = max(r for r in ready if r is not None)
        for at, status in self.timeline.statuses.get((ns, name), []):
            if at >= last_ready and status.get("readyNodes") == nodes and _condition(status, "Connected") == "True":
                return last_ready, at
        return None

    def bench_connected(self, ns: str, name: str, nodes: int, keep: bool) -> None:
        say(f"2. last pod Ready -> Connected: {nodes}-node btcd network {ns}/{name}")
        client = self.networks(ns)
        client.create(self.network(ns, name, nodes))
        started = time.monotonic()
        found = self.timeline.wait(lambda: self.converged_after_ready(ns, name, nodes), self.args.converge_timeout)
        label = f"last pod Ready -> Connected, {nodes} nodes"
        if found is None:
            self.figure(label, f"not Connected within {self.args.converge_timeout:.0f} s",
                        f"<= {GOAL_CONNECTED:.0f} s", False)
        else:
            last_ready, connected = found
            self.figure(label, ms(connected - last_ready), f"<= {GOAL_CONNECTED:.0f} s",
                        connected - last_ready <= GOAL_CONNECTED)
            print(f"          (create -> last pod Ready took {last_ready - started:.1f} s)")
        if not keep:
            client.delete(name, propagation_policy="Background")
            self.timeline.wait(lambda: not self.timeline.live_pods(ns, name), 90)

    # -- 3. 200 networks at once against the floor ----------------------------------------------

    def floor_objects(self, ns: str, count: int) -> list[tuple[ResourceClient, dict]]:
        """The Services and StatefulSets the controller would create, without owner references."""
        impl = get_implementation(IMPLEMENTATION)
        out = []
        for i in range(count):
            owner = self.network(ns, f"scale-{i:03d}", 0)
            owner["metadata"]["uid"] = f"00000000-0000-4000-8000-{i:012d}"
            svc = resources.new_service(owner, impl)
            sts = resources.new_statefulset(owner, impl, replicas=0, image=impl.default_image,
                                            secret_name=SECRET_NAME, resources=None)
            for obj in (svc, sts):
                obj["metadata"].pop("ownerReferences", None)
            out.append((self.clientset.core_v1().services(ns), svc))
            out.append((self.clientset.apps_v1().stateful_sets(ns), sts))
        return out

    def all_owned_seen(self, ns: str, count: int) -> float | None:
        times = [self.owned_seen(ns, f"scale-{i:03d}") for i in range(count)]
        return None if any(t is None for t in times) else max(t for t in times if t is not None)

    def run_floor(self, tag: str) -> float:
        """Seconds for the writer pool to create the 400 plain objects until all are seen."""
        count = self.args.scale_networks
        ns = self.namespace(f"floor{tag}")
        objects = self.floor_objects(ns, count)
        with ThreadPoolExecutor(max_workers=self.args.writers) as pool:
            start = time.monotonic()
            list(pool.map(lambda pair: pair[0].create(pair[1]), objects))
        seen = self.timeline.wait(lambda: self.all_owned_seen(ns, count), 120)
        if seen is None:
            raise RuntimeError("the floor's objects were not all seen within 120 s")
        print(f"          floor {tag}: {2 * count} creates in {seen - start:.2f} s", flush=True)
        return seen - start

    def run_networks(self, tag: str) -> ScaleRun | None:
        """Create the networks with the writer pool; time until all owned objects are seen."""
        count = self.args.scale_networks
        assert self.controller is not None
        ns = self.namespace(f"scale{tag}")
        client = self.networks(ns)
        nets = [self.network(ns, f"scale-{i:03d}", 0) for i in range(count)]
        before, cpu_before, api_before = self.controller.metrics(), self.controller.cpu_seconds(), self.api_cpu()
        rss_before = self.controller.rss_mib()
        with ThreadPoolExecutor(max_workers=self.args.writers) as pool:
            start = time.monotonic()
            list(pool.map(client.create, nets))
            created = time.monotonic() - start
        seen = self.timeline.wait(lambda: self.all_owned_seen(ns, count), self.args.scale_timeout)
        if seen is None:
            return None
        run = ScaleRun(took=seen - start, created=created, rss_before=rss_before)
        print(f"          controller run {tag}: {count} networks' objects all seen after {run.took:.2f} s", flush=True)
        # The first full sync of each network ends with a status write: wait for
        # it, so that the request counts below cover whole syncs.
        names = [(ns, f"scale-{i:03d}") for i in range(count)]
        self.timeline.wait(lambda: all(self.timeline.statuses.get(key) for key in names), 120)
        run.statuses = time.monotonic() - start
        after = self.controller.metrics()
        run.cpu = self.controller.cpu_seconds() - cpu_before
        api_after = self.api_cpu()
        run.api_cpu = api_after - api_before if api_after is not None and api_before is not None else None
        run.rss = self.controller.rss_mib()
        run.requests = _delta(before, after, "rest_client_requests_total", "method")
        run.syncs = sum(_delta(before, after, "bitcoin_controller_syncs_total", "result").values())
        run.sync_seconds = sum(_delta(before, after, "bitcoin_controller_sync_duration_seconds_sum", "result").values())
        return run

    def bench_scale(self) -> None:
        count, writers = self.args.scale_networks, self.args.writers
        say(f"3. {count} networks (nodes: 0) at once against the floor ({writers} writer threads); "
            "a floor run before and after each controller run")
        floors = [self.run_floor("a")]
        default_run = self.run_networks("d")
        self.delete_namespaces(self.namespaces_like("floora", "scaled"), wait=180)
        floors.append(self.run_floor("b"))
        if default_run is None:
            self.figure(f"{count} networks -> all Services+StatefulSets",
                        f"not done within {self.args.scale_timeout:.0f} s", f"<= {GOAL_SCALE_RATIO}x floor", False)
        else:
            self.report_scale(default_run, floors[0:2], variant="")
        if self.args.more_workers:
            self.controller_restart("workers", "--workers", str(self.args.more_workers))
            more = self.run_networks("w")
            self.delete_namespaces(self.namespaces_like("floorb", "scalew"), wait=180)
            floors.append(self.run_floor("c"))
            if more is not None:
                self.report_scale(more, floors[1:3], variant=f" (--workers {self.args.more_workers})")
        self.delete_namespaces(self.namespaces_like("floor", "scale"), wait=180)

    def report_scale(self, run: ScaleRun, floors: list[float], variant: str) -> None:
        count, floor = self.args.scale_networks, statistics.mean(floors)
        self.figure(f"floor: {2 * count} plain creates, {self.args.writers} writers, mean of the runs before and after",
                    f"{floor:.2f} s ({' / '.join(f'{f:.2f}' for f in floors)})", "reference", None)
        self.figure(f"{count} networks -> all Services+StatefulSets{variant}",
                    f"{run.took:.2f} s (creating the networks: {run.created:.2f} s)", "reported", None)
        ratio = run.took / floor
        goal = not variant  # the goal is for the controller as deployed (default flags)
        self.figure(f"ratio controller / floor{variant}", f"{ratio:.2f}x",
                    f"<= {GOAL_SCALE_RATIO}x" if goal else "reported", ratio <= GOAL_SCALE_RATIO if goal else None)
        per_net = ", ".join(f"{m} {v / count:.1f}" for m, v in sorted(run.requests.items()))
        mean_sync = run.sync_seconds / run.syncs if run.syncs else 0.0
        api = f", API server {run.api_cpu:.1f} s" if run.api_cpu is not None else ""
        self.figure(f"why{variant}: controller requests per network (events as far as posted yet)",
                    per_net, "reported", None)
        self.figure(f"why{variant}: syncs, mean sync time, CPU time",
                    f"{run.syncs:.0f} syncs of {ms(mean_sync)}; CPU controller {run.cpu:.1f} s{api} "
                    f"in {run.statuses:.1f} s wall", "reported", None)
        if goal:
            self.figure(f"controller RSS with {count} networks",
                        f"{run.rss:.0f} MiB (before them: {run.rss_before:.0f} MiB)", "reported", None)

    def namespaces_like(self, *purposes: str) -> list[str]:
        """This run's namespaces whose purpose starts with one of ``purposes``."""
        return [ns for ns in self.namespaces if ns.rsplit("-", 1)[1].startswith(purposes)]

    def controller_restart(self, label: str, *extra: str) -> None:
        assert self.controller is not None
        self.controller.stop()
        self.start_controller(label, *extra)

    def api_cpu(self) -> float | None:
        if self.apiserver_pid is None:
            return None
        try:
            return _cpu_seconds(self.apiserver_pid)
        except OSError:
            return None

    def delete_namespaces(self, names: Iterable[str], wait: float) -> None:
        names = list(names)
        for name in names:
            try:
                self.clientset.core_v1().namespaces().delete(name)
            except errors.NotFoundError:
                pass
        deadline = time.monotonic() + wait
        for name in names:
            while time.monotonic() < deadline:
                try:
                    self.clientset.core_v1().namespaces().get(name)
                except errors.NotFoundError:
                    break
                time.sleep(0.5)  # clean-up between measurements, not a measurement

    # -- 4. steady state ---------------------------------------------------------------------

    def bench_steady(self, ns: str, name: str, nodes: int) -> None:
        resyncs = self.args.resyncs
        say(f"4. steady state: {ns}/{name}, controller restarted with --resync-period 2s, {resyncs} periods")
        controller = self.start_controller("steady", "--resync-period", "2s", "--namespace", ns)
        converged = self.timeline.wait(lambda: self.converged_after_ready(ns, name, nodes), 60)
        if converged is None:
            self.figure("steady state", "network not converged", "converged", False)
            return
        # The window opens after the restarted controller's first sync has finished.
        deadline = time.monotonic() + 30
        while not sum(sum_by(controller.metrics(), "bitcoin_controller_syncs_total", "result").values()):
            if time.monotonic() > deadline:
                raise RuntimeError("the restarted controller did not sync within 30 s")
            time.sleep(0.2)  # start-up poll, not a measurement
        time.sleep(1.0)
        before = controller.metrics()
        t0 = time.monotonic()
        time.sleep(2.0 * resyncs)  # the measured window: N resync periods of an unchanged network
        after = controller.metrics()
        window = time.monotonic() - t0

        syncs = _delta(before, after, "bitcoin_controller_syncs_total", "result")
        total_syncs = sum(syncs.values())
        requests = _delta(before, after, "rest_client_requests_total", "method")
        rpcs = _delta(before, after, "bitcoin_rpc_request_duration_seconds_count", "method")
        print(f"          window {window:.1f} s, syncs {dict(syncs)}, API requests {dict(requests)}, "
              f"RPC calls {dict(rpcs)}")
        if not total_syncs:
            self.figure("steady-state syncs", "none ran in the window", f"{resyncs}", False)
            return
        self.figure("syncs in the window", f"{total_syncs:.0f} in {resyncs} resync periods",
                    f"{resyncs} (one per resync)", None)
        per = {m: v / total_syncs for m, v in sorted(requests.items())}
        shown = ", ".join(f"{m} {v:.2f}" for m, v in per.items()) or "none"
        self.figure("API requests per resync", shown, "0 (credentials from their watch)", sum(per.values()) == 0)
        rpc_per = {m: v / total_syncs for m, v in sorted(rpcs.items())}
        shown = ", ".join(f"{m} {v:.2f}" for m, v in rpc_per.items()) or "none"
        expected = 3 * nodes
        self.figure(f"RPC calls per mesh check ({nodes} nodes)", f"{sum(rpc_per.values()):.2f}: {shown}",
                    f"3n = {expected} reads, 0 addnode", sum(rpc_per.values()) <= expected and "addnode" not in rpc_per)

    # -- all of it -----------------------------------------------------------------------------

    def warm_up(self, ns: str) -> None:
        """One throwaway network before anything is timed.

        The controller's first sync pays for lazy imports, and the garbage
        collector only notices a new CRD at its next resource discovery (every
        30 s): until then deleting a network leaves its children behind.
        """
        client = self.networks(ns)
        started = time.monotonic()
        client.create(self.network(ns, "warm-up", 0))
        if self.timeline.wait(lambda: self.owned_seen(ns, "warm-up"), 60) is None:
            raise RuntimeError("the warm-up network's Service and StatefulSet did not appear within 60 s")
        client.delete("warm-up", propagation_policy="Background")
        gone = self.timeline.wait(
            lambda: (ns, resources.statefulset_name("warm-up")) in self.timeline.deleted["StatefulSet"], 90)
        say(f"warm-up network created and garbage-collected in {time.monotonic() - started:.1f} s"
            + ("" if gone else " (its StatefulSet outlived the 90 s wait)"))

    def run(self) -> None:
        self.install()
        self.start_followers()
        self.start_controller("main")
        create_ns = self.namespace("create")
        self.warm_up(create_ns)
        self.bench_create(create_ns)
        mesh_ns = self.namespace("mesh")
        self.bench_connected(mesh_ns, "mesh-3", 3, keep=True)
        self.bench_connected(mesh_ns, "mesh-10", 10, keep=False)
        self.bench_scale()
        assert self.controller is not None
        self.controller.stop()
        self.bench_steady(mesh_ns, "mesh-3", 3)

    def close(self) -> None:
        if self.controller is not None:
            self.controller.stop()
        for f in self.followers:
            f.stop()

    def report(self, cluster_note: str) -> str:
        misses = [f for f in self.figures if f.ok is False]
        lines = [
            f"### Controller figures ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {cluster_note})",
            "",
            "Measured by `benchmarks/bench_controller.py` in one run; times are arrivals of this "
            "script's own watch events.  The 200-network run uses `nodes: 0` networks (200 x 3 btcd "
            "daemons would overload a 2-core machine).  Controller flags: defaults (`--workers 2`, "
            "`--resync-period 30s`) unless a figure names others.",
            "",
            "| figure | measured | goal | |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {f.name} | {f.value} | {f.goal} | {f.mark} |" for f in self.figures]
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        verdict = f"{len(misses)} figure(s) missed their goal." if misses else "Every figure met its goal."
        lines += ["", ("Incomplete run. " if self.incomplete else "") + verdict]
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", help="use this running cluster instead of a private local cluster")
    parser.add_argument("--cluster-base", default=CLUSTER_BASE, help="state directory of the private cluster")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the private cluster running")
    parser.add_argument("--create-networks", type=int, default=20)
    parser.add_argument("--scale-networks", type=int, default=200)
    parser.add_argument("--writers", type=int, default=16, help="writer threads for the 200-network run")
    parser.add_argument("--more-workers", type=int, default=8,
                        help="repeat the 200-network run with the controller's --workers set to this (0: skip)")
    parser.add_argument("--resyncs", type=int, default=10, help="resync periods in the steady-state window")
    parser.add_argument("--converge-timeout", type=float, default=180.0)
    parser.add_argument("--scale-timeout", type=float, default=180.0)
    parser.add_argument("--time-limit", type=float, default=900.0, help="stop measuring after this many seconds")
    args = parser.parse_args()
    # Bounded run time: a KeyboardInterrupt in the main thread ends the
    # measurements; clean-up and the report of what was measured still run.
    watchdog = threading.Timer(args.time_limit, lambda: os.kill(os.getpid(), signal.SIGINT))
    watchdog.daemon = True
    watchdog.start()

    cluster = None
    started_cluster = False
    if args.kubeconfig:
        kubeconfig, log_dir = args.kubeconfig, Path(tempfile.mkdtemp(prefix="bench-controller-"))
        cluster_note = "given cluster"
    else:
        from localcluster import LocalCluster

        cluster = LocalCluster(ROOT, base=args.cluster_base, bin_dir=ROOT / ".local-cluster" / "bin")
        say(f"Starting a private local cluster in {args.cluster_base}")
        started_cluster = cluster.up()
        kubeconfig, log_dir = cluster.kubeconfig, Path(args.cluster_base) / "logs"
        version = json.loads(subprocess.run(
            [shutil.which("kubectl") or "kubectl", "--kubeconfig", kubeconfig, "version", "-o", "json"],
            capture_output=True, text=True).stdout or "{}").get("serverVersion", {}).get("gitVersion", "?")
        cluster_note = f"local cluster {version}, btcd pods as local processes"
    apiserver_pid = None
    if cluster is not None:
        try:
            apiserver_pid = json.loads((Path(args.cluster_base) / "run" / "kube-apiserver.pid").read_text())["pid"]
        except (OSError, ValueError, KeyError):
            pass
    bench = Bench(args, kubeconfig, log_dir, apiserver_pid)
    started = time.monotonic()
    try:
        bench.run()
    except KeyboardInterrupt:
        bench.incomplete = True
        bench.notes.append(f"stopped after {time.monotonic() - started:.0f} s (time limit or Ctrl-C): incomplete")
        say("stopped: cleaning up and reporting what was measured")
    finally:
        watchdog.cancel()
        bench.close()
        if cluster is not None and started_cluster and not args.keep_cluster:
            say("Stopping the private local cluster")
            cluster.down(quiet=True)
        else:  # the cluster stays up: leave nothing of ours behind
            bench.delete_namespaces(bench.namespaces, wait=0)
    say(f"done in {time.monotonic() - started:.0f} s (without cluster start-up)")
    print("\n" + bench.report(cluster_note))
    return 1 if bench.incomplete or any(f.ok is False for f in bench.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
