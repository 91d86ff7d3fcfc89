"""Utilities of client-go, mirroring ``k8s.io/client-go/util``.

Only :mod:`.workqueue` (``util/workqueue``) is mirrored: the rate-limited
work queue that sits between an informer's event handlers and a
controller's workers.
"""
