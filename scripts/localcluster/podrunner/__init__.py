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

Modules, one per job: ``env``, ``volumes``, ``commands``, ``lifecycle``, ``probes``,
``status`` (mixins of ``worker.PodWorker``), ``containers``, ``runner`` (Runner, main).
"""


from .commands import HOST_COMMANDS, IMAGES, LOCAL_BINARIES, image_entrypoint, image_repository_name
from .common import MAX_GRACE, STOPPED_CONDITION, TICK, ConfigError, now_iso
from .containers import Container
from .env import expand, field_ref
from .probes import ProbeState
from .runner import Runner, main
from .worker import PodWorker

__all__ = [
    "HOST_COMMANDS", "IMAGES", "LOCAL_BINARIES", "MAX_GRACE", "STOPPED_CONDITION", "TICK",
    "ConfigError", "Container", "PodWorker", "ProbeState", "Runner", "expand", "field_ref",
    "image_entrypoint", "image_repository_name", "main", "now_iso",
]
