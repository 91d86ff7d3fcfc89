"""Checks of the Helm chart in manifests/helm/bitcoin-controller.

Static checks run everywhere. ``helm lint`` and ``helm template`` need the
helm binary that ``scripts/build-helm`` builds from its Go module (or a helm
on PATH); without it those tests are skipped, saying so. The rendered
objects are held to the same rules as the plain manifests
(``packaging_helpers``), and must agree with them where they overlap.
"""

from __future__ import annotations

import base64
import json
import subprocess
from functools import cache

import pytest
import yaml

try:
    from . import packaging_helpers as h
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    import packaging_helpers as h

RELEASE = "bitcoin-controller"
NAMESPACE = "bitcoin-controller"
CHART = h.CHART


# --- static ------------------------------------------------------------------

def test_chart_metadata_unit():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text(encoding="utf-8"))
    import bitcoin_controller

    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "bitcoin-controller"
    assert chart["type"] == "application"
    assert chart["version"] == "0.1.0"
    assert chart["appVersion"] == bitcoin_controller.__version__ == "0.1.0"


def test_chart_crd_is_a_copy_of_manifests_crd_unit():
    original = h.MANIFESTS / "crd.yaml"
    copy = CHART / "crds" / "bitcoinnetworks.yaml"
    if not original.exists():
        pytest.skip("manifests/crd.yaml not written yet")
    assert copy.exists(), "run scripts/release-chart --sync-crd"
    assert copy.read_bytes() == original.read_bytes(), \
        "the chart's CRD differs from manifests/crd.yaml: run scripts/release-chart --sync-crd"
    assert not (CHART / "templates" / "crd.yaml").exists(), \
        "a templated CRD would be deleted (with every network) by helm uninstall"


def test_values_are_described_by_the_schema_unit():
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    assert schema["additionalProperties"] is False
    assert set(values) == set(schema["properties"]), "values.yaml and values.schema.json disagree"
    names = schema["properties"]["rbac"]["properties"]["credentialSecretNames"]
    assert names["minItems"] == 1
    assert values["rbac"]["credentialSecretNames"] == ["bitcoin-default-secret"]
    assert values["replicaCount"] == 2 and values["leaderElection"]["enabled"] is True
    assert values["metrics"]["serviceMonitor"]["enabled"] is False
    assert values["networkPolicy"]["enabled"] is False
    assert values["image"]["tag"] == "", "the tag follows appVersion unless set"


def test_chart_has_helpers_notes_and_no_namespace_template_unit():
    templates = CHART / "templates"
    helpers = (templates / "_helpers.tpl").read_text(encoding="utf-8")
    standard = ("name", "instance", "version", "managed-by")
    for label in [f"app.kubernetes.io/{x}" for x in standard] + ["helm.sh/chart"]:
        assert label in helpers
    assert (templates / "NOTES.txt").exists()
    for template in templates.glob("*.yaml"):
        assert "kind: Namespace" not in template.read_text(encoding="utf-8"), \
            f"{template.name}: the release namespace is used (helm install --create-namespace)"


# --- helm lint / helm template ---------------------------------------------------

def _helm() -> str:
    helm = h.helm_binary()
    if helm is None:
        pytest.skip("helm is not built: run scripts/build-helm (or put helm on PATH)")
    return helm


@cache
def _run_helm(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([_helm(), *args], capture_output=True, text=True, timeout=120)


def render(*set_args: str, values: str | None = None) -> list[dict]:
    """``helm template`` of the chart as the release bitcoin-controller; the objects."""
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for s in set_args:
        args += ["--set", s]
    if values is not None:
        args += ["--set-json", values]
    result = _run_helm(*args)
    assert result.returncode == 0, result.stderr
    return h.load_documents(result.stdout)


def render_error(*set_args: str) -> str:
    args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
    for s in set_args:
        args += ["--set", s]
    result = _run_helm(*args)
    assert result.returncode != 0, "expected helm template to refuse these values"
    return result.stderr


@pytest.mark.parametrize("set_args", [
    (),
    ("defaultSecret.create=true", "networkPolicy.enabled=true",
     "networkPolicy.networks[0].name=my-network", "networkPolicy.networks[0].namespace=default",
     "metrics.serviceMonitor.enabled=true"),
    ("watchNamespace=bitcoin", "replicaCount=1", "leaderElection.enabled=false"),
], ids=["defaults", "everything-on", "single-namespace"])
def test_helm_lint_is_clean_unit(set_args):
    args = ["lint", "--strict", str(CHART), "--namespace", NAMESPACE]
    for s in set_args:
        args += ["--set", s]
    result = _run_helm(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "[WARNING]" not in result.stdout and "[ERROR]" not in result.stdout


def test_default_render_has_every_manifest_kind_except_the_namespace_unit():
    rendered = render("defaultSecret.create=true", "networkPolicy.enabled=true",
                      "networkPolicy.networks[0].name=my-network",
                      "networkPolicy.networks[0].namespace=default")
    plain = []
    for name in ("rbac.yaml", "controller.yaml", "default-secret.yaml", "network-policy.yaml"):
        plain += h.load_file(h.MANIFESTS / name)
    expected = sorted(o["kind"] for o in plain if o["kind"] != "Namespace")
    assert sorted(o["kind"] for o in rendered) == expected
    for obj in rendered:
        if obj["kind"] in ("ClusterRole", "ClusterRoleBinding", "ValidatingAdmissionPolicy",
                           "ValidatingAdmissionPolicyBinding"):
            continue
        if obj["kind"] in ("Secret", "NetworkPolicy"):
            assert obj["metadata"]["namespace"] == "default"  # where the networks are
        else:
            assert obj["metadata"]["namespace"] == NAMESPACE


def test_rendered_rbac_is_least_privilege_and_matches_the_manifests_unit():
    rendered = render()
    cluster_role = h.one(rendered, "ClusterRole")
    lease_role = h.one(rendered, "Role")
    h.assert_controller_rbac(cluster_role, lease_role, ["bitcoin-default-secret"])
    plain = h.load_file(h.MANIFESTS / "rbac.yaml")
    assert cluster_role["rules"] == h.one(plain, "ClusterRole")["rules"]
    assert lease_role["rules"] == h.one(plain, "Role")["rules"]
    sa = h.one(rendered, "ServiceAccount")
    assert sa["automountServiceAccountToken"] is False
    for binding in h.by_kind(rendered, "ClusterRoleBinding") + h.by_kind(rendered, "RoleBinding"):
        assert binding["subjects"] == [
            {"kind": "ServiceAccount", "name": sa["metadata"]["name"], "namespace": NAMESPACE}]
    user = f"system:serviceaccount:{NAMESPACE}:{sa['metadata']['name']}"
    policy = h.assert_secret_policy(rendered, user, ["bitcoin-default-secret"])
    plain_policy = h.one(plain, "ValidatingAdmissionPolicy")
    assert policy["spec"]["validations"] == plain_policy["spec"]["validations"]
    assert policy["spec"]["matchConstraints"] == plain_policy["spec"]["matchConstraints"]


def test_secret_policy_follows_the_service_account_and_can_be_turned_off_unit():
    rendered = render("serviceAccount.name=btc-sa", "watchNamespace=bitcoin")
    h.assert_secret_policy(rendered, f"system:serviceaccount:{NAMESPACE}:btc-sa", ["bitcoin-default-secret"])
    off = render("rbac.restrictSecretCreation=false")
    assert not h.by_kind(off, "ValidatingAdmissionPolicy")
    assert not h.by_kind(off, "ValidatingAdmissionPolicyBinding")


def test_credential_secret_names_drive_rbac_and_the_default_secret_unit():
    rendered = render("defaultSecret.create=true", "defaultSecret.password=pw-1",
                      values='rbac.credentialSecretNames=["team-a-rpc","team-b-rpc"]')
    cluster_role = h.one(rendered, "ClusterRole")
    h.assert_controller_rbac(cluster_role, h.one(rendered, "Role"), ["team-a-rpc", "team-b-rpc"])
    secret = h.one(rendered, "Secret")
    assert secret["metadata"]["name"] == "team-a-rpc", "the default Secret is a name RBAC allows"
    assert set(secret["data"]) == {"BC_RPC_USER", "BC_RPC_PASSWORD"}
    assert base64.b64decode(secret["data"]["BC_RPC_PASSWORD"]).decode() == "pw-1"
    assert base64.b64decode(secret["data"]["BC_RPC_USER"]).decode() == "bitcoin"


def test_generated_default_password_is_random_and_never_empty_unit():
    secret = h.one(render("defaultSecret.create=true"), "Secret")
    password = base64.b64decode(secret["data"]["BC_RPC_PASSWORD"]).decode()
    assert len(password) >= 24


def test_no_credential_secret_names_is_refused_unit():
    error = render_error("rbac.credentialSecretNames=null")
    assert "credentialSecretNames" in error


def test_deployment_has_two_replicas_leader_election_and_restricted_pods_unit():
    deployment = h.one(render(), "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = h.container_args(deployment)
    assert h.flag_value(args, "--leader-elect") == ""
    assert h.flag_value(args, "--leader-election-id") == "bitcoin-controller"
    pod = deployment["spec"]["template"]["spec"]
    assert h.restricted_violations(pod) == []
    container = pod["containers"][0]
    assert container["image"] == "ghcr.io/bitcoin-controller/bitcoin-controller:0.1.0"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert {p["name"] for p in container["ports"]} == {"metrics", "health"}
    assert container["resources"]["requests"] and container["resources"]["limits"]
    token = pod["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    assert token["expirationSeconds"] == 3600 and pod["automountServiceAccountToken"] is False


def test_rendered_deployment_matches_the_plain_manifest_unit():
    rendered = h.one(render(), "Deployment")
    plain = h.one(h.load_file(h.MANIFESTS / "controller.yaml"), "Deployment")
    rendered_pod = rendered["spec"]["template"]["spec"]
    plain_pod = plain["spec"]["template"]["spec"]
    for key in ("securityContext", "volumes", "automountServiceAccountToken", "serviceAccountName"):
        assert rendered_pod[key] == plain_pod[key], key
    r, p = rendered_pod["containers"][0], plain_pod["containers"][0]
    for key in ("args", "env", "ports", "livenessProbe", "readinessProbe", "resources",
                "securityContext", "volumeMounts", "image"):
        assert r[key] == p[key], key


def test_rendered_flags_parse_with_the_controller_cli_unit():
    options = pytest.importorskip("bitcoin_controller.cmd.options")
    rendered = render("watchNamespace=bitcoin", "logFormat=console")
    args = h.container_args(h.one(rendered, "Deployment"))
    parsed = options.parse_options(args, environ={})
    assert parsed.namespace == "bitcoin"
    assert parsed.leader_elect is True
    assert parsed.resync_period == 30.0
    assert parsed.log_format == "console"


def test_multiple_replicas_without_leader_election_are_refused_unit():
    error = render_error("leaderElection.enabled=false")
    assert "leaderElection" in error
    single = render("leaderElection.enabled=false", "replicaCount=1")
    args = h.container_args(h.one(single, "Deployment"))
    assert h.flag_value(args, "--leader-elect") is None
    assert not h.by_kind(single, "Role"), "no Lease permissions without leader election"
    assert not h.by_kind(single, "PodDisruptionBudget")


def test_watch_namespace_turns_the_cluster_role_into_a_role_unit():
    rendered = render("watchNamespace=bitcoin")
    assert not h.by_kind(rendered, "ClusterRole") and not h.by_kind(rendered, "ClusterRoleBinding")
    role = h.one(rendered, "Role", RELEASE)
    assert role["metadata"]["namespace"] == "bitcoin"
    lease_role = h.one(rendered, "Role", f"{RELEASE}-leader-election")
    h.assert_controller_rbac(role, lease_role, ["bitcoin-default-secret"])
    binding = h.one(rendered, "RoleBinding", RELEASE)
    assert binding["metadata"]["namespace"] == "bitcoin"
    assert binding["roleRef"]["kind"] == "Role"
    args = h.container_args(h.one(rendered, "Deployment"))
    assert h.flag_value(args, "--namespace") == "bitcoin"


def test_service_monitor_scrapes_the_metrics_service_unit():
    rendered = render("metrics.serviceMonitor.enabled=true",
                      "metrics.serviceMonitor.labels.release=prometheus")
    monitor = h.one(rendered, "ServiceMonitor")
    service = h.one(rendered, "Service")
    assert monitor["apiVersion"] == "monitoring.coreos.com/v1"
    assert monitor["metadata"]["labels"]["release"] == "prometheus"
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    endpoint = monitor["spec"]["endpoints"][0]
    assert endpoint["port"] == service["spec"]["ports"][0]["name"] == "metrics"
    assert endpoint["path"] == "/metrics"
    deployment = h.one(rendered, "Deployment")
    assert service["spec"]["selector"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert "ServiceMonitor" not in {o["kind"] for o in render()}


def test_network_policies_are_per_network_and_match_the_manifest_unit():
    rendered = render("networkPolicy.enabled=true",
                      "networkPolicy.networks[0].name=my-network",
                      "networkPolicy.networks[0].namespace=default",
                      "networkPolicy.networks[1].name=other",
                      "networkPolicy.networks[1].namespace=lab")
    policies = {p["metadata"]["name"]: p for p in h.by_kind(rendered, "NetworkPolicy")}
    assert set(policies) == {"my-network-nodes", "other-nodes"}
    assert policies["other-nodes"]["metadata"]["namespace"] == "lab"
    other_selector = policies["other-nodes"]["spec"]["podSelector"]["matchLabels"]
    assert other_selector["app.kubernetes.io/instance"] == "other"
    plain = h.one(h.load_file(h.MANIFESTS / "network-policy.yaml"), "NetworkPolicy")
    assert policies["my-network-nodes"]["spec"] == plain["spec"]
    assert not h.by_kind(render(), "NetworkPolicy"), "off by default"


def test_image_settings_compose_the_image_reference_unit():
    deployment = h.one(render("image.registry=registry.example:5000",
                              "image.repository=team/controller", "image.tag=abc1234",
                              "image.pullPolicy=Always"), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "registry.example:5000/team/controller:abc1234"
    assert container["imagePullPolicy"] == "Always"
    args = h.container_args(deployment)
    images = "ghcr.io/bitcoin-controller"
    assert h.flag_value(args, "--default-image-btcd") == f"{images}/btcd:v0.24.2"
    # Bitcoin Core: the stock image by default (the controller writes its config).
    assert h.flag_value(args, "--default-image-bitcoind") == "docker.io/bitcoin/bitcoin:30.2"


def test_bring_your_own_node_images_unit():
    """The README's recipe: images pushed to (or kind-loaded as) your own names reach the controller."""
    deployment = h.one(render("image.registry=", "image.repository=bitcoin-controller", "image.tag=dev",
                              "image.pullPolicy=Never",
                              "defaultImages.bitcoind=localhost:5000/bitcoind:30.2",
                              "defaultImages.btcd=localhost:5000/btcd:v0.24.2"), "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "bitcoin-controller:dev"
    assert container["imagePullPolicy"] == "Never"
    args = h.container_args(deployment)
    assert h.flag_value(args, "--default-image-bitcoind") == "localhost:5000/bitcoind:30.2"
    assert h.flag_value(args, "--default-image-btcd") == "localhost:5000/btcd:v0.24.2"


def test_values_schema_rejects_bad_values_unit():
    assert "logFormat" in render_error("logFormat=xml")
    assert "additional properties" in render_error("unknownKey=1")
    assert "resyncPeriod" in render_error("resyncPeriod=soon")
