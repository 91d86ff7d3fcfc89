"""Utilities of client-go, mirroring ``k8s.io/client-go/util``.

:mod:`.workqueue` (``util/workqueue``) is the rate-limited work queue that
sits between an informer's event handlers and a controller's workers;
:mod:`.flowcontrol` (``util/flowcontrol``) the token bucket that the REST
client, the event spam filter and the queue's bucket limiter share.
"""
