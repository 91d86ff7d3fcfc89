"""Building a ``rest.Config`` from a kubeconfig, mirroring ``k8s.io/client-go/tools/clientcmd``.

Plain kubeconfigs -- merged ``$KUBECONFIG`` lists, contexts, relative
certificate paths, inline base64 certificates, tokens, token files,
impersonation -- are read by :mod:`.kubeconfig`, without the ``kubernetes``
package, whose import alone costs some 18 MiB.  Users with an exec credential
plugin or an OIDC/auth-provider need refreshing credentials; for those (only)
``kubernetes.config.load_kube_config`` fills a
``kubernetes.client.Configuration``, which is converted into our
:class:`~bitcoin_controller.clientgo.rest.Config`.  Nothing else of that
package is used: requests go through our own
:class:`~bitcoin_controller.clientgo.rest.RESTClient`.

Credentials that expire (exec plugins, OIDC) keep working because the
converted config's ``token_provider`` asks the package's refresh hook for the
current token before each request.  The kubeconfig file is never written
back (``persist_config=False``): a controller has no business editing a
user's kubeconfig.

Known gaps, all rare for a controller: ``proxy-url`` is ignored (with a
warning), basic auth (removed from Kubernetes in 1.19) is not supported, and an
exec plugin that returns a client *certificate* is not refreshed.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from typing import Any

from ...rest import Config, NotInClusterError, in_cluster_config

__all__ = [
    "ConfigError",
    "RECOMMENDED_CONFIG_PATH_ENV_VAR",
    "RECOMMENDED_HOME_FILE",
    "default_kubeconfig_path",
    "build_config_from_kubeconfig",
    "build_config_from_flags",
    "config_from_client_configuration",
    "load_config",
]

log = logging.getLogger(__name__)

#: ``clientcmd.RecommendedConfigPathEnvVar``: a list of kubeconfig files, ``:``-separated.
RECOMMENDED_CONFIG_PATH_ENV_VAR = "KUBECONFIG"
#: ``clientcmd.RecommendedHomeFile``.
RECOMMENDED_HOME_FILE = os.path.join("~", ".kube", "config")


class ConfigError(ValueError):
    """No usable configuration (``clientcmd.ErrEmptyConfig`` and friends)."""


def default_kubeconfig_path(environ: Mapping[str, str] | None = None) -> str:
    """``$KUBECONFIG`` if set (possibly several files), else ``~/.kube/config``.

    Read at call time, not import time, so that tests and wrappers can change
    the environment.
    """
    env = os.environ if environ is None else environ
    return env.get(RECOMMENDED_CONFIG_PATH_ENV_VAR) or RECOMMENDED_HOME_FILE


def build_config_from_kubeconfig(
    kubeconfig_path: str, *, context: str | None = None, master_url: str | None = None
) -> Config:
    """Load one kubeconfig (or a ``:``-separated list, merged) into a :class:`Config`.

    ``context`` overrides the file's ``current-context``; ``master_url``
    overrides the cluster's server (``ConfigOverrides.ClusterInfo.Server``).
    """
    from .kubeconfig import KubeconfigError, load_kubeconfig, needs_plugin, to_rest_config_kwargs

    try:
        loaded = load_kubeconfig(kubeconfig_path)
        _, cluster, user = loaded.resolve(context)
        if needs_plugin(user):
            config = _config_through_the_kubernetes_package(kubeconfig_path, context)
        else:
            config = Config(**to_rest_config_kwargs(cluster, user))
    except KubeconfigError as err:
        raise ConfigError(f"invalid kubeconfig {kubeconfig_path}: {err}") from None
    if master_url:
        config.host = master_url
    return config


def _config_through_the_kubernetes_package(kubeconfig_path: str, context: str | None) -> Config:
    """Exec plugins and auth-providers: let the ``kubernetes`` package run and refresh them.

    Imported only here: the package pulls in its whole generated client,
    which costs about half a second and some 18 MiB of memory.
    """
    from kubernetes import client as k8s_client
    from kubernetes import config as k8s_config

    configuration = k8s_client.Configuration()
    try:
        k8s_config.load_kube_config(
            config_file=kubeconfig_path,
            context=context,
            client_configuration=configuration,
            persist_config=False,
        )
    except k8s_config.ConfigException as err:
        raise ConfigError(f"invalid kubeconfig {kubeconfig_path}: {err}") from None
    return config_from_client_configuration(configuration)


def config_from_client_configuration(configuration: Any) -> Config:
    """Convert a filled ``kubernetes.client.Configuration`` into our :class:`Config`."""
    token = _bearer(_api_key_header(configuration))
    provider = None
    if getattr(configuration, "refresh_api_key_hook", None) is not None:
        provider = _RefreshingToken(configuration)
    if getattr(configuration, "proxy", None):
        log.warning("the kubeconfig's proxy-url is not supported and is ignored")
    return Config(
        host=configuration.host,
        bearer_token=token,
        token_provider=provider,
        ca_file=configuration.ssl_ca_cert or None,
        cert_file=configuration.cert_file or None,
        key_file=configuration.key_file or None,
        insecure=not configuration.verify_ssl,
        tls_server_name=getattr(configuration, "tls_server_name", None) or None,
    )


def build_config_from_flags(master_url: str = "", kubeconfig_path: str = "") -> Config:
    """``clientcmd.BuildConfigFromFlags``: the usual ``--master``/``--kubeconfig`` flags.

    * neither given: the in-cluster config (a warning is logged, as in Go);
      outside a pod this fails, because Go's version then has nothing else to
      load either -- use :func:`load_config` for the friendlier search;
    * a kubeconfig: load it, with ``master_url`` (if given) overriding its server;
    * only a master URL: a config with that server and no credentials.
    """
    if not master_url and not kubeconfig_path:
        log.warning("neither --kubeconfig nor --master was specified; using the in-cluster config")
        try:
            return in_cluster_config()
        except (NotInClusterError, OSError) as err:
            raise ConfigError(f"no configuration has been provided: {err}") from None
    if kubeconfig_path:
        return build_config_from_kubeconfig(kubeconfig_path, master_url=master_url or None)
    return Config(host=master_url)


def load_config(kubeconfig: str | None = None, *, context: str | None = None) -> Config:
    """The configuration a controller should use, by the usual precedence.

    1. ``kubeconfig`` if given (a ``--kubeconfig`` flag);
    2. the in-cluster config when running in a pod (``KUBERNETES_SERVICE_HOST`` set);
    3. ``$KUBECONFIG``, else ``~/.kube/config``.

    This is client-go's ``NewNonInteractiveDeferredLoadingClientConfig`` with
    the default loading rules, plus the in-cluster step that controllers add.
    """
    if kubeconfig:
        return build_config_from_kubeconfig(kubeconfig, context=context)
    if os.environ.get("KUBERNETES_SERVICE_HOST") and not context:
        try:
            return in_cluster_config()
        except (NotInClusterError, OSError) as err:
            log.warning("in-cluster configuration unavailable (%s); trying kubeconfig",
                        type(err).__name__)
    return build_config_from_kubeconfig(default_kubeconfig_path(), context=context)


def _api_key_header(configuration: Any) -> str | None:
    keys = configuration.api_key or {}
    # kubernetes >= 29 stores the header under "BearerToken"; older versions used "authorization".
    return keys.get("BearerToken") or keys.get("authorization")


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value:
        return value.strip()
    if scheme.lower() == "basic":
        log.warning("basic authentication in kubeconfig is not supported and is ignored")
    return None


class _RefreshingToken:
    """The current bearer token of a kubeconfig user, refreshed by the package's hook.

    The hook re-runs an exec plugin (or OIDC refresh) once the token's
    expiry has passed; the lock keeps concurrent requests from running the
    plugin several times at once.
    """

    def __init__(self, configuration: Any) -> None:
        self._configuration = configuration
        self._lock = threading.Lock()

    def __call__(self) -> str | None:
        with self._lock:
            header = self._configuration.get_api_key_with_prefix("BearerToken")
            return _bearer(header or _api_key_header(self._configuration))

    def __repr__(self) -> str:
        return "_RefreshingToken(<kubeconfig user>)"
