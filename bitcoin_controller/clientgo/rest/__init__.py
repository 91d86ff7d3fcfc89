"""Talking to the API server over HTTP, mirroring ``k8s.io/client-go/rest``.

* :class:`Config` (``rest.Config``) -- server, credentials, trust, limits;
  :func:`in_cluster_config` (``rest.InClusterConfig``) builds one inside a pod.
* :class:`RESTClient` / :class:`Request` (``rest.RESTClient``,
  ``rest.Request``) -- send a request, get decoded JSON or a typed error.
* :class:`StreamWatcher` -- a watch response as a ``watch.Interface``.
* :mod:`.transport` -- the process-wide connection pools and rotating tokens.

The typed clientset (:class:`bitcoin_controller.clientgo.kubernetes.Clientset`)
is built on this package; use it directly only for requests the clientset
does not offer.
"""

from .body import RequestConstructionError, delete_options, encode_json
from .client import (
    DEFAULT_WATCH_TIMEOUT,
    Request,
    RequestCanceledError,
    RESTClient,
    cancel_on,
    error_from_response,
    random_watch_timeout,
)
from .config import (
    SERVICE_ACCOUNT_CA_FILE,
    SERVICE_ACCOUNT_DIR,
    SERVICE_ACCOUNT_TOKEN_FILE,
    Config,
    NotInClusterError,
    anonymous_client_config,
    copy_config,
    default_user_agent,
    in_cluster_config,
)
from .transport import CachedFileTokenSource, TransportError, pool_manager_for
from .watch import StreamWatcher

__all__ = [
    "Config",
    "NotInClusterError",
    "in_cluster_config",
    "copy_config",
    "anonymous_client_config",
    "default_user_agent",
    "SERVICE_ACCOUNT_DIR",
    "SERVICE_ACCOUNT_TOKEN_FILE",
    "SERVICE_ACCOUNT_CA_FILE",
    "RESTClient",
    "Request",
    "RequestCanceledError",
    "cancel_on",
    "error_from_response",
    "random_watch_timeout",
    "DEFAULT_WATCH_TIMEOUT",
    "StreamWatcher",
    "TransportError",
    "CachedFileTokenSource",
    "pool_manager_for",
    "encode_json",
    "RequestConstructionError",
    "delete_options",
]
