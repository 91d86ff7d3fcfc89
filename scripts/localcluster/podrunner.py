"""The pod runner: a tiny stand-in for a kubelet's container runtime on the kwok node.

kwok allocates pod IPs (127.0.N.x, N=100 by default) and leaves pods Pending and not ready (see the
stages in cluster.py). This process watches the pods bound to the kwok node and, for
each pod with a ``status.podIP``, runs its containers as local processes:

* Images map to local binaries through ``IMAGES`` (any image whose repository name ends
  in ``btcd`` runs the locally built ``btcd``); the commands ``btcd``/``btcctl`` resolve to
  the built binaries, and a few host utilities (``sh``, ``sleep``, ...) to the host's.
  An unknown image is reported in the pod's log and in the container status
  (``ErrImagePull``), and never crashes the runner.
* ``command``/``args`` get Kubernetes ``$(VAR)`` expansion (``$$(VAR)`` escapes it);
  ``env`` supports ``value`` and ``valueFrom`` (fieldRef, secretKeyRef, configMapKeyRef),
  ``envFrom`` supports secretRef/configMapRef (``optional`` respected). A missing required
  Secret/ConfigMap means the container is not started (``CreateContainerConfigError``)
  and the runner retries, like a kubelet.
* Volumes (``secret``, ``configMap``, ``emptyDir``, ``downwardAPI``, ``projected`` and
  ``hostPath``) are materialised under the pod's own root
  ``.local-cluster/pods/<ns>_<name>_<uid>/volumes/<volume>/``.

Mounts: path mapping, not mount namespaces. Each container's ``mountPath`` is mapped to
the matching per-pod directory, and every occurrence of a mount path in the expanded
command, args, env values and exec probes is rewritten to that directory (at path
boundaries, longest mount path first). We chose this over ``unshare`` + bind mounts
because it needs no privileges (CI or a developer may not be root), creates nothing in
the host's file system (bind mounts need the mount points, e.g. ``/data``, to exist on
the host), keeps every daemon a plain child process that is easy to signal and clean
up, and is enough for daemons such as btcd that take all their paths as flags. The
limit: paths that a program builds itself (or reads from files) are not rewritten.
``HOME`` is the per-pod ``home/`` directory and the working directory is the pod root.

Lifecycle: processes are started in their own process group and stopped with SIGTERM,
then SIGKILL after the pod's grace period (capped), when the pod goes away, gets a
deletionTimestamp, or its pod IP changes. Containers are restarted according to the
pod's ``restartPolicy`` with exponential back-off (1 s doubling to 20 s). Output goes
to ``.local-cluster/logs/pods/<ns>_<pod>_<container>.log``.

Status: the runner owns pod status after kwok's IP assignment. It patches (status
subresource, strategic merge) the phase, ``containerStatuses`` (state, ready, started,
restartCount, lastState) and the ``Initialized``/``ContainersReady``/``Ready``
conditions from real facts: the process runs and its ``readinessProbe`` (tcpSocket,
httpGet, exec; thresholds and periods honoured) passes. ``livenessProbe`` failures
restart the container; a ``startupProbe`` gates the other two. When a deleted pod's
processes have stopped it sets the ``LocalRunnerStopped`` condition, on which kwok
finally removes the pod object.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import logging
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .cluster import _proc_starttime, _record_alive, terminate_recorded
from .kube import Kube, KubeError

log = logging.getLogger("pod-runner")

# image repository name suffix -> default entrypoint (used when `command` is empty)
IMAGES: dict[str, list[str]] = {
    "btcd": ["btcd"],
}
# commands that run the binaries built by scripts/build-local-cluster
LOCAL_BINARIES = {"btcd", "btcctl"}
# host utilities a container command or exec probe may use
HOST_COMMANDS = {"sh", "bash", "sleep", "true", "false", "cat", "echo", "test", "env", "ls"}

STOPPED_CONDITION = "LocalRunnerStopped"
MAX_GRACE = 30.0
TICK = 0.2


def now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def image_repository_name(image: str) -> str:
    """'ghcr.io/bitcoin-controller/btcd:v0.24.2@sha256:..' -> 'btcd'."""
    ref = image.split("@", 1)[0]
    last = ref.rsplit("/", 1)[-1]
    return last.split(":", 1)[0]


def image_entrypoint(image: str) -> list[str] | None:
    name = image_repository_name(image)
    for suffix, entry in IMAGES.items():
        if name.endswith(suffix):
            return list(entry)
    return None


_VAR_RE = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand(s: str, env: dict[str, str]) -> str:
    """Kubernetes' $(VAR) expansion: $$ escapes, unknown variables are left as they are."""

    def repl(m: re.Match) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env.get(name, m.group(0))

    return _VAR_RE.sub(repl, s)


class ConfigError(Exception):
    """The container can't be configured yet (missing Secret/ConfigMap key, unknown image)."""

    def __init__(self, reason: str, message: str):
        self.reason = reason
        super().__init__(message)


def field_ref(pod: dict, path: str) -> str:
    meta, spec, status = pod["metadata"], pod["spec"], pod.get("status", {})
    simple = {
        "metadata.name": meta.get("name", ""),
        "metadata.namespace": meta.get("namespace", ""),
        "metadata.uid": meta.get("uid", ""),
        "spec.nodeName": spec.get("nodeName", ""),
        "spec.serviceAccountName": spec.get("serviceAccountName", ""),
        "status.podIP": status.get("podIP", ""),
        "status.hostIP": status.get("hostIP", ""),
        "status.podIPs": ",".join(p["ip"] for p in status.get("podIPs") or []),
        "status.hostIPs": ",".join(p["ip"] for p in status.get("hostIPs") or []),
    }
    if path in simple:
        return simple[path]
    m = re.fullmatch(r"metadata\.(labels|annotations)\['([^']*)'\]", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    raise ConfigError("CreateContainerConfigError", f"unsupported fieldRef {path!r}")


# ---------------------------------------------------------------------------- probes


@dataclass
class ProbeState:
    spec: dict
    successes: int = 0
    failures: int = 0
    result: bool | None = None  # None: not yet decided
    next_run: float = 0.0
    last_message: str = ""

    @property
    def period(self) -> float:
        return float(self.spec.get("periodSeconds") or 10)

    @property
    def timeout(self) -> float:
        return float(self.spec.get("timeoutSeconds") or 1)

    def record(self, ok: bool, message: str) -> None:
        self.last_message = message
        if ok:
            self.successes += 1
            self.failures = 0
            if self.successes >= int(self.spec.get("successThreshold") or 1):
                self.result = True
        else:
            self.failures += 1
            self.successes = 0
            if self.failures >= int(self.spec.get("failureThreshold") or 3):
                self.result = False


# ---------------------------------------------------------------------------- containers


@dataclass
class Container:
    spec: dict
    init: bool = False
    proc: subprocess.Popen | None = None
    started_at: str | None = None
    started_mono: float = 0.0
    restart_count: int = 0
    next_start: float = 0.0
    backoff: float = 0.0
    done: bool = False  # terminated and not to be restarted
    exit_code: int | None = None
    last_terminated: dict | None = None
    terminated: dict | None = None
    waiting: tuple[str, str] = ("ContainerCreating", "")
    readiness: ProbeState | None = None
    liveness: ProbeState | None = None
    startup: ProbeState | None = None
    record_path: Path | None = None
    argv_env: tuple[list[str], dict[str, str], str] | None = None
    ever_started: bool = False

    @property
    def name(self) -> str:
        return self.spec["name"]

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def reset_probes(self) -> None:
        self.readiness = ProbeState(self.spec["readinessProbe"]) if self.spec.get(
            "readinessProbe") else None
        self.liveness = ProbeState(self.spec["livenessProbe"]) if self.spec.get(
            "livenessProbe") else None
        self.startup = ProbeState(self.spec["startupProbe"]) if self.spec.get(
            "startupProbe") else None
        if self.liveness:
            self.liveness.result = True

    @property
    def started(self) -> bool:
        return self.running and (self.startup is None or self.startup.result is True)

    @property
    def ready(self) -> bool:
        if not self.started:
            return False
        if self.readiness is None:
            return True
        return self.readiness.result is True


class PodWorker(threading.Thread):
    """Runs one pod (identified by UID) on one pod IP until it should stop."""

    def __init__(self, runner: Runner, pod: dict):
        meta = pod["metadata"]
        super().__init__(name=f"pod-{meta['namespace']}/{meta['name']}", daemon=True)
        self.runner = runner
        self.kube = runner.kube
        self.uid = meta["uid"]
        self.ns = meta["namespace"]
        self.pod_name = meta["name"]
        self.ip = pod["status"]["podIP"]
        self.pod = pod
        self.root = runner.base / "pods" / f"{self.ns}_{self.pod_name}_{self.uid}"
        self.stop_requested = threading.Event()
        spec = pod["spec"]
        self.restart_policy = spec.get("restartPolicy") or "Always"
        self.init_containers = [Container(c, init=True) for c in spec.get("initContainers") or []]
        self.containers = [Container(c) for c in spec.get("containers") or []]
        self.init_done = not self.init_containers
        self.failed = False
        self.volumes: dict[str, Path] = {}
        self.volumes_ok = False
        self.volume_error = ""
        self.next_volume_sync = 0.0
        self.last_status: str | None = None
        self.patch_failing = False
        self.cond_times: dict[str, tuple[str, str]] = {}
        self.finished = False

    # ------------------------------------------------------------------ helpers

    def plog(self, container: str, msg: str) -> None:
        """A line in the container's log file (and the runner log)."""
        path = self.runner.base / "logs" / "pods" / f"{self.ns}_{self.pod_name}_{container}.log"
        with open(path, "a") as f:
            f.write(f"[pod-runner {now_iso()}] {msg}\n")
        log.info("%s/%s[%s]: %s", self.ns, self.pod_name, container, msg)

    def event(self, reason: str, message: str, kind: str = "Normal", container: str = "") -> None:
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{self.pod_name}.", "namespace": self.ns},
            "involvedObject": {
                "apiVersion": "v1", "kind": "Pod", "name": self.pod_name,
                "namespace": self.ns, "uid": self.uid,
                **({"fieldPath": f"spec.containers{{{container}}}"} if container else {}),
            },
            "reason": reason,
            "message": message,
            "type": kind,
            "source": {"component": "local-pod-runner", "host": self.runner.node},
            "firstTimestamp": now_iso(),
            "lastTimestamp": now_iso(),
            "count": 1,
        }
        try:
            self.kube.post(f"/api/v1/namespaces/{self.ns}/events", body, timeout=5)
        except Exception as e:  # noqa: BLE001 - events are best effort
            log.debug("event failed: %s", e)

    def get_object(self, kind: str, name: str, optional: bool) -> dict | None:
        path = f"/api/v1/namespaces/{self.ns}/{kind}s/{name}"
        try:
            obj = self.kube.get(path, ok_404=True, timeout=10)
        except KubeError as e:
            raise ConfigError("CreateContainerConfigError", f"reading {kind} {name!r}: {e}") from e
        except (OSError, http.client.HTTPException) as e:  # API server unreachable
            raise ConfigError("ContainerCreating", f"reading {kind} {name!r}: {e}") from e
        if obj is None and not optional:
            raise ConfigError(
                "CreateContainerConfigError", f'{kind} "{name}" not found'
            )
        return obj

    @staticmethod
    def object_data(kind: str, obj: dict) -> dict[str, bytes]:
        out: dict[str, bytes] = {}
        if kind == "secret":
            for k, v in (obj.get("data") or {}).items():
                out[k] = base64.b64decode(v)
            for k, v in (obj.get("stringData") or {}).items():
                out[k] = v.encode()
        else:
            for k, v in (obj.get("data") or {}).items():
                out[k] = v.encode()
            for k, v in (obj.get("binaryData") or {}).items():
                out[k] = base64.b64decode(v)
        return out

    # ------------------------------------------------------------------ volumes

    def _write_files(self, target: Path, files: dict[str, bytes], mode: int) -> None:
        target.mkdir(parents=True, exist_ok=True)
        for rel, data in files.items():
            p = target / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            try:
                if p.read_bytes() == data:
                    continue
            except OSError:
                pass
            tmp = p.with_name(f".{p.name}.tmp")
            tmp.write_bytes(data)
            os.chmod(tmp, mode)
            os.replace(tmp, p)

    def _source_files(self, kind: str, src: dict) -> dict[str, bytes] | None:
        name = src.get("secretName") if kind == "secret" else src.get("name")
        obj = self.get_object(kind, name, bool(src.get("optional")))
        if obj is None:
            return {}
        data = self.object_data(kind, obj)
        items = src.get("items")
        if not items:
            return data
        files = {}
        for it in items:
            if it["key"] not in data:
                if src.get("optional"):
                    continue
                raise ConfigError(
                    "CreateContainerConfigError", f'{kind} "{name}" has no key "{it["key"]}"'
                )
            files[it["path"]] = data[it["key"]]
        return files

    def _downward_files(self, items: list[dict]) -> dict[str, bytes]:
        files = {}
        for it in items or []:
            if "fieldRef" in it:
                files[it["path"]] = field_ref(self.pod, it["fieldRef"]["fieldPath"]).encode()
        return files

    def _sa_token(self, src: dict) -> dict[str, bytes]:
        sa = self.pod["spec"].get("serviceAccountName") or "default"
        body = {
            "apiVersion": "authentication.k8s.io/v1",
            "kind": "TokenRequest",
            "spec": {
                "audiences": [src["audience"]] if src.get("audience") else [],
                "expirationSeconds": int(src.get("expirationSeconds") or 3607),
                "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                   "name": self.pod_name, "uid": self.uid},
            },
        }
        try:
            r = self.kube.post(
                f"/api/v1/namespaces/{self.ns}/serviceaccounts/{sa}/token", body, timeout=10
            )
        except (KubeError, OSError, http.client.HTTPException) as e:
            raise ConfigError("ContainerCreating", f"service account token: {e}") from e
        return {src["path"]: r["status"]["token"].encode()}

    def sync_volumes(self) -> None:
        """Materialise (or refresh) the pod's volumes; raises ConfigError when not possible."""
        for vol in self.pod["spec"].get("volumes") or []:
            name = vol["name"]
            target = self.root / "volumes" / name
            if "emptyDir" in vol:
                target.mkdir(parents=True, exist_ok=True)
            elif "hostPath" in vol:
                target = Path(vol["hostPath"]["path"])
                if (vol["hostPath"].get("type") or "") in ("DirectoryOrCreate", ""):
                    target.mkdir(parents=True, exist_ok=True)
            elif "secret" in vol:
                files = self._source_files("secret", vol["secret"])
                self._write_files(target, files, vol["secret"].get("defaultMode") or 0o644)
            elif "configMap" in vol:
                files = self._source_files("configmap", vol["configMap"])
                self._write_files(target, files, vol["configMap"].get("defaultMode") or 0o644)
            elif "downwardAPI" in vol:
                self._write_files(target, self._downward_files(vol["downwardAPI"].get("items")),
                                  0o644)
            elif "projected" in vol:
                files = {}
                for src in vol["projected"].get("sources") or []:
                    if "secret" in src:
                        s = dict(src["secret"], secretName=src["secret"]["name"])
                        files.update(self._source_files("secret", s))
                    elif "configMap" in src:
                        files.update(self._source_files("configmap", src["configMap"]))
                    elif "downwardAPI" in src:
                        files.update(self._downward_files(src["downwardAPI"].get("items")))
                    elif "serviceAccountToken" in src and (
                        not self.volumes_ok or name not in self.volumes
                    ):
                        files.update(self._sa_token(src["serviceAccountToken"]))
                self._write_files(target, files, vol["projected"].get("defaultMode") or 0o644)
            else:
                raise ConfigError(
                    "ContainerCreating",
                    f"volume {name!r}: unsupported volume type "
                    f"({', '.join(k for k in vol if k != 'name')}) on the local pod runner",
                )
            self.volumes[name] = target

    def mounts(self, c: Container) -> list[tuple[str, str]]:
        out = []
        for m in c.spec.get("volumeMounts") or []:
            base = self.volumes.get(m["name"])
            if base is None:
                raise ConfigError("CreateContainerConfigError",
                                  f"volume mount {m['name']!r} has no volume")
            path = base / m["subPath"] if m.get("subPath") else base
            if m.get("subPath") and not path.exists():
                path.mkdir(parents=True, exist_ok=True)
            out.append((m["mountPath"].rstrip("/") or "/", str(path)))
        out.sort(key=lambda t: len(t[0]), reverse=True)
        return out

    @staticmethod
    def map_paths(s: str, mounts: list[tuple[str, str]]) -> str:
        for mount_path, host in mounts:
            pat = r"(?<![\w.\-/])" + re.escape(mount_path) + r"(?=/|$|[^\w.\-])"
            s = re.sub(pat, lambda _m, h=host: h, s)
        return s

    # ------------------------------------------------------------------ env and argv

    def build_env(self, c: Container) -> dict[str, str]:
        env: dict[str, str] = {}
        for ef in c.spec.get("envFrom") or []:
            prefix = ef.get("prefix", "")
            if "secretRef" in ef:
                ref, kind = ef["secretRef"], "secret"
            elif "configMapRef" in ef:
                ref, kind = ef["configMapRef"], "configmap"
            else:
                continue
            obj = self.get_object(kind, ref["name"], bool(ref.get("optional")))
            if obj is None:
                continue
            for k, v in self.object_data(kind, obj).items():
                env[prefix + k] = v.decode(errors="replace")
        for e in c.spec.get("env") or []:
            name = e["name"]
            if "valueFrom" not in e:
                env[name] = expand(e.get("value", ""), env)
                continue
            vf = e["valueFrom"]
            if "fieldRef" in vf:
                env[name] = field_ref(self.pod, vf["fieldRef"]["fieldPath"])
            elif "secretKeyRef" in vf or "configMapKeyRef" in vf:
                kind = "secret" if "secretKeyRef" in vf else "configmap"
                ref = vf.get("secretKeyRef") or vf.get("configMapKeyRef")
                obj = self.get_object(kind, ref["name"], bool(ref.get("optional")))
                if obj is None:
                    continue
                data = self.object_data(kind, obj)
                if ref["key"] not in data:
                    if ref.get("optional"):
                        continue
                    raise ConfigError(
                        "CreateContainerConfigError",
                        f"couldn't find key {ref['key']} in {kind} {self.ns}/{ref['name']}",
                    )
                env[name] = data[ref["key"]].decode(errors="replace")
            elif "resourceFieldRef" in vf:
                env[name] = "0"
            else:
                raise ConfigError("CreateContainerConfigError", f"unsupported env source {vf}")
        return env

    def resolve_command(self, word: str, image: str) -> str:
        base = os.path.basename(word)
        if base in LOCAL_BINARIES:
            p = self.runner.bin_dir / base
            if not os.access(p, os.X_OK):
                raise ConfigError("RunContainerError", f"{p} is missing; build the local cluster")
            return str(p)
        if base in HOST_COMMANDS:
            p = shutil.which(base)
            if p:
                return p
        raise ConfigError(
            "RunContainerError",
            f"executable {word!r} is not available in image {image!r} on the local pod runner "
            f"(known: {', '.join(sorted(LOCAL_BINARIES | HOST_COMMANDS))})",
        )

    def prepare(self, c: Container) -> tuple[list[str], dict[str, str], str]:
        image = c.spec.get("image", "")
        entry = image_entrypoint(image)
        if entry is None:
            raise ConfigError(
                "ErrImagePull",
                f"image {image!r} is not known to the local pod runner; known images are "
                f"repositories whose name ends in: {', '.join(sorted(IMAGES))}",
            )
        user_env = self.build_env(c)
        mounts = self.mounts(c)
        command = [expand(x, user_env) for x in (c.spec.get("command") or [])]
        args = [expand(x, user_env) for x in (c.spec.get("args") or [])]
        argv = (command or entry) + args
        argv = [self.map_paths(a, mounts) for a in argv]
        argv[0] = self.resolve_command(argv[0], image)
        home = self.root / "home"
        home.mkdir(parents=True, exist_ok=True)
        env = {
            "PATH": f"{self.runner.bin_dir}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(home),
            "HOSTNAME": self.pod["spec"].get("hostname") or self.pod_name,
        }
        env.update({k: self.map_paths(v, mounts) for k, v in user_env.items()})
        wd = c.spec.get("workingDir")
        cwd = self.map_paths(wd, mounts) if wd else str(self.root)
        if wd and not os.path.isdir(cwd):
            raise ConfigError("RunContainerError", f"workingDir {wd!r} does not exist here")
        return argv, env, cwd

    # ------------------------------------------------------------------ processes

    def start_container(self, c: Container) -> None:
        try:
            if not self.volumes_ok:
                raise ConfigError("ContainerCreating", self.volume_error or "volumes not ready")
            argv, env, cwd = self.prepare(c)
        except ConfigError as e:
            msg = str(e)
            if c.waiting != (e.reason, msg):
                self.plog(c.name, f"cannot start container: {e.reason}: {msg}")
                self.event("Failed", f"Error: {msg}", "Warning", c.name)
            c.waiting = (e.reason, msg)
            c.next_start = time.monotonic() + 2
            return
        c.argv_env = (argv, env, cwd)
        logpath = self.runner.base / "logs" / "pods" / f"{self.ns}_{self.pod_name}_{c.name}.log"
        # Log the command as the pod spec has it: expanded $(VAR)s can hold
        # Secret values, which must never reach a log.
        spec_argv = (c.spec.get("command") or [argv[0]]) + (c.spec.get("args") or [])
        self.plog(c.name, f"starting (pod uid {self.uid}, ip {self.ip}): {' '.join(spec_argv)}")
        with open(logpath, "ab") as out:
            try:
                c.proc = subprocess.Popen(
                    argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, start_new_session=True,
                )
            except OSError as e:
                c.waiting = ("RunContainerError", str(e))
                c.next_start = time.monotonic() + 2
                self.plog(c.name, f"start failed: {e}")
                return
        if c.ever_started:
            c.restart_count += 1
        c.ever_started = True
        c.started_at = now_iso()
        c.started_mono = time.monotonic()
        c.terminated = None
        c.waiting = ("", "")
        c.reset_probes()
        rec = {"pid": c.proc.pid, "starttime": None, "argv0": argv[0]}
        for _ in range(50):
            rec["starttime"] = _proc_starttime(c.proc.pid)
            if rec["starttime"] or c.proc.poll() is not None:
                break
            time.sleep(0.01)
        c.record_path = self.runner.base / "run" / "pods" / f"{self.uid}_{c.name}.json"
        c.record_path.write_text(json.dumps(rec))
        self.event("Started", f"Started container {c.name}", container=c.name)

    def kill(self, c: Container, grace: float, reason: str = "") -> None:
        if c.proc is None:
            return
        if c.running:
            self.plog(c.name, f"stopping (SIGTERM, grace {grace:.0f}s){': ' + reason if reason else ''}")
            try:
                os.killpg(c.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                c.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                self.plog(c.name, "grace period over, SIGKILL")
                try:
                    os.killpg(c.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                c.proc.wait()
        # the process group may still have members (e.g. a shell's children)
        try:
            os.killpg(c.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.reap(c, expected=True)

    def reap(self, c: Container, expected: bool = False) -> None:
        """Record a finished process; decide whether and when to restart it."""
        if c.proc is None or c.proc.poll() is None:
            return
        code = c.proc.returncode
        if code < 0:
            code = 128 - code  # killed by signal N -> 128+N, like a container runtime
        term = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": c.started_at,
            "finishedAt": now_iso(),
            "containerID": f"local://{c.proc.pid}",
        }
        if not expected:
            self.plog(c.name, f"process exited with code {code}")
        c.proc = None
        c.exit_code = code
        c.terminated = term
        c.last_terminated = term
        if c.record_path:
            c.record_path.unlink(missing_ok=True)
            c.record_path = None
        if not expected:
            self.apply_restart_policy(c, code)

    def apply_restart_policy(self, c: Container, code: int) -> None:
        policy = self.restart_policy
        if c.init and c.spec.get("restartPolicy") == "Always":
            policy = "Always"  # a sidecar
        elif c.init:
            if code == 0:
                c.done = True
                return
            if policy == "Never":
                c.done = True
                self.failed = True
                return
            policy = "OnFailure"
        if policy == "Always" or (policy == "OnFailure" and code != 0):
            ran = time.monotonic() - c.started_mono
            c.backoff = 1.0 if ran > 30 or c.backoff == 0 else min(c.backoff * 2, 20.0)
            c.next_start = time.monotonic() + c.backoff
            c.waiting = ("CrashLoopBackOff",
                         f"back-off {c.backoff:.0f}s restarting failed container={c.name}")
            self.event("BackOff", "Back-off restarting failed container", "Warning", c.name)
        else:
            c.done = True

    # ------------------------------------------------------------------ probes

    def run_probe(self, c: Container, probe: ProbeState) -> tuple[bool, str]:
        spec = probe.spec
        timeout = probe.timeout
        try:
            if "tcpSocket" in spec:
                t = spec["tcpSocket"]
                port = self.port(c, t["port"])
                with socket.create_connection((t.get("host") or self.ip, port), timeout=timeout):
                    return True, ""
            if "httpGet" in spec:
                h = spec["httpGet"]
                port = self.port(c, h["port"])
                host = h.get("host") or self.ip
                if (h.get("scheme") or "HTTP").upper() == "HTTPS":
                    ctx = ssl.create_default_context()
                    ctx.check_hostname = False
                    ctx.verify_mode = ssl.CERT_NONE
                    conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
                else:
                    conn = http.client.HTTPConnection(host, port, timeout=timeout)
                try:
                    headers = {x["name"]: x["value"] for x in h.get("httpHeaders") or []}
                    conn.request("GET", h.get("path") or "/", headers=headers)
                    r = conn.getresponse()
                    r.read()
                    return 200 <= r.status < 400, f"HTTP {r.status}"
                finally:
                    conn.close()
            if "exec" in spec:
                _argv, env, cwd = c.argv_env or ([], {}, str(self.root))
                mounts = self.mounts(c)
                # like a kubelet: only env entries with a literal value are expanded here
                # (use `sh -c '... $POD_IP'` for the others)
                static = {e["name"]: expand(e.get("value", ""), {})
                          for e in c.spec.get("env") or [] if "valueFrom" not in e}
                cmd = [self.map_paths(expand(x, static), mounts)
                       for x in spec["exec"]["command"]]
                cmd[0] = self.resolve_command(cmd[0], c.spec.get("image", ""))
                r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True,
                                   timeout=max(timeout, 1), stdin=subprocess.DEVNULL)
                out = (r.stdout + r.stderr).decode(errors="replace").strip()[-300:]
                return r.returncode == 0, out
            if "grpc" in spec:
                port = self.port(c, spec["grpc"]["port"])
                with socket.create_connection((self.ip, port), timeout=timeout):
                    return True, "grpc probe approximated by a TCP connect"
        except (OSError, subprocess.TimeoutExpired, http.client.HTTPException) as e:
            return False, str(e) or type(e).__name__
        except ConfigError as e:
            return False, str(e)
        return False, "unsupported probe"

    @staticmethod
    def port(c: Container, port: Any) -> int:
        if isinstance(port, int) or str(port).isdigit():
            return int(port)
        for p in c.spec.get("ports") or []:
            if p.get("name") == port:
                return int(p["containerPort"])
        raise ConfigError("ProbeError", f"no container port named {port!r}")

    def probe(self, c: Container) -> None:
        if not c.running:
            return
        now = time.monotonic()
        age = now - c.started_mono
        order = [c.startup] if (c.startup and c.startup.result is not True) else [
            c.liveness, c.readiness]
        for p in order:
            if p is None:
                continue
            if age < float(p.spec.get("initialDelaySeconds") or 0) or now < p.next_run:
                continue
            ok, msg = self.run_probe(c, p)
            p.next_run = time.monotonic() + p.period
            before = p.result
            p.record(ok, msg)
            kind = ("startup" if p is c.startup else "liveness" if p is c.liveness
                    else "readiness")
            if before != p.result and p.result is not None:
                self.plog(c.name, f"{kind} probe {'succeeded' if p.result else 'failed'}"
                          f"{': ' + msg if msg and not p.result else ''}")
            if p.result is False and p is not c.readiness:
                self.event("Unhealthy", f"{kind.capitalize()} probe failed: {msg}",
                           "Warning", c.name)
                self.kill(c, self.grace(), f"{kind} probe failed")
                self.apply_restart_policy(c, c.exit_code if c.exit_code is not None else 1)
                return

    # ------------------------------------------------------------------ status

    def grace(self) -> float:
        meta, spec = self.pod["metadata"], self.pod["spec"]
        g = meta.get("deletionGracePeriodSeconds")
        if g is None:
            g = spec.get("terminationGracePeriodSeconds", 30)
        return float(min(max(g, 1), MAX_GRACE))

    def container_status(self, c: Container) -> dict:
        if c.running:
            state = {"running": {"startedAt": c.started_at}, "waiting": None, "terminated": None}
        elif c.terminated and (c.done or not c.waiting[0]):
            state = {"terminated": c.terminated, "waiting": None, "running": None}
        else:
            reason, msg = c.waiting
            w = {"reason": reason or "ContainerCreating"}
            if msg:
                w["message"] = msg
            state = {"waiting": w, "running": None, "terminated": None}
        st = {
            "name": c.name,
            "image": c.spec.get("image", ""),
            "imageID": "",
            "ready": c.ready,
            "started": c.started,
            "restartCount": c.restart_count,
            "state": state,
        }
        if c.running:
            st["containerID"] = f"local://{c.proc.pid}"
        if c.last_terminated and (c.running or not c.done):
            st["lastState"] = {"terminated": c.last_terminated}
        return st

    def condition(self, ctype: str, ok: bool, reason: str = "", message: str = "") -> dict:
        status = "True" if ok else "False"
        prev = self.cond_times.get(ctype)
        if prev is None or prev[0] != status:
            self.cond_times[ctype] = (status, now_iso())
        d = {"type": ctype, "status": status,
             "lastTransitionTime": self.cond_times[ctype][1], "lastProbeTime": None}
        d["reason"] = reason if reason and not ok else None
        d["message"] = message if message and not ok else None
        return d

    def desired_status(self) -> dict:
        main = self.containers
        all_ready = bool(main) and all(c.ready for c in main)
        not_ready = [c.name for c in main if not c.ready]
        if self.failed:
            phase = "Failed"
        elif all(c.done for c in main) and main:
            phase = "Succeeded" if all(c.exit_code == 0 for c in main) else "Failed"
        elif self.init_done and any(c.running or c.restart_count or c.terminated for c in main):
            phase = "Running"
        else:
            phase = "Pending"
        gates_ok = True
        existing = {c["type"]: c for c in self.pod.get("status", {}).get("conditions") or []}
        for g in self.pod["spec"].get("readinessGates") or []:
            if existing.get(g["conditionType"], {}).get("status") != "True":
                gates_ok = False
        msg = f"containers with unready status: [{' '.join(not_ready)}]" if not_ready else ""
        conds = [
            self.condition("Initialized", self.init_done, "ContainersNotInitialized",
                           "containers with incomplete status: "
                           f"[{' '.join(c.name for c in self.init_containers if not c.done)}]"),
            self.condition("ContainersReady", all_ready, "ContainersNotReady", msg),
            self.condition("Ready", all_ready and gates_ok,
                           "ContainersNotReady" if not all_ready else "ReadinessGatesNotReady",
                           msg or "the status of pod readiness gates is not \"True\""),
        ]
        status: dict[str, Any] = {
            "phase": phase,
            "conditions": conds,
            "containerStatuses": [self.container_status(c) for c in main],
        }
        if self.init_containers:
            status["initContainerStatuses"] = [
                self.container_status(c) for c in self.init_containers]
        return status

    def patch_status(self, status: dict, force: bool = False) -> None:
        # compare without timestamps that don't change the meaning
        key = json.dumps(status, sort_keys=True)
        if key == self.last_status and not force:
            return
        try:
            self.kube.patch_status(self.ns, self.pod_name, status)
            self.last_status = key
            self.patch_failing = False
            return
        except KubeError as e:
            if e.status == 404:
                self.last_status = key
                return
            err: Exception = e
        except (OSError, http.client.HTTPException) as e:
            err = e
        # retried next round; warn once per outage, not every round
        if not self.patch_failing:
            log.warning("%s/%s: status patch failed (will retry): %s", self.ns, self.pod_name, err)
        self.patch_failing = True

    # ------------------------------------------------------------------ main loop

    def should_stop(self) -> str:
        pod = self.runner.current(self.uid)
        if pod is None:
            return "pod deleted"
        self.pod = pod
        if pod["metadata"].get("deletionTimestamp"):
            return "pod is being deleted"
        if pod.get("status", {}).get("podIP") != self.ip:
            return f"pod IP changed from {self.ip} to {pod.get('status', {}).get('podIP')}"
        if self.stop_requested.is_set():
            return "pod runner shutting down"
        return ""

    def run(self) -> None:
        try:
            self._run()
        except Exception:  # noqa: BLE001 - a worker must never take the runner down
            log.exception("%s/%s: worker failed", self.ns, self.pod_name)
            for c in self.init_containers + self.containers:
                self.kill(c, 2, "worker failed")
        finally:
            self.runner.release_ip(self.ip, self.uid)
            self.finished = True

    def _run(self) -> None:
        # another pod (e.g. a deleted predecessor) may still hold this IP; host-network
        # pods all share the node IP, so they don't queue for it
        host_network = bool(self.pod["spec"].get("hostNetwork"))
        while not host_network and not self.runner.acquire_ip(self.ip, self.uid):
            reason = self.should_stop()
            if reason:
                self.shutdown(reason)
                return
            time.sleep(TICK)
        self.root.mkdir(parents=True, exist_ok=True)
        while True:
            reason = self.should_stop()
            if reason:
                self.shutdown(reason)
                return
            try:
                self.step()
            except Exception:  # noqa: BLE001 - keep the pod's processes; retry next tick
                log.exception("%s/%s: step failed; retrying", self.ns, self.pod_name)
                self.stop_requested.wait(1)
            if self.failed or (self.containers and all(c.done for c in self.containers)):
                for c in self.init_containers + self.containers:
                    self.kill(c, self.grace(), "pod finished")
                self.patch_status(self.desired_status())
                self.plog(self.containers[0].name if self.containers else "pod",
                          f"pod finished ({self.desired_status()['phase']})")
                return
            self.stop_requested.wait(TICK)

    def step(self) -> None:
        now = time.monotonic()
        if now >= self.next_volume_sync:
            try:
                self.sync_volumes()
                self.volumes_ok = True
                self.volume_error = ""
                self.next_volume_sync = now + 10
            except ConfigError as e:
                if self.volume_error != str(e):
                    self.event("FailedMount", str(e), "Warning")
                    log.info("%s/%s: volumes: %s", self.ns, self.pod_name, e)
                self.volume_error = str(e)
                self.next_volume_sync = now + 2
                if not self.volumes_ok:
                    for c in self.init_containers + self.containers:
                        c.waiting = ("ContainerCreating", str(e))
        if not self.init_done:
            for c in self.init_containers:
                if c.spec.get("restartPolicy") == "Always":  # sidecar: must be started
                    self.reap(c)
                    if not c.running and time.monotonic() >= c.next_start:
                        self.start_container(c)
                    self.probe(c)
                    if not c.started:
                        break
                    continue
                if c.done:
                    continue
                self.reap(c)
                if not c.done and not c.running and time.monotonic() >= c.next_start:
                    self.start_container(c)
                if not c.done:
                    break
            else:
                self.init_done = True
            if not self.init_done:
                self.patch_status(self.desired_status())
                return
        for c in self.containers + [x for x in self.init_containers
                                    if x.spec.get("restartPolicy") == "Always"]:
            if c.done:
                continue
            self.reap(c)
            if c.done:
                continue
            if not c.running and time.monotonic() >= c.next_start:
                self.start_container(c)
            self.probe(c)
            self.reap(c)  # report a process that exited right away in this round already
        self.patch_status(self.desired_status())

    def shutdown(self, reason: str) -> None:
        everything = self.containers + self.init_containers
        had = any(c.proc is not None for c in everything)
        if had:
            self.event("Killing", f"Stopping pod: {reason}")
        # stop all containers in parallel, like a kubelet
        threads = [threading.Thread(target=self.kill, args=(c, self.grace(), reason))
                   for c in everything if c.proc is not None]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for c in everything:
            c.done = True
        if reason == "pod is being deleted":
            st = self.desired_status()
            st["conditions"].append(self.condition(STOPPED_CONDITION, True))
            self.patch_status(st, force=True)
            if self.last_status == json.dumps(st, sort_keys=True):
                self.runner.stop_reported.add(self.uid)
        shutil.rmtree(self.root, ignore_errors=True) if reason == "pod deleted" else None


class Runner:
    def __init__(self, base: Path, bin_dir: Path, node: str):
        self.base = base
        self.bin_dir = bin_dir
        self.node = node
        cfg = json.loads((base / "run" / "cluster.json").read_text())
        self.kube = Kube(cfg["server"], cfg["token"],
                         str(base / "state" / "apiserver" / "apiserver.crt"))
        self.lock = threading.Lock()
        self.pods: dict[str, dict] = {}
        self.workers: dict[str, PodWorker] = {}
        self.finished: dict[str, str] = {}  # uid -> pod IP of workers that are done
        self.stop_reported: set[str] = set()  # deleting pods we reported as stopped
        self.ip_owner: dict[str, str] = {}
        self.stopping = threading.Event()
        self.synced = threading.Event()

    def current(self, uid: str) -> dict | None:
        with self.lock:
            return self.pods.get(uid)

    def acquire_ip(self, ip: str, uid: str) -> bool:
        with self.lock:
            owner = self.ip_owner.get(ip)
            if owner in (None, uid):
                self.ip_owner[ip] = uid
                return True
            return False

    def release_ip(self, ip: str, uid: str) -> None:
        with self.lock:
            if self.ip_owner.get(ip) == uid:
                del self.ip_owner[ip]

    # ------------------------------------------------------------------ watch

    def watch_loop(self) -> None:
        path = "/api/v1/pods"
        selector = {"fieldSelector": f"spec.nodeName={self.node}"}
        while not self.stopping.is_set():
            try:
                lst = self.kube.get(path, query=selector)
                rv = lst["metadata"]["resourceVersion"]
                with self.lock:
                    self.pods = {p["metadata"]["uid"]: p for p in lst.get("items") or []}
                self.synced.set()
                while not self.stopping.is_set():
                    for ev in self.kube.watch(path, dict(selector, resourceVersion=rv)):
                        t, obj = ev["type"], ev["object"]
                        if t == "ERROR":
                            raise KubeError(obj.get("code", 500), obj, "WATCH", path)
                        rv = obj["metadata"]["resourceVersion"]
                        if t == "BOOKMARK":
                            continue
                        uid = obj["metadata"]["uid"]
                        with self.lock:
                            if t == "DELETED":
                                self.pods.pop(uid, None)
                            else:
                                self.pods[uid] = obj
            except Exception as e:  # noqa: BLE001 - relist on any error
                if not self.stopping.is_set():
                    log.info("pod watch: %s; relisting", e)
                    self.stopping.wait(1)

    # ------------------------------------------------------------------ main

    def cleanup_stale(self) -> None:
        d = self.base / "run" / "pods"
        d.mkdir(parents=True, exist_ok=True)
        for p in d.glob("*.json"):
            try:
                rec = json.loads(p.read_text())
                if _record_alive(rec):
                    log.info("killing leftover process %s (%s)", rec["pid"], rec.get("argv0"))
                    terminate_recorded(rec, 5)
            except (OSError, ValueError):
                pass
            p.unlink(missing_ok=True)

    def sync(self) -> None:
        with self.lock:
            pods = dict(self.pods)
        for uid, w in list(self.workers.items()):
            if w.finished:
                del self.workers[uid]
                self.finished[uid] = w.ip
                if uid not in pods:
                    shutil.rmtree(w.root, ignore_errors=True)
        for uid in list(self.finished):
            if uid not in pods:
                del self.finished[uid]
        self.stop_reported &= set(pods)
        for uid, pod in pods.items():
            if uid in self.workers:
                continue
            st = pod.get("status") or {}
            ip = st.get("podIP")
            if not ip:
                continue  # kwok hasn't assigned an IP yet
            deleting = bool(pod["metadata"].get("deletionTimestamp"))
            if deleting:
                if uid in self.stop_reported or any(
                    c["type"] == STOPPED_CONDITION for c in st.get("conditions") or []
                ):
                    continue
            elif self.finished.get(uid) == ip:
                continue  # already handled this pod on this IP
            if not deleting and st.get("phase") in ("Succeeded", "Failed"):
                continue
            # (a deleting pod we never ran still gets a worker: it reports the stop at once)
            w = PodWorker(self, pod)
            self.workers[uid] = w
            w.start()

    def run(self) -> None:
        self.cleanup_stale()
        t = threading.Thread(target=self.watch_loop, name="watch", daemon=True)
        t.start()
        self.synced.wait(60)
        log.info("pod runner watching pods on node %s", self.node)
        while not self.stopping.is_set():
            try:
                self.sync()
            except Exception:  # noqa: BLE001
                log.exception("sync failed")
            self.stopping.wait(TICK)
        log.info("stopping %d pod(s)", len(self.workers))
        for w in self.workers.values():
            w.stop_requested.set()
        deadline = time.monotonic() + MAX_GRACE + 5
        for w in self.workers.values():
            w.join(max(0.1, deadline - time.monotonic()))
        log.info("pod runner stopped")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="pod-runner")
    ap.add_argument("--base", required=True, help="the .local-cluster directory")
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("-v", "--verbose", action="store_true")
    a = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if a.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(threadName)s: %(message)s",
        stream=sys.stdout,
    )
    runner = Runner(Path(a.base), Path(a.bin_dir), a.node)

    def on_signal(signum: int, _frame: Any) -> None:
        log.info("signal %d received", signum)
        runner.stopping.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    runner.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
