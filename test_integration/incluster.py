"""The controller as its users run it: a Deployment installed by the Helm chart.

On the real-node backend of the local cluster the end-to-end tests drive the
controller through :class:`ControllerPod`, which offers what
:class:`controller_harness.ControllerProcess` offers (``start``, ``stop``,
``kill``, ``restart``, ``running``, ``readyz``/``healthz``/``metrics``,
``logs``) but acts on Pods:

* ``start`` installs (or scales up) the chart's release with the images built
  and imported by ``scripts/build-images`` (``imagePullPolicy: Never``), into a
  namespace that enforces the ``restricted`` Pod Security Standard;
* ``stop`` scales the Deployment to zero (the kubelet sends SIGTERM and the
  controller drains, as on any cluster); ``kill`` deletes the leader's Pod with
  no grace period;
* ``metrics``/``readyz``/``healthz`` go through the API server's proxy to the
  Pod's ports, i.e. to the process the kubelet started;
* ``logs`` is what ``kubectl logs`` returns, for every Pod seen so far.

The controller then authenticates with its projected ServiceAccount token and
reaches the API server through the ``kubernetes`` Service (kube-proxy's rules),
with no impersonation anywhere.
"""

from __future__ import annotations

import subprocess
import urllib.parse
from pathlib import Path
from typing import Any

from polling import wait_for

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.clientgo.rest import RESTClient
from bitcoin_controller.clientgo.tools.clientcmd import build_config_from_kubeconfig

ROOT = Path(__file__).resolve().parent.parent

CHART = ROOT / "manifests" / "helm" / "bitcoin-controller"
HELM = ROOT / ".local-cluster" / "bin" / "helm"
# Not the names manifests/ uses (the session also applies manifests/rbac.yaml for the
# controller processes of other tests, and Helm will not adopt objects it did not create).
NAMESPACE = "bitcoin-controller-it"
RELEASE = "it"
DEPLOYMENT = f"{RELEASE}-bitcoin-controller"
LEASE = "bitcoin-controller"  # the chart's leaderElection.id
SELECTOR = f"app.kubernetes.io/instance={RELEASE},app.kubernetes.io/component=controller"


def credential_secret_names() -> list[str]:
    """The Secret names manifests/rbac.yaml lets the controller read (the chart gets the same)."""
    import yaml

    for doc in yaml.safe_load_all((ROOT / "manifests" / "rbac.yaml").read_text()):
        for rule in (doc or {}).get("rules", []):
            if "secrets" in rule.get("resources", []) and rule.get("resourceNames"):
                return list(rule["resourceNames"])
    return ["bitcoin-default-secret"]


def helm_values(images: dict[str, str], replicas: int, resync_period: str) -> list[str]:
    repo, _, tag = images["controller"].rpartition(":")
    values = {
        "image.registry": "",
        "image.repository": repo,
        "image.tag": tag,
        "image.pullPolicy": "Never",
        "replicaCount": str(replicas),
        "resyncPeriod": resync_period,
        "logFormat": "json",
        "defaultImages.btcd": images["btcd"],
        "terminationGracePeriodSeconds": "30",
    }
    args: list[str] = []
    for k, v in values.items():
        args += ["--set-string" if k in ("image.tag", "resyncPeriod", "image.registry") else "--set", f"{k}={v}"]
    for i, name in enumerate(credential_secret_names()):
        args += ["--set", f"rbac.credentialSecretNames[{i}]={name}"]
    return args


def ensure_namespace(client: Clientset) -> None:
    """The release namespace, enforcing the restricted Pod Security Standard (Helm's
    --create-namespace cannot label it)."""
    labels = {f"pod-security.kubernetes.io/{m}": "restricted" for m in ("enforce", "audit", "warn")}
    try:
        client.core_v1().namespaces().create(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE, "labels": labels}}
        )
    except errors.StatusError as e:
        if not errors.is_already_exists(e):
            raise


def helm(kubeconfig: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    result = subprocess.run([str(HELM), "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                            timeout=timeout)
    if result.returncode:
        raise AssertionError(f"helm {' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}")
    return result


class ControllerPod:
    """The controller Deployment of the chart's release; see the module docstring."""

    def __init__(self, kubeconfig: str, log_path: Path, images: dict[str, str], *, replicas: int = 1,
                 resync_period: str = "5s") -> None:
        self.kubeconfig = kubeconfig
        self.images = images
        self.log_path = Path(log_path)
        self.replicas = replicas
        self.resync_period = resync_period
        config = build_config_from_kubeconfig(kubeconfig).copy(timeout=30.0, connect_timeout=5.0)
        self.client = Clientset(config)
        self.rest = RESTClient(config)
        self.installed = False
        self._restarts_at_start = 0
        self._seen_logs: dict[str, str] = {}  # pod name -> last logs read (kept after the pod goes)
        self.starts = 0

    # ------------------------------------------------------------------ pods

    def all_pods(self) -> list[dict[str, Any]]:
        """The release's controller Pods, terminating ones included."""
        from bitcoin_controller.apimachinery.metav1 import ListOptions

        return self.client.core_v1().pods(NAMESPACE).list(ListOptions(label_selector=SELECTOR))["items"]

    def pods(self) -> list[dict[str, Any]]:
        """The release's controller Pods that are not being deleted."""
        return [p for p in self.all_pods() if not p["metadata"].get("deletionTimestamp")]

    @staticmethod
    def _restarts(pod: dict[str, Any]) -> int:
        return sum(cs.get("restartCount", 0) for cs in pod.get("status", {}).get("containerStatuses") or [])

    @staticmethod
    def _ready(pod: dict[str, Any]) -> bool:
        return any(c["type"] == "Ready" and c["status"] == "True"
                   for c in pod.get("status", {}).get("conditions") or [])

    def leader(self) -> str:
        """The Pod holding the Lease (the only one that reconciles)."""
        lease = self.client.coordination_v1().leases(NAMESPACE).get(LEASE)
        holder = lease["spec"].get("holderIdentity") or ""
        for pod in self.pods():
            if holder.startswith(pod["metadata"]["name"]):
                return pod["metadata"]["name"]
        raise AssertionError(f"no running controller Pod holds the Lease (holder {holder!r})")

    # ------------------------------------------------------------------ lifecycle

    def start(self, wait_ready: bool = True, timeout: float = 120) -> ControllerPod:
        ensure_namespace(self.client)
        self.starts += 1
        if self.installed:
            self._scale(self.replicas)
        else:
            helm(self.kubeconfig, "upgrade", "--install", RELEASE, str(CHART), "-n", NAMESPACE,
                 *helm_values(self.images, self.replicas, self.resync_period))
            self.installed = True
        if wait_ready:
            self.wait_ready(timeout)
        return self

    def _scale(self, replicas: int) -> None:
        self.rest.patch("application/merge-patch+json").abs_path(
            f"/apis/apps/v1/namespaces/{NAMESPACE}/deployments/{DEPLOYMENT}/scale"
        ).body({"spec": {"replicas": replicas}}).do()

    def wait_ready(self, timeout: float = 120) -> None:
        def ready() -> bool:
            pods = self.pods()
            return len(pods) == self.replicas and all(self._ready(p) for p in pods)

        try:
            wait_for(ready, timeout, "the controller Pods to be Ready", 0.5)
            # A Lease left by an earlier release (its Pods could not release it once Helm
            # had removed their Role) expires first; until then nobody reconciles.
            wait_for(self.leader, timeout, "a controller Pod to hold the Lease", 0.5)
        except AssertionError as err:
            raise AssertionError(f"{err}\n--- controller log tail:\n{self.tail()}") from None
        self._restarts_at_start = sum(self._restarts(p) for p in self.pods())

    @property
    def running(self) -> bool:
        pods = self.pods()
        return bool(pods) and all(
            p.get("status", {}).get("phase") == "Running" for p in pods
        ) and sum(self._restarts(p) for p in pods) == self._restarts_at_start

    @property
    def returncode(self) -> int | None:
        """The exit code of the last container that terminated, if any did."""
        for pod in self.pods():
            for cs in pod.get("status", {}).get("containerStatuses") or []:
                term = (cs.get("lastState") or {}).get("terminated")
                if term:
                    return term.get("exitCode")
        return None

    def stop(self, timeout: float = 60) -> int | None:
        """Scale to zero: each Pod gets SIGTERM and its grace period, like a rollout."""
        if not self.installed:
            return None
        self.logs()
        self._scale(0)
        wait_for(lambda: not self.all_pods(), timeout, "the controller Pods to go", 0.5)
        return 0

    def kill(self) -> int | None:
        """Delete the leader's Pod with no grace period (the kubelet SIGKILLs it); returns
        -9 like a process killed by SIGKILL. Its ReplicaSet starts a replacement."""
        name = self.leader() if self.replicas > 1 else self.pods()[0]["metadata"]["name"]
        self.logs()
        self.rest.delete().abs_path(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}").body(
            {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0}
        ).do()
        return -9

    def restart(self, wait_ready: bool = True, timeout: float = 120) -> ControllerPod:
        self.stop()
        return self.start(wait_ready=wait_ready, timeout=timeout)

    def uninstall(self) -> None:
        if self.installed:
            self.logs()
            subprocess.run([str(HELM), "--kubeconfig", self.kubeconfig, "uninstall", RELEASE, "-n", NAMESPACE,
                            "--wait", "--timeout", "60s"], capture_output=True, text=True, timeout=120)
            self.installed = False

    # ------------------------------------------------------------------ observing

    def proxy(self, port: int, path: str, pod: str | None = None) -> tuple[int, str]:
        name = pod or (self.leader() if self.replicas > 1 else self.pods()[0]["metadata"]["name"])
        url = f"/api/v1/namespaces/{NAMESPACE}/pods/{urllib.parse.quote(name)}:{port}/proxy{path}"
        try:
            return 200, self.rest.get().abs_path(url).do_raw().decode()
        except errors.StatusError as e:
            return e.status.get("code", 500), str(e)

    def readyz(self) -> tuple[int, str]:
        return self.proxy(8081, "/readyz")

    def healthz(self) -> tuple[int, str]:
        return self.proxy(8081, "/healthz")

    def metrics(self) -> str:
        return self.proxy(8080, "/metrics")[1]

    def logs(self) -> str:
        """``kubectl logs`` of every controller Pod seen so far (previous containers too)."""
        for pod in self.pods():
            name = pod["metadata"]["name"]
            text = ""
            if self._restarts(pod):
                text += self._pod_log(name, previous=True)
            text += self._pod_log(name)
            if text:
                self._seen_logs[name] = text
        out = "".join(f"--- pod {name}\n{text}" for name, text in self._seen_logs.items())
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.write_text(out)
        return out

    def _pod_log(self, name: str, previous: bool = False) -> str:
        path = f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/log" + ("?previous=true" if previous else "")
        try:
            return self.rest.get().abs_path(path).do_raw().decode(errors="replace")
        except errors.StatusError:
            return ""

    def log_records(self) -> list[dict[str, Any]]:
        from controller_harness import json_log_records

        return json_log_records(self.logs())

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.logs().splitlines()[-lines:])
        except Exception as e:  # noqa: BLE001 - a diagnostic must not hide the real failure
            return f"(no logs: {e})"

    def __enter__(self) -> ControllerPod:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
