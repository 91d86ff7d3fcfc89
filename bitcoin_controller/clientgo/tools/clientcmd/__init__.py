"""Kubeconfig loading, mirroring ``k8s.io/client-go/tools/clientcmd``.

``build_config_from_flags(master_url, kubeconfig_path)`` is Go's
``clientcmd.BuildConfigFromFlags``; :func:`load_config` is the
"explicit file, else in-cluster, else ``$KUBECONFIG``/``~/.kube/config``"
search a controller's ``main`` wants.  :func:`load_kubeconfig` merges
``--kubeconfig`` / ``$KUBECONFIG`` / ``~/.kube/config`` by kubectl's rules and
gives the context's namespace too (what a command-line tool needs).  Both return a
:class:`bitcoin_controller.clientgo.rest.Config`.
"""

from .loader import (
    RECOMMENDED_CONFIG_PATH_ENV_VAR,
    RECOMMENDED_HOME_FILE,
    ConfigError,
    ContextNotFoundError,
    KubeconfigInvalidError,
    KubeconfigNotFoundError,
    MergedKubeconfig,
    NoCurrentContextError,
    build_config_from_flags,
    build_config_from_kubeconfig,
    config_from_client_configuration,
    config_from_kubeconfig,
    default_kubeconfig_path,
    load_config,
    load_kubeconfig,
)

__all__ = [
    "ConfigError",
    "RECOMMENDED_CONFIG_PATH_ENV_VAR",
    "RECOMMENDED_HOME_FILE",
    "default_kubeconfig_path",
    "build_config_from_kubeconfig",
    "build_config_from_flags",
    "config_from_client_configuration",
    "load_config",
    "load_kubeconfig",
    "MergedKubeconfig",
    "config_from_kubeconfig",
    "KubeconfigNotFoundError",
    "KubeconfigInvalidError",
    "NoCurrentContextError",
    "ContextNotFoundError",
]
