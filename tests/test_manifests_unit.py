"""Static checks of the plain manifests in manifests/.

They are what ``kubectl apply -f manifests/`` installs and what
``scripts/run-demo`` uses, so the properties that matter for safety are
asserted here: least-privilege RBAC, the restricted Pod Security profile, two
replicas with leader election, and the example objects matching each other.
"""

from __future__ import annotations

import re

import pytest

try:
    from . import packaging_helpers as h
except ImportError:  # tests/ is not a package: pytest puts it on sys.path
    import packaging_helpers as h

CONTROLLER_NS = "bitcoin-controller"


@pytest.fixture(scope="module")
def rbac():
    return h.load_file(h.MANIFESTS / "rbac.yaml")


@pytest.fixture(scope="module")
def controller():
    return h.load_file(h.MANIFESTS / "controller.yaml")


@pytest.fixture(scope="module")
def deployment(controller):
    return h.one(controller, "Deployment", "bitcoin-controller")


@pytest.fixture(scope="module")
def pod_spec(deployment):
    return deployment["spec"]["template"]["spec"]


MANIFEST_FILES = [
    "rbac.yaml", "controller.yaml", "default-secret.yaml",
    "test-network.yaml", "network-policy.yaml",
]
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
SERVICE_ACCOUNT_USER = f"system:serviceaccount:{CONTROLLER_NS}:bitcoin-controller"


@pytest.mark.parametrize("name", MANIFEST_FILES)
def test_every_manifest_parses_into_named_objects_unit(name):
    docs = h.load_file(h.MANIFESTS / name)
    assert docs, f"{name} is empty"
    for doc in docs:
        assert doc.get("apiVersion") and doc.get("kind"), doc
        assert doc["metadata"].get("name"), doc
        if doc["kind"] not in CLUSTER_SCOPED:
            what = f"{doc['kind']} {doc['metadata']['name']}"
            assert doc["metadata"].get("namespace"), f"{what} has no namespace"


def test_rbac_has_namespace_serviceaccount_and_bindings_unit(rbac):
    ns = h.one(rbac, "Namespace", CONTROLLER_NS)
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    sa = h.one(rbac, "ServiceAccount", "bitcoin-controller")
    assert sa["metadata"]["namespace"] == CONTROLLER_NS
    # The token is mounted by the Deployment explicitly, never by default.
    assert sa["automountServiceAccountToken"] is False
    subject = {"kind": "ServiceAccount", "name": "bitcoin-controller", "namespace": CONTROLLER_NS}
    crb = h.one(rbac, "ClusterRoleBinding")
    assert crb["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                              "name": h.one(rbac, "ClusterRole")["metadata"]["name"]}
    assert crb["subjects"] == [subject]
    rb = h.one(rbac, "RoleBinding")
    role = h.one(rbac, "Role")
    assert rb["metadata"]["namespace"] == role["metadata"]["namespace"] == CONTROLLER_NS
    assert rb["roleRef"]["kind"] == "Role" and rb["roleRef"]["name"] == role["metadata"]["name"]
    assert rb["subjects"] == [subject]


def test_rbac_is_least_privilege_unit(rbac):
    cluster_role, lease_role = h.one(rbac, "ClusterRole"), h.one(rbac, "Role")
    h.assert_controller_rbac(cluster_role, lease_role, ["bitcoin-default-secret"])


def test_secret_creation_is_limited_by_an_admission_policy_unit(rbac):
    # RBAC cannot restrict create by name or type: the policy closes "create
    # a token Secret under a readable name, then read it".
    h.assert_secret_policy(rbac, SERVICE_ACCOUNT_USER, ["bitcoin-default-secret"])


def test_the_controllers_own_tls_secret_passes_the_admission_policy_unit():
    # What the policy requires is what the controller builds (same three rules).
    from bitcoin_controller.controller import resources

    network = {"apiVersion": "bitcoincontroller.dev/v1", "kind": "BitcoinNetwork",
               "metadata": {"name": "net", "namespace": "default", "uid": "u-1"}}
    secret = resources.new_tls_secret(network, b"cert", b"key")
    assert secret["type"] == "kubernetes.io/tls"
    assert secret["metadata"]["name"].endswith("-rpc-tls")
    assert any(ref["kind"] == "BitcoinNetwork" and ref["apiVersion"].startswith("bitcoincontroller.dev/")
               for ref in secret["metadata"]["ownerReferences"])


def test_every_api_call_of_a_sync_is_allowed_by_the_cluster_role_unit(rbac):
    # The other half of least privilege: every verb the controller uses is
    # granted (and the static test above shows nothing more is).
    from controller_fixture import Fixture, desired_objects, new_network, new_secret, with_certificate

    role = h.one(rbac, "ClusterRole")
    groups = {"statefulsets": "apps", "bitcoinnetworks": "bitcoincontroller.dev"}
    seen = set()
    # A new btcd network (creates everything), then one whose children drifted (updates).
    creds = "bitcoin-default-secret"  # the one name the ClusterRole lets it read
    fresh = Fixture()
    fresh.seed(new_network(secret=creds), new_secret(creds))
    fresh.sync()
    drifted = Fixture()
    network = with_certificate(new_network(nodes=3, secret=creds))
    svc, sts = desired_objects(network)
    svc["spec"]["ports"] = []
    sts["spec"]["replicas"] = 1
    drifted.seed(network, svc, sts, new_secret(creds))
    drifted.sync()
    for f in (fresh, drifted):
        for action in f.client.actions():
            resource = action.resource.resource
            if action.subresource:
                resource += "/" + action.subresource
            name = getattr(action, "name", "") or ""
            selector = getattr(getattr(action, "list_options", None), "field_selector", None) or ""
            if selector.startswith("metadata.name="):  # a single-object list/watch names its object
                name = selector.removeprefix("metadata.name=")
            seen.add((action.verb, resource))
            assert h.allows(role, action.verb, resource, groups.get(resource.split("/")[0], ""), name), (
                f"{action.verb} {resource} {name} is not granted")
    assert {("create", "statefulsets"), ("create", "services"), ("create", "secrets"),
            ("update", "statefulsets"), ("update", "bitcoinnetworks/status")} <= seen, seen


def test_every_rbac_rule_has_a_comment_saying_why_unit():
    lines = (h.MANIFESTS / "rbac.yaml").read_text(encoding="utf-8").splitlines()
    rule_starts = [i for i, line in enumerate(lines) if re.match(r"^\s*- apiGroups:", line)]
    assert len(rule_starts) >= 10
    for i in rule_starts:
        previous = lines[i - 1].strip()
        assert previous.startswith("#"), f"rbac.yaml line {i + 1}: rule without a comment above it"


def test_no_role_lists_or_watches_secrets_anywhere_unit(rbac):
    # list/watch only on named Secrets: RBAC then requires a metadata.name field selector.
    for role in h.by_kind(rbac, "ClusterRole") + h.by_kind(rbac, "Role"):
        assert not h.verbs_for(role, "secrets") & {"update", "patch", "delete"}
        for rule in h.rules_for(role, "secrets"):
            if set(rule["verbs"]) & {"list", "watch"}:
                assert rule.get("resourceNames"), "an unnamed list or watch on secrets reads every Secret"


def test_deployment_runs_two_replicas_with_leader_election_unit(deployment):
    assert deployment["spec"]["replicas"] == 2
    args = h.container_args(deployment)
    assert h.flag_value(args, "--leader-elect") == ""
    assert h.flag_value(args, "--leader-election-id") == "bitcoin-controller"
    assert h.flag_value(args, "--metrics-bind-address") == ":8080"
    assert h.flag_value(args, "--health-probe-bind-address") == ":8081"
    assert h.flag_value(args, "--log-format") in ("json", "console")


def test_controller_flags_are_known_to_the_cli_unit(deployment):
    """Every flag the Deployment passes exists in the controller's parser."""
    options = pytest.importorskip("bitcoin_controller.cmd.options")
    parsed = options.parse_options(h.container_args(deployment), environ={})
    assert parsed.leader_elect is True
    assert parsed.workers == 4
    assert parsed.resync_period == 30.0


def test_deployment_meets_restricted_pod_security_unit(pod_spec):
    assert h.restricted_violations(pod_spec) == []
    assert pod_spec["securityContext"]["runAsUser"] >= 1000


def test_deployment_probes_and_ports_unit(pod_spec):
    container = pod_spec["containers"][0]
    assert container["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"]
    assert resources["limits"]["memory"]
    image = container["image"]
    assert image.startswith("ghcr.io/bitcoin-controller/bitcoin-controller:")
    assert not image.endswith(":latest")


def test_deployment_mounts_only_an_expiring_projected_token_unit(pod_spec):
    assert pod_spec["serviceAccountName"] == "bitcoin-controller"
    assert pod_spec["automountServiceAccountToken"] is False
    volume = next(v for v in pod_spec["volumes"] if v["name"] == "kube-api-access")
    sources = volume["projected"]["sources"]
    token = next(s["serviceAccountToken"] for s in sources if "serviceAccountToken" in s)
    assert token["path"] == "token"
    assert 600 <= token["expirationSeconds"] <= 3600 * 24
    # in-cluster config also needs the CA bundle and the namespace file
    paths = {item["path"] for s in sources for kind in ("configMap", "downwardAPI")
             for item in s.get(kind, {}).get("items", [])}
    assert paths == {"ca.crt", "namespace"}
    mounts = pod_spec["containers"][0]["volumeMounts"]
    mount = next(m for m in mounts if m["name"] == "kube-api-access")
    assert mount["mountPath"] == "/var/run/secrets/kubernetes.io/serviceaccount"
    assert mount["readOnly"] is True


def test_metrics_service_selects_the_controller_pods_unit(controller, deployment):
    service = h.one(controller, "Service")
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"},
    ]


def test_test_network_is_three_btcd_nodes_unit():
    network = h.one(h.load_file(h.MANIFESTS / "test-network.yaml"), "BitcoinNetwork")
    assert network["apiVersion"] == "bitcoincontroller.dev/v1"
    assert network["metadata"] == {"name": "my-network", "namespace": "default"}
    assert network["spec"] == {
        "nodes": 3, "implementation": "btcd", "secret": "bitcoin-default-secret",
    }


def test_test_network_fits_the_crd_schema_unit():
    crd_path = h.MANIFESTS / "crd.yaml"
    if not crd_path.exists():
        pytest.skip("manifests/crd.yaml not written yet")
    crd = h.one(h.load_file(crd_path), "CustomResourceDefinition")
    assert crd["spec"]["group"] == "bitcoincontroller.dev"
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    spec_schema = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"]
    network = h.one(h.load_file(h.MANIFESTS / "test-network.yaml"), "BitcoinNetwork")
    assert set(network["spec"]) <= set(spec_schema)
    if "enum" in spec_schema["implementation"]:
        assert "btcd" in spec_schema["implementation"]["enum"]


def test_default_secret_is_an_example_with_the_expected_keys_unit(rbac):
    secret = h.one(h.load_file(h.MANIFESTS / "default-secret.yaml"), "Secret")
    assert set(secret["stringData"]) == {"BC_RPC_USER", "BC_RPC_PASSWORD"}
    assert "EXAMPLE" in (h.MANIFESTS / "default-secret.yaml").read_text(encoding="utf-8")
    assert secret["metadata"]["annotations"]["bitcoincontroller.dev/example"] == "true"
    # It lives with the test network and the controller may read it by name.
    network = h.one(h.load_file(h.MANIFESTS / "test-network.yaml"), "BitcoinNetwork")
    assert secret["metadata"]["namespace"] == network["metadata"]["namespace"]
    assert secret["metadata"]["name"] == network["spec"]["secret"]
    secret_rules = h.rules_for(h.one(rbac, "ClusterRole"), "secrets")
    names = [n for r in secret_rules for n in r.get("resourceNames", [])]
    assert secret["metadata"]["name"] in names


def test_network_policy_allows_rpc_from_controller_and_p2p_within_network_unit(deployment):
    policy = h.one(h.load_file(h.MANIFESTS / "network-policy.yaml"), "NetworkPolicy")
    nodes = {"app.kubernetes.io/name": "bitcoin-node", "app.kubernetes.io/instance": "my-network"}
    assert policy["metadata"]["namespace"] == "default"
    assert policy["spec"]["podSelector"] == {"matchLabels": nodes}
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    by_peer = {}
    for rule in policy["spec"]["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        for peer in rule["from"]:
            key = "controller" if "namespaceSelector" in peer else "same-network"
            by_peer[key] = (peer, ports)
    controller_peer, controller_ports = by_peer["controller"]
    namespace_labels = controller_peer["namespaceSelector"]["matchLabels"]
    assert namespace_labels == {"kubernetes.io/metadata.name": CONTROLLER_NS}
    pod_labels = controller_peer["podSelector"]["matchLabels"]
    assert pod_labels == {"app.kubernetes.io/name": "bitcoin-controller"}
    # the selector matches the Deployment's pods
    assert controller_peer["podSelector"]["matchLabels"].items() <= \
        deployment["spec"]["template"]["metadata"]["labels"].items()
    assert controller_ports == {18443, 18334}, "the controller needs RPC only, never P2P"
    sibling_peer, sibling_ports = by_peer["same-network"]
    assert sibling_peer == {"podSelector": {"matchLabels": nodes}}
    assert 18444 in sibling_ports
    text = (h.MANIFESTS / "network-policy.yaml").read_text(encoding="utf-8")
    assert re.search(r"policy is per\W+network", text), "the per-network comment is missing"


def test_network_policy_labels_match_the_node_pods_the_controller_builds_unit():
    resources = pytest.importorskip("bitcoin_controller.controller.resources")
    policy = h.one(h.load_file(h.MANIFESTS / "network-policy.yaml"), "NetworkPolicy")
    assert resources.selector_labels("my-network") == policy["spec"]["podSelector"]["matchLabels"]


def test_default_node_images_agree_everywhere_unit(deployment):
    """The controller's built-in defaults, the plain manifest and the chart name the same node images."""
    impls = pytest.importorskip("bitcoin_controller.controller.implementations")
    args = h.container_args(deployment)
    values = h.load_file(h.CHART / "values.yaml")[0]
    assert h.flag_value(args, "--default-image-bitcoind") == impls.BITCOIND.default_image \
        == values["defaultImages"]["bitcoind"] == "docker.io/bitcoin/bitcoin:30.2"
    assert h.flag_value(args, "--default-image-btcd") == impls.BTCD.default_image == values["defaultImages"]["btcd"]


def test_secret_rbac_is_create_plus_named_get_only_unit(rbac):
    """The config Secrets need no verb beyond create: they are immutable and named by their inputs."""
    for role in h.by_kind(rbac, "ClusterRole") + h.by_kind(rbac, "Role"):
        for rule in h.rules_for(role, "secrets"):
            if rule.get("resourceNames"):
                continue
            assert set(rule["verbs"]) <= {"create"}, rule
