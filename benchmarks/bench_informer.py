"""Benchmark: our informer pipeline against the official Python client.

Two measurements, both against a local HTTP server (a separate process, so it
does not compete with the client for the GIL) that replays recorded bytes:

1. **Watch throughput.**  One watch stream of 10,000 pod events (ADDED for
   2,000 pods, then MODIFIED), newline-delimited JSON, ~2.5 KB pods, sent
   with chunked encoding as the API server does.

   * ours: the real REST ``Clientset`` -> ``ListWatch`` -> ``Reflector`` ->
     ``DeltaFIFO`` -> indexer -> a handler counting notifications;
   * official: ``kubernetes.watch.Watch().stream(CoreV1Api().list_namespaced_pod)``,
     which deserialises every event into a ``V1Pod`` model.

   Reported as events/s and the ratio (goal: ours >= 5x).

2. **Initial sync.**  One LIST response of 10,000 pods (plus an empty watch):
   time from ``informer.run`` to ``has_synced()``, against a bare
   ``json.loads`` of the same bytes (goal: <= 2x).

Each measurement is repeated three times and the best run is reported (the
machine is shared, so single runs are noisy); every run is printed too.

Run: ``.venv/bin/python benchmarks/bench_informer.py`` (one to two minutes).
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bitcoin_controller.clientgo.kubernetes import scheme  # noqa: E402
from bitcoin_controller.clientgo.kubernetes.rest_clientset import Clientset  # noqa: E402
from bitcoin_controller.clientgo.rest.config import Config  # noqa: E402
from bitcoin_controller.clientgo.tools.cache.controller import (  # noqa: E402
    ResourceEventHandlerFuncs,
)
from bitcoin_controller.clientgo.tools.cache.index import (  # noqa: E402
    NAMESPACE_INDEX,
    meta_namespace_index_func,
)
from bitcoin_controller.clientgo.tools.cache.listwatch import (  # noqa: E402
    new_list_watch_from_client,
)
from bitcoin_controller.clientgo.tools.cache.shared_informer import (  # noqa: E402
    SharedIndexInformer,
)

NAMESPACE = "bench"
WATCH_EVENTS = 10_000
DISTINCT_PODS = 2_000
LIST_PODS = 10_000
CHUNK = 64 * 1024


# -- data -------------------------------------------------------------------------------


def make_pod(i: int, rv: int, generation: int = 1) -> dict[str, Any]:
    """A realistic ~2.5 KB pod of a bitcoind StatefulSet."""
    name = f"regtest-{i // 3:05d}-{i % 3}"
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"6c1f4a2e-{i:04x}-4d3b-9e2a-{rv:012x}",
            "resourceVersion": str(rv),
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {
                "app.kubernetes.io/name": "bitcoind",
                "app.kubernetes.io/instance": f"regtest-{i // 3:05d}",
                "app.kubernetes.io/managed-by": "bitcoin-controller",
                "apps.kubernetes.io/pod-index": str(i % 3),
                "controller-revision-hash": f"regtest-{i // 3:05d}-7d9f8c6b5",
                "statefulset.kubernetes.io/pod-name": name,
            },
            "annotations": {
                "bitcoincontroller.dev/config-hash": f"{i * 7919:016x}",
            },
            "ownerReferences": [{
                "apiVersion": "apps/v1", "kind": "StatefulSet", "name": f"regtest-{i // 3:05d}",
                "uid": f"0b7e2c1d-{i // 3:04x}-4f00-8a00-000000000000",
                "controller": True, "blockOwnerDeletion": True,
            }],
        },
        "spec": {
            "containers": [{
                "name": "bitcoind",
                "image": "ghcr.io/bitcoin-controller/bitcoind:27.1",
                "args": ["-regtest=1", "-server=1", "-txindex=1", "-printtoconsole=1",
                         "-rpcbind=0.0.0.0", "-rpcallowip=0.0.0.0/0", "-listen=1"],
                "ports": [{"name": "rpc", "containerPort": 18443, "protocol": "TCP"},
                          {"name": "p2p", "containerPort": 18444, "protocol": "TCP"}],
                "env": [{"name": "BITCOIN_NETWORK", "value": "regtest"},
                        {"name": "RPC_USER", "valueFrom": {"secretKeyRef": {
                            "name": f"regtest-{i // 3:05d}-rpc", "key": "username"}}}],
                "resources": {"requests": {"cpu": "100m", "memory": "256Mi"},
                              "limits": {"cpu": "1", "memory": "1Gi"}},
                "volumeMounts": [
                    {"name": "data", "mountPath": "/home/bitcoin/.bitcoin"},
                    {"name": "kube-api-access-x7k2p", "readOnly": True,
                     "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"},
                ],
                "imagePullPolicy": "IfNotPresent",
            }],
            "volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": f"data-{name}"}}],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "nodeName": f"node-{i % 17}",
            "hostname": name,
            "subdomain": f"regtest-{i // 3:05d}",
            "schedulerName": "default-scheduler",
            "priority": 0,
        },
        "status": {
            "phase": "Running",
            "conditions": [
                {"type": t, "status": "True", "lastProbeTime": None,
                 "lastTransitionTime": "2026-01-01T00:00:05Z"}
                for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")
            ],
            "hostIP": f"10.0.{i % 17}.1",
            "podIP": f"10.244.{i % 250}.{generation % 250}",
            "podIPs": [{"ip": f"10.244.{i % 250}.{generation % 250}"}],
            "startTime": "2026-01-01T00:00:01Z",
            "containerStatuses": [{
                "name": "bitcoind", "ready": True, "restartCount": generation - 1,
                "state": {"running": {"startedAt": "2026-01-01T00:00:03Z"}},
                "image": "ghcr.io/bitcoin-controller/bitcoind:27.1",
                "imageID": "ghcr.io/bitcoin-controller/bitcoind@sha256:" + "ab" * 32,
                "containerID": f"containerd://{i:064x}",
                "started": True,
            }],
            "qosClass": "Burstable",
        },
    }


def watch_stream_bytes() -> bytes:
    lines = []
    for n in range(WATCH_EVENTS):
        i = n % DISTINCT_PODS
        event_type = "ADDED" if n < DISTINCT_PODS else "MODIFIED"
        pod = make_pod(i, rv=100 + n, generation=1 + n // DISTINCT_PODS)
        lines.append(json.dumps({"type": event_type, "object": pod}, separators=(",", ":")))
    return ("\n".join(lines) + "\n").encode()


def list_bytes(count: int, rv: int) -> bytes:
    items = []
    for i in range(count):
        pod = make_pod(i, rv=10 + i)
        # The API server leaves kind/apiVersion out of the items of a typed list.
        del pod["kind"], pod["apiVersion"]
        items.append(pod)
    body = {"kind": "PodList", "apiVersion": "v1",
            "metadata": {"resourceVersion": str(rv)}, "items": items}
    return json.dumps(body, separators=(",", ":")).encode()


# -- server (child process) ----------------------------------------------------------------


def serve(list_body: bytes, watch_body: bytes, port_queue: Any) -> None:
    """Serve LIST with ``list_body``.  A WATCH from resourceVersion "1" (our informer,
    after listing the empty list) or from none (the official client) gets
    ``watch_body`` and ends; a WATCH from anywhere else -- a reflector resuming
    after the stream ended, or the sync benchmark's watch -- stays open and idle."""
    never = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:  # noqa: N802 -- http.server's naming
            query = parse_qs(urlparse(self.path).query)
            if query.get("watch", ["false"])[0] in ("true", "True", "1"):
                first = query.get("resourceVersion", [""])[0] in ("", "1")
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                if first:
                    for start in range(0, len(watch_body), CHUNK):
                        chunk = watch_body[start:start + CHUNK]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.write(b"0\r\n\r\n")
                    self.close_connection = True
                else:
                    self.wfile.flush()
                    never.wait()  # an idle watch: the benchmark ends before it would
                return
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(list_body)))
            self.end_headers()
            self.wfile.write(list_body)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port_queue.put(server.server_address[1])
    server.serve_forever()


class ServerProcess:
    def __init__(self, list_body: bytes, watch_body: bytes) -> None:
        ctx = multiprocessing.get_context("fork")
        port_queue = ctx.Queue()
        self.process = ctx.Process(target=serve, args=(list_body, watch_body, port_queue),
                                   daemon=True)
        self.process.start()
        self.url = f"http://127.0.0.1:{port_queue.get(timeout=30)}"

    def close(self) -> None:
        self.process.terminate()
        self.process.join(10)


# -- measurements ---------------------------------------------------------------------------


def run_informer_until(url: str, done: threading.Event, count: list[int], target: int,
                       synced_only: bool) -> float:
    """Run an informer against ``url``; seconds until ``target`` notifications (or synced)."""
    clientset = Clientset(Config(host=url))
    lw = new_list_watch_from_client(clientset, scheme.PODS, NAMESPACE)
    informer = SharedIndexInformer(lw, scheme.PODS, 0.0,
                                   {NAMESPACE_INDEX: meta_namespace_index_func}, name="bench-pods")

    def on_event(*_: Any) -> None:
        count[0] += 1
        if count[0] == target:
            done.set()

    informer.add_event_handler(
        ResourceEventHandlerFuncs(on_add=on_event, on_update=on_event, on_delete=on_event)
    )
    stop = threading.Event()
    thread = threading.Thread(target=informer.run, args=(stop,), daemon=True)
    start = time.perf_counter()
    thread.start()
    if synced_only:
        tick = threading.Event()
        while not informer.has_synced():
            tick.wait(0.0005)
    else:
        done.wait(300)
    elapsed = time.perf_counter() - start
    stop.set()
    thread.join(30)
    return elapsed


def bench_watch(watch_body: bytes, repeats: int) -> tuple[list[float], list[float]]:
    from kubernetes import client as k8s_client
    from kubernetes import watch as k8s_watch

    server = ServerProcess(list_bytes(0, rv=1), watch_body)
    ours: list[float] = []
    official: list[float] = []
    try:
        for _ in range(repeats):
            done, count = threading.Event(), [0]
            ours.append(run_informer_until(server.url, done, count, WATCH_EVENTS, False))
            assert count[0] >= WATCH_EVENTS, count

        configuration = k8s_client.Configuration()
        configuration.host = server.url
        api = k8s_client.CoreV1Api(k8s_client.ApiClient(configuration))
        for _ in range(repeats):
            received = 0
            start = time.perf_counter()
            for event in k8s_watch.Watch().stream(api.list_namespaced_pod, NAMESPACE,
                                                  timeout_seconds=600):
                assert isinstance(event["object"], k8s_client.V1Pod)
                received += 1
                if received == WATCH_EVENTS:
                    break
            official.append(time.perf_counter() - start)
            assert received == WATCH_EVENTS, received
    finally:
        server.close()
    return ours, official


def bench_initial_sync(repeats: int) -> tuple[list[float], list[float], int]:
    body = list_bytes(LIST_PODS, rv=50_000)
    baseline = [_time(lambda: json.loads(body)) for _ in range(repeats)]
    server = ServerProcess(body, b"")
    ours: list[float] = []
    try:
        for _ in range(repeats):
            done, count = threading.Event(), [0]
            ours.append(run_informer_until(server.url, done, count, LIST_PODS, True))
    finally:
        server.close()
    return ours, baseline, len(body)


def _time(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _runs(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    repeats = 3
    watch_body = watch_stream_bytes()
    per_pod = len(watch_body) / WATCH_EVENTS
    print(f"watch stream: {WATCH_EVENTS} events, {len(watch_body) / 1e6:.1f} MB "
          f"({per_pod:.0f} B/event); best of {repeats} runs (all runs in brackets)")
    ours, official = bench_watch(watch_body, repeats)
    ours_rate, official_rate = WATCH_EVENTS / min(ours), WATCH_EVENTS / min(official)
    print(f"  ours (REST watch -> reflector -> DeltaFIFO -> indexer -> handler): "
          f"{ours_rate:,.0f} events/s  [{_runs(ours)} s]")
    print(f"  official (Watch.stream -> V1Pod models):                         "
          f"{official_rate:,.0f} events/s  [{_runs(official)} s]")
    print(f"  ratio ours/official: {ours_rate / official_rate:.1f}x (goal >= 5x)")
    lines = watch_body.splitlines()
    floor = [_time(lambda: [json.loads(line) for line in lines]) for _ in range(repeats)]
    print(f"  floor: json.loads of each line alone: {WATCH_EVENTS / min(floor):,.0f} events/s "
          f"[{_runs(floor)} s]; ours costs {min(ours) / min(floor):.2f}x that")

    sync, baseline, size = bench_initial_sync(repeats)
    print(f"initial sync: one LIST of {LIST_PODS} pods, {size / 1e6:.1f} MB; best of {repeats}")
    print(f"  ours (LIST -> Replace -> pop all -> indexer -> handler, to has_synced): "
          f"{min(sync):.2f} s  [{_runs(sync)}]")
    print(f"  json.loads of the same bytes:                                         "
          f"{min(baseline):.2f} s  [{_runs(baseline)}]")
    print(f"  ratio ours/json.loads: {min(sync) / min(baseline):.2f}x (goal <= 2x)")


if __name__ == "__main__":
    main()
