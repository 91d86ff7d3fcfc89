"""The kwok backend: kwok's pod stages, its fake node object, the kwok and pod-runner argv."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from .common import NODE_IP, NODE_NAME
from .kube import Kube, KubeError

# kwok pod stages. The default "fast" stages mark a pod Running and Ready as soon as it
# is bound. Ours only allocate the pod IP and leave the pod Pending / not ready; the pod
# runner then reports what really happens (process started, readiness probe result).
# Deletion waits for the pod runner to stop the pod's processes (it sets the
# LocalRunnerStopped condition), or, if no runner acts, for the grace period to expire,
# like a kubelet would.
KWOK_STAGES = r"""
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-assign-ip
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'DoesNotExist'
    - key: '.status.podIP'
      operator: 'DoesNotExist'
  next:
    statusTemplate: |
      {{ $now := Now }}
      conditions:
      - lastTransitionTime: {{ $now | Quote }}
        status: {{ if .spec.initContainers }}"False"{{ else }}"True"{{ end }}
        type: Initialized
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: Ready
      - lastTransitionTime: {{ $now | Quote }}
        status: "False"
        reason: ContainersNotReady
        type: ContainersReady
      containerStatuses:
      {{ range .spec.containers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        started: false
        restartCount: 0
        state:
          waiting:
            reason: ContainerCreating
      {{ end }}
      initContainerStatuses:
      {{ range .spec.initContainers }}
      - image: {{ .image | Quote }}
        name: {{ .name | Quote }}
        ready: false
        restartCount: 0
        state:
          waiting:
            reason: PodInitializing
      {{ end }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: __POD_IP_TEMPLATE__
      phase: Pending
      startTime: {{ $now | Quote }}
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete-stopped
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.status.conditions.[].type'
      operator: 'In'
      values:
      - 'LocalRunnerStopped'
  next:
    finalizers:
      empty: true
    delete: true
---
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: pod-delete-grace-expired
spec:
  resourceRef:
    apiGroup: v1
    kind: Pod
  selector:
    matchExpressions:
    - key: '.metadata.deletionTimestamp'
      operator: 'Exists'
    - key: '.status.conditions.[].type'
      operator: 'NotIn'
      values:
      - 'LocalRunnerStopped'
  delay:
    durationMilliseconds: 0
    durationFrom:
      expressionFrom: '.metadata.deletionTimestamp'
  next:
    finalizers:
      empty: true
    delete: true
""".replace(
    "__POD_IP_TEMPLATE__",
    "{{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid \"\" ) "
    "( or .metadata.name \"\" ) ( or .metadata.namespace \"\" ) | Quote }}",
)


class KwokBackendMixin:
    """Starts the kwok backend's pieces (kwok, the pod runner, the fake Node).

    Mixed into :class:`~.cluster.LocalCluster`, whose paths (``base``, ``state_dir``,
    ``run_dir``, ...) and ``config`` it uses.
    """

    def _kwok_argv(self, cfg: dict) -> list[str]:
        return [
            self._bin("kwok"),
            f"--kubeconfig={self.state_dir / 'components.kubeconfig'}",
            f"--config={self.state_dir / 'kwok.yaml'}",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake",
            f"--cidr={cfg['pod_cidr']}",
            f"--node-ip={NODE_IP}",
            "--node-lease-duration-seconds=40",
            "--node-port=0",
        ]

    def _runner_argv(self, cfg: dict) -> tuple[list[str], dict]:
        env = dict(os.environ)
        scripts_dir = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = scripts_dir + (
            os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""
        )
        env["PYTHONUNBUFFERED"] = "1"
        argv = [
            sys.executable,
            "-m",
            "localcluster.podrunner",
            f"--base={self.base}",
            f"--bin-dir={self.bin_dir}",
            f"--node={NODE_NAME}",
        ]
        return argv, env

    def _create_node(self, kube: Kube) -> None:
        node = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {
                "name": NODE_NAME,
                "annotations": {
                    "kwok.x-k8s.io/node": "fake",
                    "node.alpha.kubernetes.io/ttl": "0",
                },
                "labels": {
                    "kubernetes.io/hostname": NODE_NAME,
                    "kubernetes.io/os": "linux",
                    "kubernetes.io/arch": "amd64",
                    "type": "kwok",
                },
            },
            "spec": {},
        }
        try:
            kube.post("/api/v1/nodes", node)
        except KubeError as e:
            if e.status != 409:
                raise
