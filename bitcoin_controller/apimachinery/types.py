"""Patch types, mirroring ``k8s.io/apimachinery/pkg/types`` (``patch.go``).

A patch's type is the ``Content-Type`` its request carries.  They live here,
below client-go, because both the clientsets (which send patches) and
``client-go/testing`` (which applies them in the object tracker) need them,
and neither may import the other.
"""

from __future__ import annotations

__all__ = ["JSON_PATCH", "MERGE_PATCH", "STRATEGIC_MERGE_PATCH", "APPLY_PATCH"]

#: ``types.JSONPatchType``
JSON_PATCH = "application/json-patch+json"
#: ``types.MergePatchType``
MERGE_PATCH = "application/merge-patch+json"
#: ``types.StrategicMergePatchType``
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
#: ``types.ApplyPatchType`` (``ApplyYAMLPatchType``)
APPLY_PATCH = "application/apply-patch+yaml"
