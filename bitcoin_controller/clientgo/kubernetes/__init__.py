"""The typed clientset, mirroring ``k8s.io/client-go/kubernetes``."""

from .clientset import (
    APPLY_PATCH,
    JSON_PATCH,
    MERGE_PATCH,
    NAMESPACE_ALL,
    STRATEGIC_MERGE_PATCH,
    Interface,
    ResourceClient,
)

__all__ = [
    "APPLY_PATCH",
    "JSON_PATCH",
    "MERGE_PATCH",
    "NAMESPACE_ALL",
    "STRATEGIC_MERGE_PATCH",
    "Interface",
    "ResourceClient",
]
