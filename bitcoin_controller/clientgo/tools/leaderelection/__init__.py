"""Leader election, mirroring ``k8s.io/client-go/tools/leaderelection``.

Typical use in a controller's main::

    lock = resourcelock.LeaseLock("kube-system", "bitcoin-controller", clientset,
                                  identity=pod_name, event_recorder=recorder)
    config = LeaderElectionConfig(
        lock,
        callbacks=LeaderCallbacks(on_started_leading=run_controllers,
                                  on_stopped_leading=exit_process),
        release_on_cancel=True,
        name="bitcoin-controller",
    )
    run_or_die(config, stop_event)

``run_controllers(stop_event)`` must return (or at least stop acting)
once ``stop_event`` is set: that is when this replica stops being leader.
"""

from . import resourcelock
from .healthzadaptor import HealthzAdaptor, new_leader_healthz_adaptor
from .leaderelection import (
    JITTER_FACTOR,
    LeaderCallbacks,
    LeaderElectionConfig,
    LeaderElector,
    LeaderWorkError,
    LeaseNotRenewedError,
    new_leader_elector,
    run_or_die,
)
from .resourcelock import LeaderElectionRecord, LeaseLock

__all__ = [
    "JITTER_FACTOR",
    "HealthzAdaptor",
    "LeaderCallbacks",
    "LeaderElectionConfig",
    "LeaderElectionRecord",
    "LeaderElector",
    "LeaseLock",
    "LeaderWorkError",
    "LeaseNotRenewedError",
    "new_leader_elector",
    "new_leader_healthz_adaptor",
    "resourcelock",
    "run_or_die",
]
