"""The lock a leader election writes to (client-go ``resourcelock/interface.go``).

Leader election needs one object in the API server that all candidates
read and write with optimistic concurrency: whoever writes it successfully
with its own name as holder is the leader until the record goes stale.  The
record's content is the :class:`LeaderElectionRecord`; the object holding
it is a ``coordination.k8s.io/v1`` Lease (:class:`~.leaselock.LeaseLock`).
"""

from __future__ import annotations

import datetime
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .....apimachinery import metav1

if TYPE_CHECKING:
    from ...record import EventRecorder

__all__ = [
    "LEADER_ELECTION_RECORD_ANNOTATION_KEY",
    "LEASES_RESOURCE_LOCK",
    "LeaderElectionRecord",
    "ResourceLockConfig",
    "Interface",
]

#: The annotation the removed Endpoints/ConfigMap locks stored the record in.
LEADER_ELECTION_RECORD_ANNOTATION_KEY = "control-plane.alpha.kubernetes.io/leader"
#: ``LeasesResourceLock``: the only lock type left in client-go.
LEASES_RESOURCE_LOCK = "leases"


@dataclass
class LeaderElectionRecord:
    """``LeaderElectionRecord``: who holds the lock, since when, and for how long.

    ``holder_identity`` empty means released.  ``lease_duration_seconds`` is
    the holder's promise: if the record stays unchanged that long, others
    may take over.  ``acquire_time`` is kept across renewals by the same
    holder; ``renew_time`` moves at every write; ``leader_transitions``
    counts changes of holder.
    """

    holder_identity: str = ""
    lease_duration_seconds: int = 0
    acquire_time: datetime.datetime | None = None
    renew_time: datetime.datetime | None = None
    leader_transitions: int = 0
    strategy: str = ""
    preferred_holder: str = ""

    def to_json(self) -> bytes:
        """The record's JSON as client-go marshals it: same names and order, times in seconds.

        Electors compare these bytes to notice that the record changed, so
        the encoding must be stable: same record, same bytes.
        """
        doc: dict[str, Any] = {
            "holderIdentity": self.holder_identity,
            "leaseDurationSeconds": self.lease_duration_seconds,
            "acquireTime": _time_or_none(self.acquire_time),
            "renewTime": _time_or_none(self.renew_time),
            "leaderTransitions": self.leader_transitions,
            "strategy": self.strategy,
            "preferredHolder": self.preferred_holder,
        }
        return json.dumps(doc, separators=(",", ":")).encode()


def _time_or_none(when: datetime.datetime | None) -> str | None:
    return None if when is None else metav1.format_time(when)


@dataclass
class ResourceLockConfig:
    """``ResourceLockConfig``: the candidate's identity and an optional event recorder."""

    identity: str
    event_recorder: EventRecorder | None = None


class Interface(ABC):
    """``resourcelock.Interface``: what a leader elector needs from a lock.

    ``get`` must remember the object it read so that ``update`` writes with
    its resourceVersion: a concurrent writer then makes ``update`` fail with
    a 409 Conflict instead of being silently overwritten.
    """

    @abstractmethod
    def get(self) -> tuple[LeaderElectionRecord, bytes]:
        """Read the record and its JSON bytes; ``NotFoundError`` if the lock does not exist."""

    @abstractmethod
    def create(self, record: LeaderElectionRecord) -> None:
        """Create the lock object holding ``record``."""

    @abstractmethod
    def update(self, record: LeaderElectionRecord) -> None:
        """Write ``record`` over the version last read or written (409 Conflict if it changed)."""

    @abstractmethod
    def record_event(self, message: str) -> None:
        """Record a ``LeaderElection`` event about the lock, e.g. ``"became leader"``."""

    @abstractmethod
    def identity(self) -> str:
        """This candidate's identity."""

    @abstractmethod
    def describe(self) -> str:
        """The lock for log lines: ``namespace/name``."""
