"""Small utilities mirroring ``k8s.io/utils`` (clock)."""
