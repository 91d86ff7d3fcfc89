"""A small mirror of ``k8s.io/component-base``: what Kubernetes components
share beyond client-go.  Only ``metrics/legacyregistry`` is needed here."""
