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

1. **Create -> Service and StatefulSet.**  20 btcd networks of 3 nodes, one
   at a time: from the return of the network's create call until both owned
   objects have been seen; p50 and p95 (nearest rank).  Each network is
   deleted, and its pods are gone, before the next one is created.
2. **Last pod Ready -> Connected.**  A 3-node and a 10-node btcd network:
   from the moment the watch sees the last of the network's pods turn Ready
   to the first status, seen after that moment, with ``Connected=True`` for
   all of its nodes (``readyNodes`` = nodes).
3. **200 networks at once.**  First the floor: a pool of writer threads
   creates the 200 Services and 200 StatefulSets the controller would create
   (the controller's own object builders, owner references dropped) as fast
   as the API server accepts them.  Then the same pool creates 200
   BitcoinNetworks and the clock runs until all 400 owned objects have been
   seen.  Both are timed from the first create to the last object seen, so
   the ratio compares like with like.  The networks ask for ``nodes: 0``:
   200 x 3 btcd daemons would swamp a 2-core machine and measure it, not the
   controller.  The controller's RSS (``VmRSS``) is read afterwards.
4. **Steady state.**  The controller is restarted with ``--resync-period 2s``
   for the namespace of the converged 3-node network only; its ``/metrics``
   is scraped, N resync periods pass, and it is scraped again.  Deltas of
   ``rest_client_requests_total`` per HTTP method and of
   ``bitcoin_rpc_request_duration_seconds_count`` per RPC method are divided
   by the syncs that ran (``bitcoin_controller_syncs_total``).

Run (about four minutes; the cluster start is included)::

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
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, ""
        except OSError:
            return 0, ""

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the controller exited with code {self.proc.returncode}")
            if self._get(self.health_port, "/readyz")[0] == 200:
                return
            time.sleep(0.1)  # start-up poll, not a measurement
        raise RuntimeError("the controller did not become ready")

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
    def __init__(self, args: argparse.Namespace, kubeconfig: str, log_dir: Path) -> None:
        self.args = args
        self.kubeconfig = kubeconfig
        self.log_dir = log_dir
        self.clientset = Clientset(clientcmd.load_config(kubeconfig))
        self.run_id = secrets.token_hex(2)
        self.namespaces: list[str] = []
        self.figures: list[Figure] = []
        self.notes: list[str] = []
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
        name = f"bench-{self.run_id}-{purpose}"
        self.clientset.core_v1().namespaces().create({"apiVersion": "v1", "kind": "Namespace",
                                                      "metadata": {"name": name}})
        self.namespaces.append(name)
        secret = yaml.safe_load((ROOT / "manifests" / "default-secret.yaml").read_text())
        secret["metadata"]["namespace"] = name
        deadline = time.monotonic() + 30
        while True:  # the namespace's admission may lag its creation by a moment
            try:
                self.clientset.core_v1().secrets(name).create(secret)
                return name
            except errors.StatusError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

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

    def bench_create(self) -> None:
        n = self.args.create_networks
        say(f"1. create -> Service and StatefulSet: {n} networks of 3 btcd nodes, one at a time")
        ns = self.namespace("create")
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

    def bench_scale(self) -> None:
        count, writers = self.args.scale_networks, self.args.writers
        say(f"3. {count} networks (nodes: 0) at once against the floor ({writers} writer threads)")
        floor_ns, scale_ns = self.namespace("floor"), self.namespace("scale")
        assert self.controller is not None
        rss_before = self.controller.rss_mib()
        objects = self.floor_objects(floor_ns, count)
        with ThreadPoolExecutor(max_workers=writers) as pool:
            start = time.monotonic()
            list(pool.map(lambda pair: pair[0].create(pair[1]), objects))
            floor_seen = self.timeline.wait(lambda: self.all_owned_seen(floor_ns, count), 120)
            if floor_seen is None:
                raise RuntimeError("the floor's objects were not all seen within 120 s")
            floor = floor_seen - start

            client = self.networks(scale_ns)
            nets = [self.network(scale_ns, f"scale-{i:03d}", 0) for i in range(count)]
            start = time.monotonic()
            list(pool.map(client.create, nets))
            created = time.monotonic() - start
        seen = self.timeline.wait(lambda: self.all_owned_seen(scale_ns, count), self.args.scale_timeout)
        label = f"{count} networks -> all Services+StatefulSets"
        if seen is None:
            self.figure(label, f"not done within {self.args.scale_timeout:.0f} s", "<= 1.5x floor", False)
            return
        took = seen - start
        self.figure(f"floor: {2 * count} plain creates ({writers} writers)", f"{floor:.2f} s", "reference", None)
        self.figure(label, f"{took:.2f} s (network creates alone: {created:.2f} s)", "reported", None)
        self.figure("ratio controller / floor", f"{took / floor:.2f}x", f"<= {GOAL_SCALE_RATIO}x",
                    took / floor <= GOAL_SCALE_RATIO)
        # The first full sync of each network ends with a status write.
        done = self.timeline.wait(
            lambda: all(self.timeline.statuses.get((scale_ns, f"scale-{i:03d}")) for i in range(count)), 120)
        if done:
            self.figure(f"{count} networks -> all statuses written", f"{time.monotonic() - start:.2f} s",
                        "reported", None)
        self.figure(f"controller RSS with {count} networks", f"{self.controller.rss_mib():.0f} MiB "
                    f"(before the {count}: {rss_before:.0f} MiB)", "reported", None)
        self.scale_namespaces = (floor_ns, scale_ns)

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

        def delta(sample: str, label: str) -> dict[str, float]:
            b, a = sum_by(before, sample, label), sum_by(after, sample, label)
            return {k: a[k] - b.get(k, 0.0) for k in a if a[k] - b.get(k, 0.0)}

        syncs = delta("bitcoin_controller_syncs_total", "result")
        total_syncs = sum(syncs.values())
        requests = delta("rest_client_requests_total", "method")
        rpcs = delta("bitcoin_rpc_request_duration_seconds_count", "method")
        print(f"          window {window:.1f} s, syncs {dict(syncs)}, API requests {dict(requests)}, "
              f"RPC calls {dict(rpcs)}")
        if not total_syncs:
            self.figure("steady-state syncs", "none ran in the window", f"{resyncs}", False)
            return
        self.figure("syncs in the window", f"{total_syncs:.0f} in {resyncs} resync periods",
                    f"{resyncs} (one per resync)", None)
        per = {m: v / total_syncs for m, v in sorted(requests.items())}
        writes = sum(v for m, v in per.items() if m != "GET")
        shown = ", ".join(f"{m} {v:.2f}" for m, v in per.items()) or "none"
        self.figure("API requests per resync", shown, "0 writes", writes == 0)
        rpc_per = {m: v / total_syncs for m, v in sorted(rpcs.items())}
        shown = ", ".join(f"{m} {v:.2f}" for m, v in rpc_per.items()) or "none"
        expected = 3 * nodes
        self.figure(f"RPC calls per mesh check ({nodes} nodes)", f"{sum(rpc_per.values()):.2f}: {shown}",
                    f"3n = {expected} reads, 0 addnode", sum(rpc_per.values()) <= expected and "addnode" not in rpc_per)

    # -- all of it -----------------------------------------------------------------------------

    def run(self) -> None:
        self.install()
        for f in self.followers:
            f.start()
        for f in self.followers:
            if not f.synced.wait(30):
                raise RuntimeError(f"{f.kind} watch did not start")
        self.start_controller("main")
        self.bench_create()
        self.bench_scale()
        say("deleting the 200-network namespaces before the btcd measurements")
        self.delete_namespaces(getattr(self, "scale_namespaces", ()), wait=180)
        mesh_ns = self.namespace("mesh")
        self.bench_connected(mesh_ns, "mesh-3", 3, keep=True)
        self.bench_connected(mesh_ns, "mesh-10", 10, keep=False)
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
            "daemons would overload a 2-core machine).",
            "",
            "| figure | measured | goal | |",
            "| --- | --- | --- | --- |",
        ]
        lines += [f"| {f.name} | {f.value} | {f.goal} | {f.mark} |" for f in self.figures]
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        lines += ["", f"{len(misses)} figure(s) missed their goal." if misses else "Every figure met its goal."]
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", help="use this running cluster instead of a private local cluster")
    parser.add_argument("--cluster-base", default=CLUSTER_BASE, help="state directory of the private cluster")
    parser.add_argument("--keep-cluster", action="store_true", help="leave the private cluster running")
    parser.add_argument("--create-networks", type=int, default=20)
    parser.add_argument("--scale-networks", type=int, default=200)
    parser.add_argument("--writers", type=int, default=16, help="writer threads for the 200-network run")
    parser.add_argument("--resyncs", type=int, default=10, help="resync periods in the steady-state window")
    parser.add_argument("--converge-timeout", type=float, default=180.0)
    parser.add_argument("--scale-timeout", type=float, default=180.0)
    args = parser.parse_args()

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
    bench = Bench(args, kubeconfig, log_dir)
    started = time.monotonic()
    try:
        bench.run()
    finally:
        bench.close()
        if args.kubeconfig:
            bench.delete_namespaces(bench.namespaces, wait=0)
        elif cluster is not None and started_cluster and not args.keep_cluster:
            say("Stopping the private local cluster")
            cluster.down(quiet=True)
    say(f"done in {time.monotonic() - started:.0f} s (without cluster start-up)")
    print("\n" + bench.report(cluster_note))
    return 1 if any(f.ok is False for f in bench.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
