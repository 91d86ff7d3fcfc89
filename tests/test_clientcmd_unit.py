"""Kubeconfig and in-cluster configuration loading."""

from __future__ import annotations

import base64
import json
import sys

import pytest
import yaml
from fake_apiserver import FakeAPIServer, Reply, self_signed_cert

from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.clientgo.rest import Config, NotInClusterError, in_cluster_config
from bitcoin_controller.clientgo.tools import clientcmd
from bitcoin_controller.clientgo.tools.clientcmd import loader

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p1", "namespace": "ns1"}}


def write_kubeconfig(path, server: str, users: dict, ca_pem: bytes | None = None,
                     current: str = "main", insecure: bool = False) -> str:
    cluster: dict = {"server": server}
    if ca_pem is not None:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode()
    if insecure:
        cluster["insecure-skip-tls-verify"] = True
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "c", "cluster": cluster},
                     {"name": "other", "cluster": {"server": "http://other.example:8080"}}],
        "users": [{"name": name, "user": user} for name, user in users.items()],
        "contexts": [
            {"name": "main", "context": {"cluster": "c", "user": "u"}},
            {"name": "second", "context": {"cluster": "other", "user": "u2"}},
        ],
        "current-context": current,
    }
    path.write_text(yaml.safe_dump(doc))
    return str(path)


def test_kubeconfig_with_token_and_ca_data_talks_to_the_server_unit(tmp_path):
    cert, key, pem = self_signed_cert(str(tmp_path))
    srv = FakeAPIServer(tls=(cert, key))
    try:
        path = write_kubeconfig(tmp_path / "config", srv.url,
                                {"u": {"token": "tok-1"}, "u2": {"token": "tok-2"}}, ca_pem=pem)
        cfg = clientcmd.build_config_from_flags("", path)
        assert cfg.host == srv.url
        assert cfg.bearer_token == "tok-1"
        assert not cfg.insecure
        assert cfg.ca_data == pem  # inline data stays in memory, no temporary file
        srv.route("GET", "/api/v1/namespaces/ns1/pods/p1", Reply(200, POD))
        assert Clientset(cfg).core_v1().pods("ns1").get("p1") == POD
        assert srv.last().headers["Authorization"] == "Bearer tok-1"
    finally:
        srv.close()


def test_context_and_master_override_and_insecure_flag_unit(tmp_path):
    path = write_kubeconfig(tmp_path / "config", "https://main.example:6443",
                            {"u": {"token": "tok-1"}, "u2": {"token": "tok-2"}}, insecure=True)
    assert clientcmd.build_config_from_kubeconfig(path).insecure
    second = clientcmd.build_config_from_kubeconfig(path, context="second")
    assert (second.host, second.bearer_token) == ("http://other.example:8080", "tok-2")
    overridden = clientcmd.build_config_from_flags("https://10.0.0.9:6443", path)
    assert (overridden.host, overridden.bearer_token) == ("https://10.0.0.9:6443", "tok-1")
    master_only = clientcmd.build_config_from_flags("http://127.0.0.1:8080", "")
    assert (master_only.host, master_only.bearer_token) == ("http://127.0.0.1:8080", None)


def test_exec_plugin_token_is_obtained_through_the_provider_unit(tmp_path):
    credential = {"apiVersion": "client.authentication.k8s.io/v1beta1", "kind": "ExecCredential",
                  "status": {"token": "from-exec-plugin"}}
    user = {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                     "command": sys.executable,
                     "args": ["-c", f"print({json.dumps(json.dumps(credential))})"]}}
    path = write_kubeconfig(tmp_path / "config", "https://main.example:6443",
                            {"u": user, "u2": {"token": "x"}})
    cfg = clientcmd.build_config_from_kubeconfig(path)
    assert cfg.bearer_token == "from-exec-plugin"
    assert cfg.token_provider is not None
    assert cfg.token_provider() == "from-exec-plugin"
    assert "from-exec-plugin" not in repr(cfg)


def test_merged_kubeconfigs_first_file_wins_and_paths_are_relative_to_their_file_unit(tmp_path):
    first_dir, second_dir = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir()
    second_dir.mkdir()
    (second_dir / "token").write_text("file-token\n")
    first = first_dir / "config"
    first.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": "https://first.example:6443",
                                               "certificate-authority": "ca.crt"}}],
        "users": [{"name": "u", "user": {"tokenFile": "../b/token", "as": "someone", "as-groups": ["g1"]}}],
    }))
    second = second_dir / "config"
    second.write_text(yaml.safe_dump({
        "clusters": [{"name": "c", "cluster": {"server": "https://second.example:6443"}}],
        "users": [{"name": "u", "user": {"token": "second-token"}},
                  {"name": "v", "user": {"client-certificate": "v.crt", "client-key": "v.key"}}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}},
                     {"name": "cert", "context": {"cluster": "c", "user": "v"}}],
        "current-context": "main",
    }))
    cfg = clientcmd.build_config_from_kubeconfig(f"{first}:{tmp_path / 'absent'}:{second}")
    assert cfg.host == "https://first.example:6443"  # the first file's cluster "c" wins
    assert cfg.ca_file == str(first_dir / "ca.crt")
    assert (cfg.bearer_token, cfg.bearer_token_file) == ("file-token", str(second_dir / "token"))
    assert (cfg.impersonate_user, cfg.impersonate_groups) == ("someone", ["g1"])
    cert = clientcmd.build_config_from_kubeconfig(f"{first}:{second}", context="cert")
    assert (cert.cert_file, cert.key_file) == (str(second_dir / "v.crt"), str(second_dir / "v.key"))
    with pytest.raises(clientcmd.ConfigError, match="context \"nope\" is not in"):
        clientcmd.build_config_from_kubeconfig(str(second), context="nope")


def test_plain_kubeconfig_does_not_import_the_kubernetes_package_unit(tmp_path):
    import subprocess

    path = write_kubeconfig(tmp_path / "config", "https://main.example:6443",
                            {"u": {"token": "tok-1"}, "u2": {"token": "x"}})
    code = ("import sys; from bitcoin_controller.cmd import app; "
            "from bitcoin_controller.clientgo.tools import clientcmd; "
            f"c = clientcmd.load_config({path!r}); "
            "print(c.bearer_token, 'kubernetes' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["tok-1", "False"], done.stderr


def test_token_provider_follows_the_packages_refresh_hook_unit():
    from kubernetes import client as k8s_client

    configuration = k8s_client.Configuration()
    configuration.host = "https://h:6443"
    configuration.api_key["BearerToken"] = "Bearer old"
    tokens = iter(["new-1", "new-2"])

    def refresh(c):
        c.api_key["BearerToken"] = f"Bearer {next(tokens)}"

    configuration.refresh_api_key_hook = refresh
    cfg = clientcmd.config_from_client_configuration(configuration)
    assert cfg.bearer_token == "old"
    assert [cfg.token_provider(), cfg.token_provider()] == ["new-1", "new-2"]


def test_missing_kubeconfig_is_a_config_error_unit(tmp_path):
    with pytest.raises(clientcmd.ConfigError):
        clientcmd.build_config_from_kubeconfig(str(tmp_path / "absent"))


def test_no_flags_outside_a_cluster_is_a_config_error_unit(monkeypatch):
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    monkeypatch.delenv("KUBERNETES_SERVICE_PORT", raising=False)
    with pytest.raises(clientcmd.ConfigError):
        clientcmd.build_config_from_flags("", "")


def test_load_config_precedence_unit(tmp_path, monkeypatch):
    path = write_kubeconfig(tmp_path / "config", "https://from-env.example:6443",
                            {"u": {"token": "env-tok"}, "u2": {"token": "x"}})
    explicit = write_kubeconfig(tmp_path / "explicit", "https://explicit.example:6443",
                                {"u": {"token": "explicit-tok"}, "u2": {"token": "x"}})
    in_cluster = Config(host="https://10.96.0.1:443", bearer_token="sa-token")
    monkeypatch.setattr(loader, "in_cluster_config", lambda: in_cluster)
    monkeypatch.setenv("KUBECONFIG", path)

    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1")
    assert clientcmd.load_config(explicit).host == "https://explicit.example:6443"
    assert clientcmd.load_config() is in_cluster
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST")
    assert clientcmd.load_config().bearer_token == "env-tok"
    assert clientcmd.default_kubeconfig_path({}) == clientcmd.RECOMMENDED_HOME_FILE


def test_in_cluster_config_reads_service_account_files_unit(tmp_path):
    token, ca = tmp_path / "token", tmp_path / "ca.crt"
    token.write_text("sa-token\n")
    ca.write_text("CA")
    env = {"KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    cfg = in_cluster_config(environ=env, token_file=str(token), ca_file=str(ca))
    assert cfg.host == "https://10.96.0.1:443"
    assert cfg.bearer_token == "sa-token"
    assert cfg.bearer_token_file == str(token)  # re-read periodically for rotation
    assert cfg.ca_file == str(ca)
    v6 = in_cluster_config(environ={**env, "KUBERNETES_SERVICE_HOST": "fd00::1"},
                           token_file=str(token), ca_file=str(ca))
    assert v6.host == "https://[fd00::1]:443"
    with pytest.raises(NotInClusterError):
        in_cluster_config(environ={}, token_file=str(token), ca_file=str(ca))


# -- KUBECONFIG with several files, merged as kubectl merges them ---------------------------------


def _doc(current=None, clusters=(), users=(), contexts=()):
    doc: dict = {"apiVersion": "v1", "kind": "Config",
                 "clusters": [{"name": n, "cluster": c} for n, c in clusters],
                 "users": [{"name": n, "user": u} for n, u in users],
                 "contexts": [{"name": n, "context": c} for n, c in contexts]}
    if current is not None:
        doc["current-context"] = current
    return doc


def test_kubeconfig_list_merges_by_kubectls_rules_unit(tmp_path):
    a, b, empty = tmp_path / "a", tmp_path / "b", tmp_path / "empty"
    a.write_text(yaml.safe_dump(_doc(current="ctx-a", clusters=[("shared", {"server": "https://from-a:6443"})],
                                     users=[("u", {"token": "tok-a"})])))
    b.write_text(yaml.safe_dump(_doc(current="ctx-b",
                                     clusters=[("shared", {"server": "https://from-b:6443"}),
                                               ("only-b", {"server": "https://only-b:6443"})],
                                     users=[("u", {"token": "tok-b"})],
                                     contexts=[("ctx-a", {"cluster": "shared", "user": "u", "namespace": "btc"}),
                                               ("ctx-b", {"cluster": "only-b", "user": "u"})])))
    empty.write_text("")
    env = {"KUBECONFIG": f"{tmp_path / 'absent'}:{empty}:{a}:{b}"}
    merged = clientcmd.load_kubeconfig(environ=env)
    # current-context: the first file that sets one (the kubernetes package would take the last).
    assert merged.current_context == "ctx-a"
    assert merged.namespace() == "btc" and merged.namespace("ctx-b") == "default"
    cfg = clientcmd.config_from_kubeconfig(merged)
    # A name defined in several files: the first definition wins, for clusters and users alike.
    assert (cfg.host, cfg.bearer_token) == ("https://from-a:6443", "tok-a")
    assert clientcmd.config_from_kubeconfig(merged, "ctx-b").host == "https://only-b:6443"


def test_relative_certificate_paths_resolve_against_their_own_file_unit(tmp_path):
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    (tmp_path / "two" / "ca.crt").write_text("CA")
    first = tmp_path / "one" / "config"
    second = tmp_path / "two" / "config"
    first.write_text(yaml.safe_dump(_doc(current="c", contexts=[("c", {"cluster": "k", "user": "u"})],
                                         users=[("u", {"token": "t"})])))
    second.write_text(yaml.safe_dump(_doc(clusters=[("k", {"server": "https://k:6443",
                                                           "certificate-authority": "ca.crt"})])))
    cfg = clientcmd.build_config_from_kubeconfig(f"{first}:{second}")
    assert cfg.ca_file == str(tmp_path / "two" / "ca.crt")


@pytest.mark.parametrize(("content", "error", "text"), [
    ("clusters: [\n  {name: c\n", clientcmd.KubeconfigInvalidError, "not valid YAML"),
    ("- just\n- a list\n", clientcmd.KubeconfigInvalidError, "not a Config mapping"),
    ("clusters: {c: 1}\n", clientcmd.KubeconfigInvalidError, "must be a list"),
    (yaml.safe_dump(_doc(clusters=[("c", {"server": "https://c"})])), clientcmd.NoCurrentContextError,
     "no current context"),
    (yaml.safe_dump(_doc(current="gone")), clientcmd.ContextNotFoundError, 'context "gone" is not in'),
    (yaml.safe_dump(_doc(current="x", contexts=[("x", {"cluster": "missing"})])),
     clientcmd.KubeconfigInvalidError, 'cluster "missing", which is not defined'),
])
def test_kubeconfig_problems_have_their_own_error_types_unit(tmp_path, content, error, text):
    path = tmp_path / "config"
    path.write_text(content)
    with pytest.raises(error, match=text):
        clientcmd.config_from_kubeconfig(clientcmd.load_kubeconfig(str(path)))


def test_explicit_kubeconfig_must_exist_but_listed_ones_may_not_unit(tmp_path):
    with pytest.raises(clientcmd.KubeconfigNotFoundError, match="does not exist"):
        clientcmd.load_kubeconfig(str(tmp_path / "absent"))
    with pytest.raises(clientcmd.KubeconfigNotFoundError, match="no kubeconfig file found"):
        clientcmd.load_kubeconfig(environ={"KUBECONFIG": f"{tmp_path / 'x'}:{tmp_path / 'y'}"})
