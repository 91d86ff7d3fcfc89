"""Time to a usable network: from creating a 3-node btcd network to ``Synced=True``, and where it goes.

Not a test: a script that prints p50 over ``--networks`` networks (one at a
time) with a breakdown, each stage measured to the *last* pod of the network
reaching it, from this script's own watch events:

=================  ==============================================================
create → sts       the controller: the network's create returned → StatefulSet seen
sts → pods         the StatefulSet controller: → the last pod object seen
pods → scheduled   the scheduler: → the last pod bound to a node (``spec.nodeName``)
scheduled → run    image and container start: → the last pod ``Running``
run → Ready        daemon start and the readiness probe (initial delay, period)
Ready → Connected  the controller's mesh: last pod Ready → status ``Connected=True``
Connected → Synced same best block everywhere: → status ``Synced=True``
=================  ==============================================================

``--backend`` picks the node the pods run on:

* ``kwok`` (default): the local cluster's kwok node with its pod runner,
  daemons as local processes (no images, no container runtime);
* ``node`` (alias ``kubelet``): the local cluster's real node -- kubelet,
  containerd and kube-proxy, pods as containers from the images built here
  (the local btcd image also answers to the controller's default btcd image
  name, which nothing here can pull).  With ``--kubeconfig`` any running
  cluster is used as it is, and ``--backend`` only labels the report.

The controller runs as its ServiceAccount (``--impersonate``), as in
``bench_controller.py``.

Run::

    .venv/bin/python benchmarks/bench_usable.py                    # kwok, private cluster
    .venv/bin/python benchmarks/bench_usable.py --backend node
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import bench_controller as bc  # noqa: E402

from bitcoin_controller.clientgo.kubernetes import scheme  # noqa: E402
from bitcoin_controller.controller import resources  # noqa: E402

STAGES = ["create → sts", "sts → pods", "pods → scheduled", "scheduled → run", "run → Ready",
          "Ready → Connected", "Connected → Synced"]
CLUSTER_BASE = os.environ.get("LOCAL_CLUSTER_BASE", "/tmp/bench-usable-cluster")


class StageTimeline(bc.Timeline):
    """The benchmark's Timeline plus each pod's first scheduled and first Running arrival."""

    def __init__(self) -> None:
        super().__init__()
        self.scheduled: dict[tuple[str, str], float] = {}
        self.running: dict[tuple[str, str], float] = {}

    def record(self, kind: str, event_type: str, obj: dict, at: float) -> None:
        if kind == "Pod" and event_type != "DELETED":
            meta = obj.get("metadata") or {}
            key = (meta.get("namespace", ""), meta.get("name", ""))
            with self.cond:
                if (obj.get("spec") or {}).get("nodeName"):
                    self.scheduled.setdefault(key, at)
                if (obj.get("status") or {}).get("phase") == "Running":
                    self.running.setdefault(key, at)
        super().record(kind, event_type, obj, at)


class UsableBench(bc.Bench):
    def __init__(self, args: argparse.Namespace, kubeconfig: str, log_dir: Path) -> None:
        super().__init__(args, kubeconfig, log_dir)
        self.timeline = StageTimeline()
        self.followers = [
            bc.Follower(kind, self.clientset.resource(info), self.timeline)
            for kind, info in (("StatefulSet", scheme.STATEFUL_SETS), ("Pod", scheme.PODS),
                               ("BitcoinNetwork", scheme.BITCOIN_NETWORKS))
        ]
        self.samples: list[dict[str, float]] = []

    def synced_at(self, ns: str, name: str, after: float) -> tuple[float | None, float | None]:
        connected = synced = None
        for at, status in self.timeline.statuses.get((ns, name), []):
            if at < after:
                continue
            if connected is None and bc._condition(status, "Connected") == "True":
                connected = at
            if synced is None and bc._condition(status, "Synced") == "True":
                synced = at
        return connected, synced

    def one(self, ns: str, name: str, nodes: int) -> dict[str, float] | None:
        client = self.networks(ns)
        client.create(self.network(ns, name, nodes))
        t0 = time.monotonic()
        pods = [(ns, resources.pod_name(name, i)) for i in range(nodes)]

        def done() -> tuple[float, float] | None:
            ready = [self.timeline.ready_since.get(p) for p in pods]
            if any(r is None for r in ready):
                return None
            last_ready = max(r for r in ready if r is not None)
            connected, synced = self.synced_at(ns, name, last_ready)
            return (connected, synced) if connected is not None and synced is not None else None

        found = self.timeline.wait(done, self.args.timeout)
        if found is None:
            self.notes.append(f"{name}: not Synced within {self.args.timeout:.0f} s")
            return None
        connected, synced = found
        with self.timeline.cond:
            tl = self.timeline
            sts = tl.added["StatefulSet"][(ns, resources.statefulset_name(name))]
            marks = [t0, sts, max(tl.added["Pod"][p] for p in pods), max(tl.scheduled[p] for p in pods),
                     max(tl.running[p] for p in pods), max(tl.ready_since[p] or 0 for p in pods), connected, synced]
        sample = {stage: max(0.0, marks[i + 1] - max(marks[: i + 1])) for i, stage in enumerate(STAGES)}
        sample["total"] = synced - t0
        client.delete(name, propagation_policy="Background")
        self.timeline.wait(lambda: not self.timeline.live_pods(ns, name), 90)
        return sample

    def run(self) -> None:  # type: ignore[override]
        self.install()
        self.start_followers()
        self.start_controller("usable")
        ns = self.namespace("usable")
        for i in range(self.args.networks):
            sample = self.one(ns, f"usable-{i:02d}", self.args.nodes)
            if sample is not None:
                self.samples.append(sample)
                print(f"          usable-{i:02d}: {sample['total']:.2f} s  "
                      + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in sample.items() if k != "total"), flush=True)

    def usable_report(self, note: str) -> str:
        if not self.samples:
            return "no network became usable"
        p50 = {k: statistics.median(s[k] for s in self.samples) for k in [*STAGES, "total"]}
        lines = [f"### Time to a usable network ({time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores, {note})", "",
                 f"`benchmarks/bench_usable.py --backend {self.args.backend}`: {len(self.samples)} btcd networks "
                 f"of {self.args.nodes} nodes, one at a time, create → `Synced=True`; p50 of each stage (to the "
                 "last pod) and of the total (the stages' p50s need not add up to it).", "",
                 "| stage | p50 | what it is |", "| --- | --- | --- |"]
        what = {
            "create → sts": "the controller's first sync",
            "sts → pods": "the StatefulSet controller creates the pods",
            "pods → scheduled": "the scheduler binds them",
            "scheduled → run": "image and container start (kwok: the pod runner starts a process)",
            "run → Ready": "daemon start + readiness probe (initialDelay 1 s, period 2 s)",
            "Ready → Connected": "the controller's mesh (addnode over RPC)",
            "Connected → Synced": "same best block on every node",
        }
        lines += [f"| {k} | {bc.ms(p50[k])} | {what[k]} |" for k in STAGES]
        lines.append(f"| **total, create → Synced** | **{p50['total']:.2f} s** | "
                     f"min {min(s['total'] for s in self.samples):.2f} s, "
                     f"max {max(s['total'] for s in self.samples):.2f} s |")
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("kwok", "node", "kubelet"), default="kwok")
    parser.add_argument("--kubeconfig", help="use this running cluster (its node is what it is)")
    parser.add_argument("--cluster-base", default=CLUSTER_BASE)
    parser.add_argument("--keep-cluster", action="store_true")
    parser.add_argument("--networks", type=int, default=10)
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()

    cluster = None
    started = False
    if args.kubeconfig:
        kubeconfig, log_dir, note = args.kubeconfig, Path(tempfile.mkdtemp(prefix="bench-usable-")), "given cluster"
    else:
        from localcluster import LocalCluster

        backend = "node" if args.backend == "kubelet" else args.backend
        cluster = LocalCluster(ROOT, base=args.cluster_base, bin_dir=ROOT / ".local-cluster" / "bin", backend=backend)
        bc.say(f"Starting a private local cluster in {args.cluster_base} ({backend})")
        started = cluster.up()
        if backend == "node":
            from bitcoin_controller.controller.implementations import BTCD

            cluster.tag_image(cluster.images["btcd"], BTCD.default_image)
        kubeconfig, log_dir = cluster.kubeconfig, Path(args.cluster_base) / "logs"
        note = f"private local cluster, {backend} node"
    bench = UsableBench(argparse.Namespace(**vars(args), resyncs=0), kubeconfig, log_dir)
    bench.run_id = secrets.token_hex(2)
    try:
        bench.run()
    except KeyboardInterrupt:
        bench.notes.append("interrupted: incomplete")
    finally:
        bench.close()
        if cluster is not None and started and not args.keep_cluster:
            cluster.down(quiet=True)
        else:
            bench.delete_namespaces(bench.namespaces, wait=0)
    print("\n" + bench.usable_report(note))
    return 0 if len(bench.samples) == args.networks else 1


if __name__ == "__main__":
    sys.exit(main())
