"""A health check that fails when the leader is stuck (client-go ``healthzadaptor.go``).

A leader that has not renewed its lease for much longer than the lease
lasts should already have stopped leading; if it has not (a deadlock, a
hung thread), the only safe fix is to restart the process.  Wire
:meth:`HealthzAdaptor.check` into the liveness probe.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .leaderelection import LeaderElector

__all__ = ["HealthzAdaptor", "new_leader_healthz_adaptor"]


class HealthzAdaptor:
    """``HealthzAdaptor``: a liveness check bound to a :class:`LeaderElector` once it exists.

    Passed as ``LeaderElectionConfig.watch_dog``; :func:`run_or_die` hands
    it the elector.  Until then, and while not leading, the check passes.
    """

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._elector: LeaderElector | None = None
        self._lock = threading.Lock()

    def name(self) -> str:
        """The check's name on the health endpoint."""
        return "leaderElection"

    def set_leader_election(self, elector: LeaderElector) -> None:
        """Bind the elector to check."""
        with self._lock:
            self._elector = elector

    def check(self) -> None:
        """Raise if this process leads but has not renewed for lease duration + ``timeout``."""
        with self._lock:
            elector = self._elector
        if elector is not None:
            elector.check(self._timeout)


def new_leader_healthz_adaptor(timeout: float) -> HealthzAdaptor:
    """``NewLeaderHealthzAdaptor``: ``timeout`` is the tolerated time past lease expiry."""
    return HealthzAdaptor(timeout)
