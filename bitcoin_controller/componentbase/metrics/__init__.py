"""Mirrors ``k8s.io/component-base/metrics`` (only the legacy registry)."""
