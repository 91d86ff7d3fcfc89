"""End-to-end: the controller process, as its ServiceAccount, running real btcd networks.

Everything here is observed from outside the controller: objects through the
API server with admin rights, and the daemons through our own JSON-RPC calls
(:class:`controller_harness.NetworkRPC`: pod IP from the pod, credentials from
the Secret, certificate from the status) -- the status the controller writes
is checked *against* them, never trusted in their place.  Each test has its
own namespace; one controller process (``--resync-period 5s``) serves the
module, and the restart test stops, kills and restarts that same process
(two controllers on one network would race each other's writes).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import controller_harness as harness
import pytest
from controller_harness import (
    DEFAULT_SECRET,
    TEST_RPC_PASSWORD,
    ControllerProcess,
    NetworkRPC,
    NetworkStatus,
    create_credentials_secret,
    create_network,
    events_for,
    list_names,
    read_network,
    wait_for,
)

from bitcoin_controller.apimachinery import errors, metav1
from bitcoin_controller.apimachinery.metav1 import ListOptions
from bitcoin_controller.bitcoin import RPCConnectionError
from bitcoin_controller.clientgo.kubernetes import Clientset
from bitcoin_controller.controller.resources import NODE_POD_SELECTOR

# The harness's fixtures, visible to pytest in this module.
crd_and_rbac = harness.crd_and_rbac
admin_client = harness.admin_client
controller = harness.controller

NETWORK = "net"
STS = f"{NETWORK}-sts"
SVC = f"{NETWORK}-svc"
TLS_SECRET = f"{NETWORK}-rpc-tls"
#: A pod runner maps any image whose repository ends in "btcd" to the btcd binary; on the
#: real node the local btcd image gets this name too (fixture ``other_btcd_image``).
OTHER_BTCD_IMAGE = "ghcr.io/bitcoin-controller/btcd:v0.24.2-test"
CONVERGE = 120.0  # generous: the machine is shared with builds; a healthy run takes a few seconds
RPC_WAIT = 60.0


# --------------------------------------------------------------------------- helpers


def _terminating_namespaces(client: Clientset, mine: str) -> set[str]:
    items = client.core_v1().namespaces().list()["items"]
    return {
        metav1.get_name(n)
        for n in items
        if (n.get("status") or {}).get("phase") == "Terminating" and metav1.get_name(n) != mine
    }


def _wait_no_other_namespace_terminating(client: Clientset, mine: str, *, daemons_only: bool = False) -> None:
    """Wait until no namespace but ``mine`` is being deleted (see ``ctl`` for why).

    With ``daemons_only`` it is enough that those namespaces have no node pods left.
    """

    def quiet() -> bool:
        busy = _terminating_namespaces(client, mine)
        if daemons_only and busy:
            pods = client.core_v1().pods("").list(ListOptions(label_selector=NODE_POD_SELECTOR))["items"]
            busy &= {metav1.get_namespace(p) for p in pods}
        assert not busy, f"still terminating: {sorted(busy)}"
        return True

    wait_for(quiet, CONVERGE, 0.25, "earlier test namespaces to be deleted")


@pytest.fixture(scope="module")
def other_btcd_image(cluster) -> str:
    if cluster.local is not None and cluster.local.backend == "node":
        cluster.local.tag_image(cluster.local.images["btcd"], OTHER_BTCD_IMAGE)
    return OTHER_BTCD_IMAGE


@pytest.fixture
def ctl(controller: ControllerProcess, admin_client: Clientset, namespace: str) -> Iterator[ControllerProcess]:
    """The module's controller, running (a test that stopped it and failed leaves it stopped).

    Also waits until earlier tests' namespaces are gone, daemons included:
    btcd keeps redialling the old address of a re-created pod forever (its
    ``addnode remove`` cannot cancel a pending connection), so a daemon of an
    earlier test still alive could peer with a new pod that inherits such an
    IP and hand it a foreign chain.
    """
    _wait_no_other_namespace_terminating(admin_client, namespace, daemons_only=True)
    if not controller.running:
        controller.start()
    yield controller
    assert controller.running, f"the controller exited with {controller.returncode}:\n{controller.tail()}"


def _networks(client: Clientset, namespace: str):
    return client.bitcoincontroller_v1().bitcoin_networks(namespace)


def _wait_status(
    client: Clientset, namespace: str, check: Any, what: str, timeout: float = CONVERGE, name: str = NETWORK
) -> NetworkStatus:
    """Wait until ``check(status)`` holds (it may assert, for a useful failure message)."""

    def ok() -> NetworkStatus | None:
        status = read_network(client, namespace, name)
        result = check(status)
        assert result is None or result, status.describe()
        return status

    return wait_for(ok, timeout, 0.5, f"{namespace}/{name}: {what}")


def _wait_converged(client: Clientset, namespace: str, nodes: int, name: str = NETWORK) -> NetworkStatus:
    def check(s: NetworkStatus) -> bool:
        return s.converged and s.ready_nodes == nodes and [n.ordinal for n in s.nodes] == list(range(nodes))

    return _wait_status(client, namespace, check, f"Ready, Connected and Synced with {nodes} node(s)", name=name)


def _start_network(client: Clientset, namespace: str, nodes: int, **spec: Any) -> dict[str, Any]:
    create_credentials_secret(client, namespace)
    network = create_network(client, namespace, NETWORK, nodes, **spec)
    _wait_converged(client, namespace, nodes)
    return network


def _wait_mesh(rpc: NetworkRPC, ordinals: list[int]) -> dict[int, str]:
    """Wait until every node's added-node list is exactly the other nodes' current addresses."""

    def meshed() -> dict[int, str]:
        addresses = {i: rpc.p2p_address(i) for i in ordinals}
        for i in ordinals:
            want = {a for j, a in addresses.items() if j != i}
            got = rpc.added_nodes(i)
            assert got == want, f"node {i} added-node list {sorted(got)} != {sorted(want)}"
        return addresses

    return wait_for(meshed, RPC_WAIT, 0.5, f"nodes {ordinals} to hold exactly each other in their added-node lists")


def _wait_heights(rpc: NetworkRPC, ordinals: list[int], height: int) -> str:
    """Wait until every node is at ``height`` on the same best block (by RPC); return its hash."""

    def same_tip() -> str:
        heights = {i: rpc.height(i) for i in ordinals}
        assert set(heights.values()) == {height}, f"heights {heights}"
        hashes = {rpc.best_block_hash(i) for i in ordinals}
        assert len(hashes) == 1, f"different tips {hashes}"
        return hashes.pop()

    return wait_for(same_tip, RPC_WAIT, 0.5, f"nodes {ordinals} at height {height}")


def _pod_ready(pod: dict[str, Any]) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def _event_reasons(client: Clientset, namespace: str, name: str = NETWORK) -> dict[str, dict[str, Any]]:
    return {e.get("reason", ""): e for e in events_for(client, namespace, name)}


def _assert_no_credentials_in_events(client: Clientset, namespace: str) -> None:
    encoded = base64.b64encode(TEST_RPC_PASSWORD.encode()).decode()
    for event in client.core_v1().events(namespace).list()["items"]:
        text = str(event.get("message", "")) + str(event.get("note", ""))
        assert TEST_RPC_PASSWORD not in text and encoded not in text, event


# --------------------------------------------------------------------------- 1. create


@pytest.mark.timeout(300)
def test_three_node_network_forms_a_mesh_integration(admin_client, ctl, namespace):
    create_credentials_secret(admin_client, namespace)
    network = create_network(admin_client, namespace, NETWORK, 3)

    status = _wait_converged(admin_client, namespace, 3)

    sts = admin_client.apps_v1().stateful_sets(namespace).get(STS)
    svc = admin_client.core_v1().services(namespace).get(SVC)
    tls = admin_client.core_v1().secrets(namespace).get(TLS_SECRET)
    for obj in (sts, svc, tls):
        assert metav1.is_controlled_by(obj, network), obj["metadata"].get("ownerReferences")
        ref = metav1.get_controller_of(obj)
        assert ref["kind"] == "BitcoinNetwork" and ref["blockOwnerDeletion"] is True
    assert sts["spec"]["replicas"] == 3 and sts["spec"]["serviceName"] == SVC
    assert svc["spec"]["clusterIP"] == "None"
    assert status.is_true("Ready") and status.condition("Ready").reason == "AllNodesReady"
    assert status.condition("Connected").reason == "PeersConnected"
    assert status.rpc_certificate and status.rpc_certificate.startswith("-----BEGIN CERTIFICATE-----")

    pods = {p["metadata"]["name"]: p for p in admin_client.core_v1().pods(namespace).list()["items"]}
    assert sorted(pods) == [f"{STS}-{i}" for i in range(3)]
    for node in status.nodes:
        pod = pods[node.pod_name]
        assert node.ready and node.ip == pod["status"]["podIP"], (node, pod["status"].get("podIP"))
        assert node.dns_name == f"{node.pod_name}.{SVC}.{namespace}.svc.cluster.local"

    # Our own RPC: every node persistently added both others (and nobody else).
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, [0, 1, 2])
    reasons = _event_reasons(admin_client, namespace)
    for reason in ("ServiceCreated", "TLSSecretCreated", "StatefulSetCreated", "PeersAdded", "Synced"):
        assert reason in reasons, sorted(reasons)
    # A clean creation blames nobody (a lagging cache once made it cry TLSSecretUnknown).
    for reason in ("TLSSecretUnknown", "ErrResourceExists", "InvalidSpec", "SecretNotFound"):
        assert reason not in reasons, reasons[reason]
    _assert_no_credentials_in_events(admin_client, namespace)


# --------------------------------------------------------------------------- 2. mine


@pytest.mark.timeout(300)
def test_mined_blocks_reach_every_node_integration(admin_client, ctl, namespace):
    _start_network(admin_client, namespace, 3)
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, [0, 1, 2])

    hashes = rpc.mine(0, 101)

    assert len(hashes) == 101
    tip = _wait_heights(rpc, [0, 1, 2], 101)
    assert tip == hashes[-1]

    def status_at_tip(s: NetworkStatus) -> bool:
        return (
            s.is_true("Synced")
            and s.best_height == 101
            and len(s.nodes) == 3
            and all(n.blocks == 101 and n.best_block_hash == tip for n in s.nodes)
        )

    status = _wait_status(admin_client, namespace, status_at_tip, "every node at 101 in the status")
    assert status.condition("Synced").reason == "SameBestBlock"
    assert "101" in status.condition("Synced").message


# --------------------------------------------------------------------------- 3. pod deleted


@pytest.mark.timeout(300)
def test_deleted_pod_is_recreated_and_reconnected_integration(admin_client, ctl, namespace):
    _start_network(admin_client, namespace, 3)
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    before = _wait_mesh(rpc, [0, 1, 2])
    rpc.mine(0, 5)
    tip = _wait_heights(rpc, [0, 1, 2], 5)
    pods = admin_client.core_v1().pods(namespace)

    # kwok hands out a freed pod IP at random among the free ones, so the new
    # pod may get the old IP back; delete it again (at most 3 times) until it
    # comes back elsewhere, which is the case where a stale address exists.
    for _attempt in range(3):
        old_uid = metav1.get_uid(pods.get(f"{STS}-1"))

        pods.delete(f"{STS}-1")

        def recreated(old_uid: str = old_uid) -> dict[str, Any]:
            pod = pods.get(f"{STS}-1")
            assert metav1.get_uid(pod) != old_uid, "still the old pod"
            assert _pod_ready(pod) and pod["status"].get("podIP"), "new pod not ready yet"
            return pod

        new_pod = wait_for(recreated, CONVERGE, 0.5, "pod 1 to be re-created and ready")
        # The new daemon starts from an empty data directory: it can only reach
        # the tip through the peers the controller connected it to.
        assert _wait_heights(rpc, [0, 1, 2], 5) == tip
        # Exactly the current addresses: a stale one (new IP) would fail this.
        after = _wait_mesh(rpc, [0, 1, 2])
        assert after[1] == f"{new_pod['status']['podIP']}:18444"
        assert after[0] == before[0] and after[2] == before[2]
        if after[1] != before[1]:
            break

    status = _wait_converged(admin_client, namespace, 3)
    assert status.node(1).ip == new_pod["status"]["podIP"]
    assert status.node(1).pod_name == f"{STS}-1"


@pytest.mark.timeout(300)
def test_block_mined_after_a_pod_restart_reaches_every_node_integration(admin_client, ctl, namespace):
    # At the genesis block btcd takes blocks only from its one "sync peer".
    # When pod 0 is re-created the survivors pick each other, so a block mined
    # on the new node 0 is announced to them and ignored -- until the
    # controller notices they stay behind and makes them pick again.
    _start_network(admin_client, namespace, 3)
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, [0, 1, 2])
    pods = admin_client.core_v1().pods(namespace)
    old_uid = metav1.get_uid(pods.get(f"{STS}-0"))
    pods.delete(f"{STS}-0")
    wait_for(lambda: metav1.get_uid(pods.get(f"{STS}-0")) != old_uid, CONVERGE, 0.5, "pod 0 to be re-created")
    _wait_converged(admin_client, namespace, 3)
    _wait_mesh(rpc, [0, 1, 2])

    tip = rpc.mine(0, 1)[-1]

    assert _wait_heights(rpc, [0, 1, 2], 1) == tip
    _wait_status(
        admin_client, namespace, lambda s: s.converged and s.best_height == 1, "Synced at height 1 in the status"
    )


# --------------------------------------------------------------------------- 4. scale


@pytest.mark.timeout(300)
def test_scale_up_syncs_and_scale_down_unlinks_integration(admin_client, ctl, namespace):
    _start_network(admin_client, namespace, 3)
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, [0, 1, 2])
    rpc.mine(0, 7)
    tip = _wait_heights(rpc, [0, 1, 2], 7)

    _networks(admin_client, namespace).patch(NETWORK, {"spec": {"nodes": 4}})

    # The new node starts at genesis and must sync to the tip from its peers.
    assert _wait_heights(rpc, [0, 1, 2, 3], 7) == tip
    addresses = _wait_mesh(rpc, [0, 1, 2, 3])
    status = _wait_converged(admin_client, namespace, 4)
    assert status.best_height == 7
    assert admin_client.apps_v1().stateful_sets(namespace).get(STS)["spec"]["replicas"] == 4

    _networks(admin_client, namespace).patch(NETWORK, {"spec": {"nodes": 2}})

    def pods_gone() -> bool:
        names = list_names(admin_client, "pods", namespace)
        assert names == [f"{STS}-0", f"{STS}-1"], names
        return True

    wait_for(pods_gone, CONVERGE, 0.5, "pods 2 and 3 to be deleted")
    remaining = _wait_mesh(rpc, [0, 1])
    assert remaining == {0: addresses[0], 1: addresses[1]}
    for i in (0, 1):
        added = rpc.added_nodes(i)
        assert addresses[2] not in added and addresses[3] not in added, (i, added)
    status = _wait_converged(admin_client, namespace, 2)
    assert status.ready_nodes == 2 and status.best_height == 7
    assert admin_client.apps_v1().stateful_sets(namespace).get(STS)["spec"]["replicas"] == 2
    scaled = _event_reasons(admin_client, namespace).get("Scaled")
    assert scaled is not None and scaled["type"] == "Normal"


# --------------------------------------------------------------------------- 5. image/resources


@pytest.mark.timeout(300)
def test_image_and_resources_change_updates_only_the_template_integration(
    admin_client, ctl, namespace, other_btcd_image
):
    _start_network(admin_client, namespace, 3)
    core, apps = admin_client.core_v1(), admin_client.apps_v1()
    svc_rv = metav1.get_resource_version(core.services(namespace).get(SVC))
    tls_rv = metav1.get_resource_version(core.secrets(namespace).get(TLS_SECRET))
    secrets_before = list_names(admin_client, "secrets", namespace)
    assert secrets_before == sorted([DEFAULT_SECRET, TLS_SECRET])
    requests = {"cpu": "50m", "memory": "64Mi"}

    _networks(admin_client, namespace).patch(
        NETWORK, {"spec": {"image": OTHER_BTCD_IMAGE, "resources": {"requests": requests}}}
    )

    def template_updated() -> dict[str, Any]:
        sts = apps.stateful_sets(namespace).get(STS)
        container = sts["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == OTHER_BTCD_IMAGE, container["image"]
        assert container.get("resources", {}).get("requests") == requests, container.get("resources")
        return sts

    sts = wait_for(template_updated, CONVERGE, 0.5, "the StatefulSet's pod template to follow the spec")
    sts_generation = metav1.get_generation(sts)

    def rolled_out() -> bool:
        st = apps.stateful_sets(namespace).get(STS)
        s = st.get("status") or {}
        assert s.get("observedGeneration") == metav1.get_generation(st), s
        assert s.get("updatedReplicas") == 3 and s.get("currentRevision") == s.get("updateRevision"), s
        images = {p["spec"]["containers"][0]["image"] for p in core.pods(namespace).list()["items"]}
        assert images == {OTHER_BTCD_IMAGE}, images
        return True

    wait_for(rolled_out, 3 * CONVERGE, 1.0, "every pod to run the new image")
    _wait_converged(admin_client, namespace, 3)

    # At least one more full sync (the status follows a freshly mined block),
    # and it changed nothing: no second template write, no Service update,
    # no new Secret (in particular no second RPC certificate).
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, [0, 1, 2])
    tip = rpc.mine(0, 1)[-1]
    _wait_status(
        admin_client,
        namespace,
        lambda s: s.converged and all(n.best_block_hash == tip for n in s.nodes),
        "a sync after the roll-out",
    )
    assert metav1.get_generation(apps.stateful_sets(namespace).get(STS)) == sts_generation
    assert metav1.get_resource_version(core.services(namespace).get(SVC)) == svc_rv
    assert metav1.get_resource_version(core.secrets(namespace).get(TLS_SECRET)) == tls_rv
    assert list_names(admin_client, "secrets", namespace) == secrets_before
    assert list_names(admin_client, "statefulsets", namespace) == [STS]
    assert list_names(admin_client, "services", namespace) == [SVC]
    assert "StatefulSetUpdated" in _event_reasons(admin_client, namespace)


# --------------------------------------------------------------------------- 6. hand edits


@pytest.mark.timeout(300)
def test_hand_edited_replicas_are_restored_integration(admin_client, ctl, namespace):
    _start_network(admin_client, namespace, 2)
    statefulsets = admin_client.apps_v1().stateful_sets(namespace)

    statefulsets.patch(STS, {"spec": {"replicas": 5}})

    wait_for(lambda: statefulsets.get(STS)["spec"]["replicas"] == 2, CONVERGE, 0.25, "replicas restored to 2")

    def only_two_pods() -> bool:
        names = list_names(admin_client, "pods", namespace)
        assert names == [f"{STS}-0", f"{STS}-1"], names
        return True

    wait_for(only_two_pods, CONVERGE, 0.5, "the extra pods to go")
    _wait_converged(admin_client, namespace, 2)
    scaled = _event_reasons(admin_client, namespace).get("Scaled")
    assert scaled is not None and "from 5 to 2" in scaled["message"], scaled


# --------------------------------------------------------------------------- 7. credentials


@pytest.mark.timeout(300)
def test_missing_secret_blocks_until_created_integration(admin_client, ctl, namespace):
    network = create_network(admin_client, namespace, NETWORK, 2)

    status = _wait_status(
        admin_client,
        namespace,
        lambda s: s.condition("Ready") is not None and s.condition("Ready").reason == "SecretNotFound",
        "Ready False with reason SecretNotFound",
    )
    ready = status.condition("Ready")
    assert ready.status == "False" and DEFAULT_SECRET in ready.message, ready
    event = wait_for(
        lambda: _event_reasons(admin_client, namespace).get("SecretNotFound"), 30, 0.5, "a SecretNotFound event"
    )
    assert event["type"] == "Warning" and DEFAULT_SECRET in event["message"]
    assert event["involvedObject"]["kind"] == "BitcoinNetwork"
    assert event["involvedObject"]["uid"] == metav1.get_uid(network)
    # No daemon is ever started with unknown credentials.
    assert list_names(admin_client, "statefulsets", namespace) == []
    assert list_names(admin_client, "pods", namespace) == []

    create_credentials_secret(admin_client, namespace)

    _wait_converged(admin_client, namespace, 2)
    _wait_mesh(NetworkRPC(admin_client, namespace, NETWORK), [0, 1])
    _assert_no_credentials_in_events(admin_client, namespace)


@pytest.mark.timeout(120)
def test_secret_outside_rbac_is_forbidden_integration(admin_client, ctl, namespace):
    # The ClusterRole names the Secrets the controller may read; any other
    # name is denied even though the Secret exists (the controller really
    # runs as its ServiceAccount).
    create_credentials_secret(admin_client, namespace, name="custom-credentials")
    create_network(admin_client, namespace, NETWORK, 1, secret="custom-credentials")

    status = _wait_status(
        admin_client,
        namespace,
        lambda s: s.condition("Ready") is not None and s.condition("Ready").reason == "SecretForbidden",
        "Ready False with reason SecretForbidden",
    )
    assert "custom-credentials" in status.condition("Ready").message
    event = wait_for(
        lambda: _event_reasons(admin_client, namespace).get("SecretForbidden"), 30, 0.5, "a SecretForbidden event"
    )
    assert event["type"] == "Warning"
    assert list_names(admin_client, "statefulsets", namespace) == []


# --------------------------------------------------------------------------- 8. bad input


BAD_SPECS = [
    pytest.param({"nodes": -1, "implementation": "btcd"}, "spec.nodes", "greater than or equal to 0", id="negative"),
    pytest.param({"nodes": 1000, "implementation": "btcd"}, "spec.nodes", "less than or equal to 32", id="too-many"),
    pytest.param({"nodes": 3, "implementation": "foo"}, "spec.implementation", 'Unsupported value: "foo"',
                 id="implementation"),
    pytest.param({"nodes": "three", "implementation": "btcd"}, "spec.nodes", "must be of type integer",
                 id="wrong-type"),
    pytest.param({"implementation": "btcd"}, "spec.nodes", "Required value", id="missing-nodes"),
    pytest.param({"nodes": 1, "implementation": "bitcoind", "version": "0.16.3"}, "spec.version", "should match",
                 id="version-before-sections"),
    pytest.param({"nodes": 1, "implementation": "btcd", "version": "30.2"}, "spec",
                 "version is only for implementation bitcoind", id="version-for-btcd"),
]


def _rejected(client: Clientset, namespace: str, name: str, spec: dict[str, Any]) -> errors.StatusError:
    obj = {"apiVersion": "bitcoincontroller.dev/v1", "kind": "BitcoinNetwork", "metadata": {"name": name},
           "spec": spec}
    with pytest.raises(errors.InvalidError) as info:
        _networks(client, namespace).create(obj)
    return info.value


@pytest.mark.timeout(60)
@pytest.mark.parametrize(("spec", "field", "text"), BAD_SPECS)
def test_bad_spec_is_rejected_by_the_api_server_integration(admin_client, ctl, namespace, spec, field, text):
    err = _rejected(admin_client, namespace, "bad", spec)

    assert err.code == 422
    causes = {(c.get("field"), c.get("message", "")) for c in (err.status.get("details") or {}).get("causes", [])}
    assert any(f == field and text in m for f, m in causes), causes
    assert text in str(err)
    # Nothing half-created: the API server stored nothing, so the controller had nothing to act on.
    assert _networks(admin_client, namespace).list()["items"] == []
    assert list_names(admin_client, "statefulsets", namespace) == []
    assert list_names(admin_client, "services", namespace) == []


@pytest.mark.timeout(60)
def test_bad_names_and_implementation_switch_are_rejected_integration(admin_client, ctl, namespace):
    err = _rejected(admin_client, namespace, "n" * 49, {"nodes": 1, "implementation": "btcd"})
    # the schema's maxLength on metadata.name answers first (the CEL rule says the same)
    assert "48" in str(err) and "metadata.name" in str(err), str(err)

    create_network(admin_client, namespace, "valid", 0)
    with pytest.raises(errors.InvalidError) as info:
        _networks(admin_client, namespace).patch("valid", {"spec": {"implementation": "bitcoind"}})
    assert "implementation is immutable" in str(info.value)
    assert _networks(admin_client, namespace).get("valid")["spec"]["implementation"] == "btcd"
    assert [metav1.get_name(n) for n in _networks(admin_client, namespace).list()["items"]] == ["valid"]


@pytest.mark.timeout(120)
def test_bitcoind_config_secret_is_created_and_rotation_rolls_the_template_integration(
    admin_client, ctl, namespace
):
    """As its ServiceAccount, the controller creates the owned config Secret and re-creates it on rotation.

    The image is a ``localhost/`` name that nothing serves, so no pull leaves
    the machine; the pods never run (no Bitcoin Core here) and are not waited for.
    """
    import hashlib
    import hmac

    secret = create_credentials_secret(admin_client, namespace)
    obj = harness.new_network(NETWORK, 1, implementation="bitcoind", image="localhost/bitcoind:29.3")
    obj["metadata"]["namespace"] = namespace
    obj["spec"]["version"] = "29.3"
    _networks(admin_client, namespace).create(obj)
    statefulsets = admin_client.apps_v1().stateful_sets(namespace)
    secrets = admin_client.core_v1().secrets(namespace)

    def mounted() -> str | None:
        try:
            sts = statefulsets.get(f"{NETWORK}-sts")
        except errors.NotFoundError:
            return None
        volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
        return volumes.get("bitcoin-conf", {}).get("secret", {}).get("secretName")

    def rpcauth_admits(name: str, password: str) -> bool:
        conf = base64.b64decode(secrets.get(name)["data"]["bitcoin.conf"]).decode()
        (value,) = [line[len("rpcauth="):] for line in conf.splitlines() if line.startswith("rpcauth=")]
        user, rest = value.split(":", 1)
        salt, digest = rest.split("$", 1)
        return hmac.compare_digest(hmac.new(salt.encode(), password.encode(), hashlib.sha256).hexdigest(), digest)

    first = wait_for(mounted, 60, 0.5, "the StatefulSet mounting a config Secret")
    created = secrets.get(first)
    assert created["type"] == "Opaque" and created["immutable"] is True
    assert metav1.get_controller_of(created)["kind"] == "BitcoinNetwork"
    assert rpcauth_admits(first, TEST_RPC_PASSWORD)
    container = statefulsets.get(f"{NETWORK}-sts")["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["bitcoind"] and "envFrom" not in container
    assert TEST_RPC_PASSWORD not in str(statefulsets.get(f"{NETWORK}-sts"))

    secret["data"]["BC_RPC_PASSWORD"] = base64.b64encode(b"rotated-Pa55word").decode()
    secrets.update(secret)
    second = wait_for(lambda: (mounted() if mounted() != first else None), 60, 0.5, "a new config Secret")
    assert rpcauth_admits(second, "rotated-Pa55word") and not rpcauth_admits(second, TEST_RPC_PASSWORD)
    assert "ConfigSecretCreated" in _event_reasons(admin_client, namespace)
    _assert_no_credentials_in_events(admin_client, namespace)


# --------------------------------------------------------------------------- 9. restarts


@pytest.mark.timeout(420)
def test_converges_across_controller_and_apiserver_restarts_integration(admin_client, ctl, namespace, cluster):
    create_credentials_secret(admin_client, namespace)
    create_network(admin_client, namespace, NETWORK, 3)
    networks = _networks(admin_client, namespace)
    statefulsets = admin_client.apps_v1().stateful_sets(namespace)

    # SIGKILL mid-convergence: the StatefulSet exists, the mesh cannot have formed yet.
    wait_for(lambda: statefulsets.get(STS), CONVERGE, 0.1, "the StatefulSet to be created")
    assert ctl.kill() == -9
    # A change the dead controller never sees as an event: the new process's initial list must.
    networks.patch(NETWORK, {"spec": {"nodes": 4}})
    ctl.start()
    _wait_converged(admin_client, namespace, 4)

    # A graceful stop drains and exits 0, and a new process finds nothing to redo.
    assert ctl.stop() == 0
    ctl.start()
    _wait_converged(admin_client, namespace, 4)

    if cluster.local is not None:
        # Restarting the API server while the namespace controller deletes a
        # namespace can leave custom resources behind in a namespace that no
        # longer exists (for a moment after the restart the CRD is missing
        # from discovery, so nothing of that kind is deleted): let them finish.
        _wait_no_other_namespace_terminating(admin_client, namespace)
        # Mid-convergence again, every watch connection of the controller is
        # cut; the fresh API server's watch cache starts at the current
        # revision, so the reflectors must relist.
        networks.patch(NETWORK, {"spec": {"nodes": 3}})
        cluster.local.restart_apiserver()
        _wait_converged(admin_client, namespace, 3)
        assert ctl.running, ctl.tail()
        # Only re-established watches (not the periodic resync, which replays
        # the cache) deliver this change.
        networks.patch(NETWORK, {"spec": {"nodes": 2}})
        _wait_converged(admin_client, namespace, 2)
        wait_for(lambda: statefulsets.get(STS)["spec"]["replicas"] == 2, 30, 0.25, "replicas 2")
    nodes = 2 if cluster.local is not None else 4

    assert list_names(admin_client, "statefulsets", namespace) == [STS]
    assert list_names(admin_client, "services", namespace) == [SVC]
    assert list_names(admin_client, "secrets", namespace) == sorted([DEFAULT_SECRET, TLS_SECRET])
    reasons = _event_reasons(admin_client, namespace)
    assert "TLSSecretUnknown" not in reasons and "ErrResourceExists" not in reasons, sorted(reasons)
    assert reasons["TLSSecretCreated"].get("count", 1) == 1
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, list(range(nodes)))
    tip = rpc.mine(0, 1)[-1]
    assert _wait_heights(rpc, list(range(nodes)), 1) == tip


# --------------------------------------------------------------------------- 10. delete


@pytest.mark.timeout(300)
def test_deleting_the_network_removes_everything_integration(admin_client, ctl, namespace, cluster):
    _start_network(admin_client, namespace, 2)
    rpc = NetworkRPC(admin_client, namespace, NETWORK)
    _wait_mesh(rpc, [0, 1])
    sessions = [rpc.session(i) for i in (0, 1)]
    uids = [metav1.get_uid(p) for p in admin_client.core_v1().pods(namespace).list()["items"]]
    assert len(uids) == 2
    gauge = f'bitcoin_network_nodes_desired{{namespace="{namespace}",network="{NETWORK}"}}'
    assert gauge in ctl.metrics()

    _networks(admin_client, namespace).delete(NETWORK)

    def collected() -> bool:
        left = {r: list_names(admin_client, r, namespace) for r in ("statefulsets", "services", "pods")}
        left["secrets"] = [s for s in list_names(admin_client, "secrets", namespace) if s != DEFAULT_SECRET]
        assert not any(left.values()), left
        return True

    wait_for(collected, CONVERGE, 0.5, "garbage collection of the StatefulSet, Service, pods and TLS Secret")
    with pytest.raises(errors.NotFoundError):
        _networks(admin_client, namespace).get(NETWORK)
    # The user's credential Secret is not the network's: it stays.
    assert admin_client.core_v1().secrets(namespace).get(DEFAULT_SECRET)

    def daemons_gone() -> bool:
        for client, config in sessions:
            try:
                client.get_block_count(config)
            except RPCConnectionError:
                continue
            raise AssertionError(f"{config.endpoint} still answers RPC")
        return True

    wait_for(daemons_gone, 60, 0.5, "the daemons to stop answering RPC")
    if cluster.local is not None:
        records = cluster.local.run_dir / "pods"
        left = [uid for uid in uids if any(records.glob(f"{uid}_*.json"))]
        assert left == [], f"the pod runner still tracks processes of pods {left}"
    wait_for(lambda: gauge not in ctl.metrics(), 30, 0.5, "the network's gauges to be dropped")


# --------------------------------------------------------------------------- credentials never leak


def test_credentials_never_logged_integration(controller):
    # Runs last in this module: by now the controller has synced every network above.
    logs = controller.logs()
    assert "sync" in logs or "caches synced" in logs, "no controller output captured"
    assert TEST_RPC_PASSWORD not in logs
    assert base64.b64encode(TEST_RPC_PASSWORD.encode()).decode() not in logs
