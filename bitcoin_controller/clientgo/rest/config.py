"""How to reach and authenticate to an API server, mirroring client-go's ``rest.Config``.

A :class:`Config` is plain data: where the API server is, which credentials
to present, which certificate authority to trust, who to impersonate and how
patient to be.  :class:`~.client.RESTClient` turns it into requests.

Two ways to get one, as in Go:

* :func:`in_cluster_config` -- inside a pod, from the service account files
  the kubelet mounts and the ``KUBERNETES_SERVICE_*`` environment
  (``rest.InClusterConfig``);
* :mod:`bitcoin_controller.clientgo.tools.clientcmd` -- from a kubeconfig file
  (``clientcmd.BuildConfigFromFlags``).

Credentials never appear in ``repr()``: like ``rest.Config.String()`` in Go,
the token and the private key are redacted, so logging a config is safe.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ... import __version__

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
]

#: Where the kubelet mounts a pod's service account credentials.
SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"
SERVICE_ACCOUNT_TOKEN_FILE = f"{SERVICE_ACCOUNT_DIR}/token"
SERVICE_ACCOUNT_CA_FILE = f"{SERVICE_ACCOUNT_DIR}/ca.crt"

_REDACTED = "--- REDACTED ---"
_SECRET_FIELDS = frozenset({"bearer_token", "key_data", "token_provider"})


def default_user_agent() -> str:
    """``rest.DefaultKubernetesUserAgent``'s counterpart: program/version (language)."""
    return f"bitcoin-controller/{__version__} (python)"


@dataclass
class Config:
    """``rest.Config``: the connection, credentials and limits of one API client.

    Authentication, in the order a request uses it (the first that yields a
    token wins):

    * ``token_provider`` -- a callable returning a fresh bearer token (how a
      kubeconfig's exec plugin or OIDC refresh reaches us; client-go's
      ``ExecProvider``/``AuthProvider`` play this part);
    * ``bearer_token_file`` -- re-read every minute, because bound service
      account tokens are rotated by the kubelet and a long-running controller
      must pick the new one up (``BearerTokenFile`` in Go);
    * ``bearer_token`` -- a static token, also the fallback when the file
      cannot be read;
    * ``cert_file``/``key_file`` or ``cert_data``/``key_data`` -- a TLS client
      certificate.

    TLS verification is on unless ``insecure`` is set explicitly; it is never
    the default, as in Go.  ``ca_file``/``ca_data`` name the authority to trust.

    Limits: ``qps``/``burst`` turn on client-side throttling.  client-go
    defaults to 5 QPS with a burst of 10, which slows tests and a busy
    controller down for no gain against a server that has API Priority and
    Fairness; here ``qps=None`` (the default) means no client-side limit.
    ``timeout`` bounds the silence while reading an ordinary response
    (seconds between bytes, not the whole request); watches get their own
    read deadline of ``timeoutSeconds + watch_read_timeout_margin`` so that a
    half-open connection is noticed.  ``max_retries`` bounds how often a
    response carrying ``Retry-After`` (429 or 5xx) is retried, like client-go's
    ``maxRetries`` of 10; ``max_retry_after`` caps each such wait (the API
    server asks for 1 s when it sheds load; a server asking for a day is
    wrong, and ten day-long sleeps would freeze an informer).
    """

    host: str
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    token_provider: Callable[[], str | None] | None = None
    cert_file: str | None = None
    key_file: str | None = None
    cert_data: bytes | None = None
    key_data: bytes | None = None
    ca_file: str | None = None
    ca_data: bytes | None = None
    insecure: bool = False
    tls_server_name: str | None = None
    impersonate_user: str | None = None
    impersonate_groups: list[str] = field(default_factory=list)
    user_agent: str | None = None
    qps: float | None = None
    burst: int = 0
    timeout: float | None = 60.0
    connect_timeout: float = 30.0
    watch_read_timeout_margin: float = 30.0
    max_retries: int = 10
    max_retry_after: float = 10.0

    def __repr__(self) -> str:
        # Like rest.Config.String(): never print credentials, even by accident in a log line.
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS and value:
                value = _REDACTED
            parts.append(f"{f.name}={value!r}")
        return f"Config({', '.join(parts)})"

    __str__ = __repr__

    def copy(self, **changes: Any) -> Config:
        """``rest.CopyConfig`` with optional changes (the lists are copied too)."""
        changes.setdefault("impersonate_groups", list(self.impersonate_groups))
        return dataclasses.replace(self, **changes)

    def effective_user_agent(self) -> str:
        """``user_agent``, or the default ``bitcoin-controller/<version> (python)``."""
        return self.user_agent or default_user_agent()


def copy_config(config: Config) -> Config:
    """``rest.CopyConfig``."""
    return config.copy()


def anonymous_client_config(config: Config) -> Config:
    """``rest.AnonymousClientConfig``: same server and trust, no credentials at all."""
    return config.copy(
        bearer_token=None,
        bearer_token_file=None,
        token_provider=None,
        cert_file=None,
        key_file=None,
        cert_data=None,
        key_data=None,
        impersonate_user=None,
        impersonate_groups=[],
    )


class NotInClusterError(RuntimeError):
    """``rest.ErrNotInCluster``: the process is not running inside a pod."""


def in_cluster_config(
    *,
    environ: Mapping[str, str] | None = None,
    token_file: str = SERVICE_ACCOUNT_TOKEN_FILE,
    ca_file: str = SERVICE_ACCOUNT_CA_FILE,
) -> Config:
    """``rest.InClusterConfig``: talk to the API server as the pod's service account.

    The host comes from ``KUBERNETES_SERVICE_HOST``/``KUBERNETES_SERVICE_PORT``
    (set by the kubelet in every pod); the token and the cluster CA from the
    mounted service account files.  The token is read once now (so a missing
    token fails fast, as in Go) and ``bearer_token_file`` is set, so requests
    re-read it every minute: bound service account tokens expire and the
    kubelet rewrites the file well before they do.

    ``environ``, ``token_file`` and ``ca_file`` exist for tests.
    Raises :class:`NotInClusterError` outside a pod and :class:`OSError` when
    the token cannot be read.
    """
    env = os.environ if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST", ""), env.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise NotInClusterError(
            "unable to load in-cluster configuration: KUBERNETES_SERVICE_HOST and "
            "KUBERNETES_SERVICE_PORT must be defined"
        )
    with open(token_file, encoding="utf-8") as f:
        token = f.read().strip()
    if ":" in host and not host.startswith("["):  # an IPv6 address needs brackets in a URL
        host = f"[{host}]"
    return Config(
        host=f"https://{host}:{port}",
        bearer_token=token,
        bearer_token_file=token_file,
        ca_file=ca_file if os.path.exists(ca_file) else None,
    )
