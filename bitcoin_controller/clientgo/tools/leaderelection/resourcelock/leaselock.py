"""A leader election lock on a Lease (client-go ``resourcelock/leaselock.go``).

``coordination.k8s.io/v1`` Leases exist for this: a small object whose
spec is exactly a leader election record, cheap to write every few seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .....apimachinery import metav1
from ....kubernetes.clientset import Interface as ClientsetInterface
from ....kubernetes.clientset import ResourceClient
from ....kubernetes.scheme import LEASES
from .interface import LEASES_RESOURCE_LOCK, Interface, LeaderElectionRecord, ResourceLockConfig

if TYPE_CHECKING:
    from ...record import EventRecorder

__all__ = [
    "LeaseLock",
    "lease_spec_to_leader_election_record",
    "leader_election_record_to_lease_spec",
    "new",
]


class LeaseLock(Interface):
    """``resourcelock.LeaseLock``: the record lives in the spec of the Lease ``namespace/name``.

    The Lease last read or written is cached; :meth:`update` sends it back
    with the new spec, and its ``metadata.resourceVersion`` makes the API
    server refuse the write (409 Conflict) if anyone else wrote in between.
    That refusal is what keeps two candidates from both believing they won.
    Not safe for concurrent use: one elector drives one lock.
    """

    def __init__(
        self,
        lease_namespace: str,
        lease_name: str,
        client: ClientsetInterface,
        identity: str,
        event_recorder: EventRecorder | None = None,
        labels: dict[str, str] | None = None,
    ) -> None:
        self.lease_namespace = lease_namespace
        self.lease_name = lease_name
        self.client = client
        self.lock_config = ResourceLockConfig(identity=identity, event_recorder=event_recorder)
        self.labels = dict(labels) if labels else None
        self._lease: dict[str, Any] | None = None

    def _leases(self) -> ResourceClient:
        return self.client.coordination_v1().leases(self.lease_namespace)

    def get(self) -> tuple[LeaderElectionRecord, bytes]:
        lease = self._leases().get(self.lease_name)
        self._lease = lease
        record = lease_spec_to_leader_election_record(lease.get("spec") or {})
        return record, record.to_json()

    def create(self, record: LeaderElectionRecord) -> None:
        metadata: dict[str, Any] = {"name": self.lease_name, "namespace": self.lease_namespace}
        if self.labels:
            metadata["labels"] = dict(self.labels)
        self._lease = self._leases().create(
            {
                "apiVersion": LEASES.api_version,
                "kind": LEASES.kind,
                "metadata": metadata,
                "spec": leader_election_record_to_lease_spec(record),
            }
        )

    def update(self, record: LeaderElectionRecord) -> None:
        if self._lease is None:
            raise RuntimeError("lease not initialized, call get or create first")
        lease = metav1.deep_copy(self._lease)
        lease["spec"] = leader_election_record_to_lease_spec(record)
        if self.labels:
            metadata = lease.setdefault("metadata", {})
            metadata["labels"] = {**(metadata.get("labels") or {}), **self.labels}
        # The cached resourceVersion travels with the write: optimistic concurrency.
        self._lease = self._leases().update(lease)

    def record_event(self, message: str) -> None:
        recorder = self.lock_config.event_recorder
        if recorder is None:
            return
        metadata = (self._lease or {}).get("metadata") or {
            "name": self.lease_name,
            "namespace": self.lease_namespace,
        }
        subject = {
            "apiVersion": LEASES.api_version,
            "kind": LEASES.kind,
            "metadata": metav1.deep_copy(metadata),
        }
        recorder.event(subject, "Normal", "LeaderElection", f"{self.identity()} {message}")

    def identity(self) -> str:
        return self.lock_config.identity

    def describe(self) -> str:
        return f"{self.lease_namespace}/{self.lease_name}"


def lease_spec_to_leader_election_record(spec: dict[str, Any]) -> LeaderElectionRecord:
    """``LeaseSpecToLeaderElectionRecord``: read a Lease spec; missing fields are zero."""
    return LeaderElectionRecord(
        holder_identity=str(spec.get("holderIdentity") or ""),
        lease_duration_seconds=int(spec.get("leaseDurationSeconds") or 0),
        acquire_time=_parse(spec.get("acquireTime")),
        renew_time=_parse(spec.get("renewTime")),
        leader_transitions=int(spec.get("leaseTransitions") or 0),
        strategy=str(spec.get("strategy") or ""),
        preferred_holder=str(spec.get("preferredHolder") or ""),
    )


def leader_election_record_to_lease_spec(record: LeaderElectionRecord) -> dict[str, Any]:
    """``LeaderElectionRecordToLeaseSpec``: times become MicroTime strings."""
    spec: dict[str, Any] = {
        "holderIdentity": record.holder_identity,
        "leaseDurationSeconds": record.lease_duration_seconds,
        "leaseTransitions": record.leader_transitions,
    }
    if record.acquire_time is not None:
        spec["acquireTime"] = metav1.format_micro_time(record.acquire_time)
    if record.renew_time is not None:
        spec["renewTime"] = metav1.format_micro_time(record.renew_time)
    if record.strategy:
        spec["strategy"] = record.strategy
    if record.preferred_holder:
        spec["preferredHolder"] = record.preferred_holder
    return spec


def _parse(value: Any) -> Any:
    return metav1.parse_time(value) if value else None


_REMOVED_LOCK_TYPES = ("endpoints", "configmaps", "endpointsleases", "configmapsleases")


def new(
    lock_type: str,
    namespace: str,
    name: str,
    client: ClientsetInterface,
    config: ResourceLockConfig,
) -> Interface:
    """``resourcelock.New``: only ``"leases"`` is supported, as in current client-go."""
    if lock_type == LEASES_RESOURCE_LOCK:
        return LeaseLock(namespace, name, client, config.identity, config.event_recorder)
    if lock_type in _REMOVED_LOCK_TYPES:
        raise ValueError(f"{lock_type} lock is removed, migrate to {LEASES_RESOURCE_LOCK}")
    raise ValueError(f"Invalid lock-type {lock_type}")
