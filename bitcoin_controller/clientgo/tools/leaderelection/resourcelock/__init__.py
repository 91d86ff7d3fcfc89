"""Leader election locks, mirroring ``k8s.io/client-go/tools/leaderelection/resourcelock``."""

from .interface import (
    LEADER_ELECTION_RECORD_ANNOTATION_KEY,
    LEASES_RESOURCE_LOCK,
    Interface,
    LeaderElectionRecord,
    ResourceLockConfig,
)
from .leaselock import (
    LeaseLock,
    leader_election_record_to_lease_spec,
    lease_spec_to_leader_election_record,
    new,
)

__all__ = [
    "LEADER_ELECTION_RECORD_ANNOTATION_KEY",
    "LEASES_RESOURCE_LOCK",
    "Interface",
    "LeaderElectionRecord",
    "LeaseLock",
    "ResourceLockConfig",
    "leader_election_record_to_lease_spec",
    "lease_spec_to_leader_election_record",
    "new",
]
