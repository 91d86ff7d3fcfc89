"""BitcoinNetwork v1: dict round trips, defaults, validation, and the CRD schema."""

from __future__ import annotations

import copy
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from bitcoin_controller.apis.bitcoincontroller import GROUP_NAME, v1
from bitcoin_controller.clientgo.kubernetes import scheme

ROOT = Path(__file__).resolve().parent.parent
CRD_PATH = ROOT / "manifests" / "crd.yaml"

SERVER_OBJECT: dict[str, Any] = {
    "apiVersion": "bitcoincontroller.dev/v1",
    "kind": "BitcoinNetwork",
    "metadata": {
        "name": "my-network",
        "namespace": "default",
        "uid": "6b7d0f0e-6c55-4f8f-9a0c-0a5f3a3b2c1d",
        "resourceVersion": "4711",
        "generation": 2,
        "creationTimestamp": "2026-11-22T03:00:00Z",
        "labels": {"team": "lightning"},
    },
    "spec": {
        "nodes": 2,
        "secret": "bitcoin-default-secret",
        "implementation": "btcd",
        "image": "registry.example.com/btcd:v0.24.2",
        "resources": {"limits": {"cpu": "1", "memory": "512Mi"}, "requests": {"cpu": "250m"}},
    },
    "status": {
        "observedGeneration": 2,
        "readyNodes": 2,
        "bestHeight": 101,
        "nodes": [
            {
                "ordinal": 0,
                "ready": True,
                "ip": "10.244.0.5",
                "podName": "my-network-sts-0",
                "nodeName": "my-network-sts-0",
                "dnsName": "my-network-sts-0.my-network-svc",
                "blocks": 101,
                "bestBlockHash": "3f" * 32,
                "peers": 1,
            },
            {
                "ordinal": 1,
                "ready": False,
                "ip": "",
                "podName": "my-network-sts-1",
                "nodeName": "my-network-sts-1",
                "dnsName": "my-network-sts-1.my-network-svc",
            },
        ],
        "conditions": [
            {
                "type": "Ready",
                "status": "False",
                "reason": "NodesNotReady",
                "message": "node 1 is not ready",
                "lastTransitionTime": "2026-11-22T03:01:00Z",
                "observedGeneration": 2,
            },
            {
                "type": "Connected",
                "status": "True",
                "reason": "PeersConnected",
                "message": "",
                "lastTransitionTime": "2026-11-22T03:02:00Z",
            },
        ],
        "rpcCertificate": "-----BEGIN CERTIFICATE-----\nMIIB...\n-----END CERTIFICATE-----\n",
    },
}


@pytest.fixture(scope="module")
def crd() -> dict[str, Any]:
    return yaml.safe_load(CRD_PATH.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def schema(crd) -> dict[str, Any]:
    (version,) = crd["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


# -------------------------------------------------------------- registration


def test_names_agree_with_the_clientset_scheme_unit():
    info = scheme.BITCOIN_NETWORKS
    assert info == v1.RESOURCE
    assert (
        info.group,
        info.version,
        info.kind,
        info.resource,
    ) == (v1.GROUP, v1.VERSION, v1.KIND, v1.PLURAL)
    assert v1.GROUP == GROUP_NAME == "bitcoincontroller.dev"
    assert v1.API_VERSION == info.api_version == "bitcoincontroller.dev/v1"
    assert info.list_kind == v1.LIST_KIND
    assert v1.resource(v1.PLURAL) == info.group_resource
    assert v1.kind(v1.KIND) == "BitcoinNetwork.bitcoincontroller.dev"
    assert v1.CRD_NAME == "bitcoinnetworks.bitcoincontroller.dev"


# ------------------------------------------------------------------ defaults


def test_defaults_applied_like_the_api_server_unit():
    spec = v1.BitcoinNetworkSpec.from_dict({"nodes": 3})
    assert spec.secret == v1.DEFAULT_SECRET == "bitcoin-default-secret"
    assert spec.implementation == v1.DEFAULT_IMPLEMENTATION == "bitcoind"
    assert spec.image is None and spec.resources is None
    assert spec.to_dict() == {
        "nodes": 3,
        "secret": "bitcoin-default-secret",
        "implementation": "bitcoind",
    }
    # null is "absent" for defaulting, as the API server prunes nulls first.
    assert v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "secret": None}).secret == v1.DEFAULT_SECRET


def test_explicit_values_are_not_defaulted_unit():
    spec = v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "secret": "", "implementation": "btcd"})
    assert spec.secret == ""  # an explicit empty string stays, and is invalid
    assert spec.implementation == "btcd"
    assert any(p.startswith("spec.secret:") for p in v1.validate(spec))


def test_network_from_empty_dict_gets_defaults_and_no_status_unit():
    network = v1.BitcoinNetwork.from_dict({"metadata": {"name": "n"}, "spec": {"nodes": 0}})
    assert (network.api_version, network.kind) == (v1.API_VERSION, v1.KIND)
    assert network.status is None
    assert "status" not in network.to_dict()
    assert network.name == "n" and network.namespace == "" and network.generation == 0


def test_the_example_network_manifest_is_valid_unit():
    docs = yaml.safe_load_all((ROOT / "manifests" / "test-network.yaml").read_text())
    (doc,) = [d for d in docs if d and d.get("kind") == v1.KIND]
    network = v1.BitcoinNetwork.from_dict(doc)
    assert v1.validate(network.spec) == []
    assert v1.validate_name(network.name) == []


# ---------------------------------------------------------------- round trip


def test_round_trip_is_exact_unit():
    network = v1.BitcoinNetwork.from_dict(SERVER_OBJECT)
    assert network.to_dict() == SERVER_OBJECT
    # and again: a view of a view is the same view
    assert v1.BitcoinNetwork.from_dict(network.to_dict()) == network


def test_typed_fields_are_read_unit():
    network = v1.BitcoinNetwork.from_dict(SERVER_OBJECT)
    assert network.generation == 2
    assert network.spec.nodes == 2 and network.spec.implementation == "btcd"
    status = network.status
    assert status is not None
    assert (status.observed_generation, status.ready_nodes, status.best_height) == (2, 2, 101)
    assert status.nodes is not None
    assert status.nodes[0].pod_name == "my-network-sts-0"
    assert status.nodes[0].best_block_hash == "3f" * 32
    assert status.nodes[1].blocks is None  # absent, not 0
    connected = status.condition(v1.CONNECTED)
    assert connected is not None and connected.status == v1.CONDITION_TRUE
    assert connected.observed_generation is None
    assert status.condition(v1.SYNCED) is None
    assert status.rpc_certificate.startswith("-----BEGIN CERTIFICATE-----")


def test_unknown_fields_survive_a_round_trip_unit():
    obj = copy.deepcopy(SERVER_OBJECT)
    obj["spec"]["futureKnob"] = {"enabled": True}
    obj["status"]["phase"] = "Running"  # written by some newer controller
    obj["status"]["nodes"][0]["version"] = "/btcd:0.24.2/"
    obj["status"]["conditions"][0]["severity"] = "Info"
    obj["someTopLevelThing"] = [1, 2]
    network = v1.BitcoinNetwork.from_dict(obj)
    assert network.spec.extra == {"futureKnob": {"enabled": True}}
    assert network.to_dict() == obj


def test_empty_lists_and_zero_values_stay_as_given_unit():
    obj = {
        "apiVersion": v1.API_VERSION,
        "kind": v1.KIND,
        "metadata": {},
        "spec": {"nodes": 0, "secret": "s", "implementation": "bitcoind"},
        "status": {"observedGeneration": 0, "readyNodes": 0, "nodes": [], "conditions": []},
    }
    assert v1.BitcoinNetwork.from_dict(obj).to_dict() == obj
    status_only_some = {"readyNodes": 1}
    assert v1.BitcoinNetworkStatus.from_dict(status_only_some).to_dict() == status_only_some


def test_views_never_share_data_with_the_dicts_unit():
    original = copy.deepcopy(SERVER_OBJECT)
    network = v1.BitcoinNetwork.from_dict(original)
    # Editing the view must not touch the (informer-cached) dict ...
    network.metadata["labels"]["team"] = "changed"
    network.spec.resources["limits"]["cpu"] = "8"
    network.status.nodes[0].ready = False
    assert original == SERVER_OBJECT
    # ... nor may later edits of the dict reach the view or its output.
    out = network.to_dict()
    original["spec"]["resources"]["requests"]["cpu"] = "9"
    assert network.spec.resources["requests"]["cpu"] == "250m"
    out["metadata"]["labels"]["team"] = "again"
    assert network.metadata["labels"]["team"] == "changed"


def test_built_by_hand_serialises_with_json_names_unit():
    status = v1.BitcoinNetworkStatus(
        observed_generation=3,
        ready_nodes=1,
        best_height=0,
        nodes=[v1.BitcoinNetworkNode(ordinal=0, ready=True, ip="10.0.0.1", pod_name="n-sts-0")],
        conditions=[
            v1.Condition(
                type=v1.READY,
                status=v1.CONDITION_TRUE,
                reason="AllNodesReady",
                message="1/1 nodes ready",
                last_transition_time="2026-11-22T03:00:00Z",
                observed_generation=3,
            )
        ],
    )
    network = v1.BitcoinNetwork(spec=v1.BitcoinNetworkSpec(nodes=1), status=status)
    assert network.to_dict() == {
        "apiVersion": "bitcoincontroller.dev/v1",
        "kind": "BitcoinNetwork",
        "metadata": {},
        "spec": {"nodes": 1, "secret": "bitcoin-default-secret", "implementation": "bitcoind"},
        "status": {
            "observedGeneration": 3,
            "readyNodes": 1,
            "bestHeight": 0,
            "nodes": [{"ordinal": 0, "ready": True, "ip": "10.0.0.1", "podName": "n-sts-0", "nodeName": "n-sts-0"}],
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "AllNodesReady",
                    "message": "1/1 nodes ready",
                    "lastTransitionTime": "2026-11-22T03:00:00Z",
                    "observedGeneration": 3,
                }
            ],
        },
    }


# ---------------------------------------------------------------- validation


def test_valid_specs_have_no_problems_unit():
    for spec in (
        {"nodes": 0},
        {"nodes": 32, "implementation": "btcd"},
        {"nodes": 3, "image": "bitcoin/bitcoin:28.1"},
        {"nodes": 3, "image": "ghcr.io/getumbrel/docker-bitcoind:v30.0"},
        {"nodes": 3, "image": "localhost:5000/btcd"},
        {"nodes": 3, "image": "registry.example.com:443/a/b@sha256:" + "a" * 64},
        {
            "nodes": 1,
            "resources": {"limits": {"cpu": 2, "memory": "1Gi"}, "requests": {"cpu": "2"}},
        },
        # Hugepages and extended resources cannot be overcommitted (request ==
        # limit), and hugepages need a cpu or memory figure: the pod validation.
        {
            "nodes": 1,
            "resources": {
                "limits": {"memory": "1Gi", "hugepages-2Mi": "0", "example.com/fpga": "1"},
                "requests": {"hugepages-2Mi": "0", "example.com/fpga": "1"},
            },
        },
        {"nodes": 1, "secret": "rpc.credentials-1"},
    ):
        assert v1.validate(v1.BitcoinNetworkSpec.from_dict(spec)) == [], spec


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({}, "spec.nodes: Required value"),
        ({"nodes": 33}, "must be between 0 and 32"),
        ({"nodes": -1}, "must be between 0 and 32"),
        ({"nodes": True}, "spec.nodes: Invalid value: True: must be an integer"),
        ({"nodes": "3"}, "must be an integer"),
        ({"nodes": 1, "secret": "Bad_Name"}, "spec.secret: Invalid value: 'Bad_Name'"),
        ({"nodes": 1, "secret": "a" * 254}, "at most 253 characters"),
        ({"nodes": 1, "implementation": "litecoind"}, 'supported values: "bitcoind", "btcd"'),
        ({"nodes": 1, "image": ""}, "spec.image: Invalid value: '': must be a non-empty string"),
        ({"nodes": 1, "image": "bitcoin/bitcoin :28"}, "must not contain whitespace"),
        ({"nodes": 1, "image": "Bitcoin/Core"}, "repository path"),
        ({"nodes": 1, "image": "bitcoin:bad tag"}, "whitespace"),
        ({"nodes": 1, "image": "bitcoin:-tag"}, "invalid tag"),
        ({"nodes": 1, "image": "bitcoin@sha256:short"}, "invalid digest"),
        ({"nodes": 1, "image": "bad_host.example.com/x"}, "invalid registry host"),
        ({"nodes": 1, "resources": []}, "spec.resources: Invalid value"),
        ({"nodes": 1, "resources": {"claims": []}}, "spec.resources.claims: Unsupported field"),
        ({"nodes": 1, "resources": {"limits": "1"}}, "spec.resources.limits: Invalid value"),
        ({"nodes": 1, "resources": {"limits": {"cpu": "1 core"}}}, "not a resource quantity"),
        ({"nodes": 1, "resources": {"limits": {"memory": "1Xi"}}}, "not a resource quantity"),
        ({"nodes": 1, "resources": {"limits": {"cpu": "-1"}}}, "must not be negative"),
        ({"nodes": 1, "resources": {"limits": {"gpu": "1"}}}, "must be a standard resource"),
        (
            {"nodes": 1, "resources": {"limits": {"memory": "1Gi"}, "requests": {"memory": "2Gi"}}},
            "spec.resources.requests[memory]: Invalid value: '2Gi': must be less than or equal "
            "to memory limit of '1Gi'",
        ),
    ],
)
def test_invalid_specs_are_reported_unit(spec, expected):
    problems = v1.validate(v1.BitcoinNetworkSpec.from_dict(spec))
    assert any(expected in p for p in problems), problems


def test_every_problem_is_reported_at_once_unit():
    spec = v1.BitcoinNetworkSpec.from_dict(
        {"nodes": 99, "secret": "X", "implementation": "y", "image": "Z"}
    )
    fields = [p.split(":", 1)[0] for p in v1.validate(spec)]
    assert fields == ["spec.nodes", "spec.secret", "spec.implementation", "spec.image"]


def test_name_rules_unit():
    assert v1.validate_name("my-network") == []
    assert v1.validate_name("a" * v1.MAX_NAME_LENGTH) == []
    assert "Too long" in v1.validate_name("a" * (v1.MAX_NAME_LENGTH + 1))[0]
    for bad in ("1net", "net.work", "Net", "net-", ""):
        assert v1.validate_name(bad), bad


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1", Decimal(1)),
        ("250m", Decimal("0.25")),
        ("1.5", Decimal("1.5")),
        (".5", Decimal("0.5")),
        ("1Ki", Decimal(1024)),
        ("512Mi", Decimal(512 * 2**20)),
        ("2G", Decimal(2 * 10**9)),
        ("1e3", Decimal(1000)),
        ("1E-3", Decimal("0.001")),
        ("+4k", Decimal(4000)),
        ("100n", Decimal("1e-7")),
        (3, Decimal(3)),
    ],
)
def test_parse_quantity_unit(text, value):
    assert v1.parse_quantity(text) == value


@pytest.mark.parametrize(
    "text", ["", "1 Gi", "1gi", "Gi", "1.2.3", "1KiB", "0x10", True, None, 1.5]
)
def test_parse_quantity_rejects_unit(text):
    with pytest.raises(ValueError):
        v1.parse_quantity(text)


# ----------------------------------------------------------------------- CRD


def test_crd_names_and_scope_unit(crd):
    assert crd["apiVersion"] == "apiextensions.k8s.io/v1"
    assert crd["kind"] == "CustomResourceDefinition"
    assert crd["metadata"]["name"] == v1.CRD_NAME
    spec = crd["spec"]
    assert spec["group"] == v1.GROUP
    assert spec["scope"] == "Namespaced"
    names = spec["names"]
    assert names["kind"] == v1.KIND
    assert names["listKind"] == v1.LIST_KIND
    assert names["plural"] == v1.PLURAL
    assert names["singular"] == v1.SINGULAR
    assert names["shortNames"] == [v1.SHORT_NAME]
    assert "all" not in names.get("categories", [])


def test_crd_version_and_status_subresource_unit(crd):
    (version,) = crd["spec"]["versions"]
    assert version["name"] == v1.VERSION
    assert version["served"] is True and version["storage"] is True
    assert version["subresources"] == {"status": {}}


def test_crd_printer_columns_unit(crd):
    (version,) = crd["spec"]["versions"]
    columns = {c["name"]: c for c in version["additionalPrinterColumns"]}
    assert [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")] == [
        "Nodes",
        "Ready",
        "Connected",
        "Height",
        "Age",
    ]
    assert columns["Nodes"]["jsonPath"] == ".spec.nodes"
    assert columns["Ready"]["jsonPath"] == ".status.readyNodes"
    assert columns["Connected"]["jsonPath"] == '.status.conditions[?(@.type=="Connected")].status'
    assert columns["Height"]["jsonPath"] == ".status.bestHeight"
    assert (columns["Age"]["type"], columns["Age"]["jsonPath"]) == (
        "date",
        ".metadata.creationTimestamp",
    )
    assert {columns[n]["type"] for n in ("Nodes", "Ready", "Height")} == {"integer"}


def test_crd_spec_constraints_unit(schema):
    assert schema["type"] == "object"
    assert schema["required"] == ["spec"]
    spec = schema["properties"]["spec"]
    assert spec["required"] == ["nodes"]
    props = spec["properties"]
    assert props["nodes"]["type"] == "integer"
    assert (props["nodes"]["minimum"], props["nodes"]["maximum"]) == (v1.MIN_NODES, v1.MAX_NODES)

    secret = props["secret"]
    assert secret["default"] == v1.DEFAULT_SECRET
    assert secret["maxLength"] == 253
    assert re.match(secret["pattern"], v1.DEFAULT_SECRET)
    assert not re.match(secret["pattern"], "Bad_Name")

    implementation = props["implementation"]
    assert tuple(implementation["enum"]) == v1.IMPLEMENTATIONS
    assert implementation["default"] == v1.DEFAULT_IMPLEMENTATION
    rules = [r["rule"] for r in implementation["x-kubernetes-validations"]]
    assert rules == ["self == oldSelf"]  # immutable once set

    assert props["image"]["type"] == "string" and props["image"]["minLength"] == 1


def test_crd_resource_quantities_match_our_parser_unit(schema):
    resources = schema["properties"]["spec"]["properties"]["resources"]["properties"]
    assert set(resources) == {"limits", "requests"}
    for kind in ("limits", "requests"):
        item = resources[kind]["additionalProperties"]
        assert item["x-kubernetes-int-or-string"] is True
        assert item["anyOf"] == [{"type": "integer"}, {"type": "string"}]
        pattern = re.compile(item["pattern"])
        for good in ("1", "250m", "1.5", ".5", "512Mi", "2G", "1e3", "+4k"):
            assert pattern.match(good) and v1.parse_quantity(good) is not None
        for bad in ("1 Gi", "1gi", "Gi", "1KiB"):
            assert not pattern.match(bad)
            with pytest.raises(ValueError):
                v1.parse_quantity(bad)


def test_crd_properties_match_the_python_types_unit(schema):
    # A field added on one side only would be pruned by the server or lost here.
    spec = schema["properties"]["spec"]["properties"]
    status = schema["properties"]["status"]["properties"]
    assert set(spec) == set(v1.BitcoinNetworkSpec._KEYS)
    assert set(status) == set(v1.BitcoinNetworkStatus._KEYS)
    assert set(status["nodes"]["items"]["properties"]) == set(v1.BitcoinNetworkNode._KEYS)
    assert set(status["conditions"]["items"]["properties"]) == set(v1.Condition._KEYS)


def test_crd_status_shape_unit(schema):
    status = schema["properties"]["status"]["properties"]
    conditions = status["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert conditions["x-kubernetes-list-map-keys"] == ["type"]
    item = conditions["items"]
    assert set(item["required"]) == {"type", "status", "reason", "message", "lastTransitionTime"}
    assert item["properties"]["status"]["enum"] == ["True", "False", "Unknown"]
    assert item["properties"]["lastTransitionTime"]["format"] == "date-time"
    reason = re.compile(item["properties"]["reason"]["pattern"])
    assert reason.match("PeersConnected") and not reason.match("peers connected")

    nodes = status["nodes"]
    assert nodes["x-kubernetes-list-type"] == "map"
    assert nodes["x-kubernetes-list-map-keys"] == ["ordinal"]
    assert nodes["items"]["required"] == ["ordinal"]
    assert status["bestHeight"]["type"] == "integer"
    assert status["rpcCertificate"]["type"] == "string"


def test_crd_name_rules_match_validate_name_unit(schema):
    rules = [r["rule"] for r in schema["x-kubernetes-validations"]]
    assert f"self.metadata.name.size() <= {v1.MAX_NAME_LENGTH}" in rules
    (matches,) = [r for r in rules if "matches(" in r]
    regex = re.search(r"matches\('(.*)'\)", matches).group(1)
    for name in ("my-network", "a", "net-2", "1net", "net.work", "Net", "net-"):
        assert bool(re.match(regex, name)) == (v1.validate_name(name) == []), name


def test_crd_schema_is_structural_unit(schema):
    """Every node has a type (or is int-or-string); nothing preserves unknown fields."""

    def walk(node: dict[str, Any], path: str) -> None:
        assert "x-kubernetes-preserve-unknown-fields" not in node, path
        if node.get("x-kubernetes-int-or-string"):
            return
        assert "type" in node, f"{path} has no type"
        for name, child in node.get("properties", {}).items():
            walk(child, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{path}[]")
        if isinstance(node.get("additionalProperties"), dict):
            walk(node["additionalProperties"], f"{path}{{}}")

    walk(schema, "")


@pytest.mark.parametrize("version", ["0.17", "0.17.1", "0.21.2", "22.0", "30.2", "31.0rc1", "0.16.3", "0.9.1",
                                     "v30.2", "30", "30.2-alpine", "latest", " 30.2", "30.02", "31.0rc0",
                                     "0.21.01"])
def test_crd_version_pattern_matches_validate_unit(schema, version):
    """spec.version: the API server's pattern and validate() agree on every release number."""
    import re

    field = schema["properties"]["spec"]["properties"]["version"]
    assert field["pattern"] == v1.validation.VERSION_PATTERN
    assert field["maxLength"] == v1.validation.MAX_VERSION_LENGTH
    by_schema = re.search(field["pattern"], version) is not None
    by_python = not v1.validate(v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "version": version}))
    assert by_schema == by_python


def test_crd_version_is_only_for_bitcoind_unit(schema):
    rules = [r["rule"] for r in schema["properties"]["spec"]["x-kubernetes-validations"]]
    assert any("self.version" in r and "bitcoind" in r for r in rules)
    problems = v1.validate(v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "implementation": "btcd", "version": "30.2"}))
    assert problems and problems[0].startswith("spec.version: Forbidden")


def test_node_pod_name_reads_either_name_and_writes_both_unit():
    # podName is the field's name for what it holds; nodeName, its former
    # name, is still read (older controllers) and written (older clients).
    old = v1.BitcoinNetworkNode.from_dict({"ordinal": 0, "nodeName": "n-sts-0"})
    new = v1.BitcoinNetworkNode.from_dict({"ordinal": 0, "podName": "n-sts-0"})
    assert old.pod_name == new.pod_name == "n-sts-0"
    assert new.to_dict() == {"ordinal": 0, "podName": "n-sts-0", "nodeName": "n-sts-0"}

