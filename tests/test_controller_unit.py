"""Unit tests of the BitcoinNetwork controller's sync handler (sample-controller style)."""

from __future__ import annotations

import base64
import copy
import io
import json

import pytest
from controller_fixture import (
    NAMESPACE,
    PASSWORD,
    USER,
    Fixture,
    desired_objects,
    new_network,
    new_pod,
    new_secret,
    with_certificate,
)
from fake_bitcoin import unreachable

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.clientgo.tools.cache import DeletedFinalStateUnknown
from bitcoin_controller.controller import POLL_INTERVAL, SyncError
from bitcoin_controller.controller import resources as res
from bitcoin_controller.controller.controller import _owned_object_handlers
from bitcoin_controller.logs import configure_logging

KEY = f"{NAMESPACE}/net"
IPS = ["127.0.100.1", "127.0.100.2", "127.0.100.3"]


def converged_fixture(nodes: int = 3, implementation: str = "btcd") -> tuple[Fixture, dict]:
    """A network whose Service, StatefulSet and ready pods exist (status not yet written)."""
    f = Fixture()
    network = new_network(nodes=nodes, implementation=implementation)
    if implementation == "btcd":
        network = with_certificate(network)
    svc, sts = desired_objects(network)
    f.seed(network, svc, sts, new_secret())
    f.seed(*(new_pod(network, i, IPS[i]) for i in range(nodes)))
    return f, network


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def written_status(f: Fixture) -> dict:
    updates = [a for a in f.client.actions() if a.verb == "update" and a.subresource == "status"]
    assert updates, "the controller wrote no status"
    return updates[-1].object["status"]


# -- creating the owned objects ---------------------------------------------------


def test_creates_service_and_statefulset_unit():
    f = Fixture()
    network = new_network(implementation="bitcoind")
    f.seed(network, new_secret())
    f.sync()
    assert f.actions() == [
        ("create", "services", ""),
        ("create", "secrets", ""),  # the rendered bitcoin.conf
        ("create", "statefulsets", ""),
        ("update", "bitcoinnetworks", "status"),
    ]
    svc, sts = desired_objects(network)
    created_svc = f.action_objects("create", "services")[0]
    created_sts = f.action_objects("create", "statefulsets")[0]
    assert created_svc["spec"] == svc["spec"]
    assert created_sts["spec"] == sts["spec"]
    for obj in (created_svc, created_sts):
        ref = obj["metadata"]["ownerReferences"][0]
        assert (ref["kind"], ref["uid"], ref["controller"]) == ("BitcoinNetwork", "uid-net", True)
        assert obj["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "bitcoin-controller"
    container = created_sts["spec"]["template"]["spec"]["containers"][0]
    # bitcoind reads the rendered config; the credentials never reach its pods.
    assert "envFrom" not in container
    assert container["command"] == ["bitcoind"]
    created = (created_svc, created_sts, *f.action_objects("create", "secrets"))
    assert not any(PASSWORD in json.dumps(o) for o in created)
    events = f.events()
    assert any(e.startswith("Normal ServiceCreated") for e in events)
    assert any(e.startswith("Normal StatefulSetCreated") for e in events)
    status = written_status(f)
    assert status["observedGeneration"] == 1
    assert status["readyNodes"] == 0
    assert conditions(status) == {
        "Ready": ("False", "NodesNotReady"),
        "Connected": ("Unknown", "NoReadyNodes"),
        "Synced": ("Unknown", "NoReadyNodes"),
    }


def test_btcd_network_gets_tls_secret_and_pins_it_unit():
    f = Fixture()
    network = new_network(implementation="btcd")
    f.seed(network, new_secret())
    f.sync()
    created = f.action_objects("create", "secrets")
    assert len(created) == 1
    tls = created[0]
    assert tls["metadata"]["name"] == "net-rpc-tls" and tls["type"] == "kubernetes.io/tls"
    assert tls["metadata"]["ownerReferences"][0]["uid"] == "uid-net"
    status = written_status(f)
    import base64

    assert status["rpcCertificate"] == base64.b64decode(tls["data"]["tls.crt"]).decode()
    assert "PRIVATE KEY" not in json.dumps(status)
    sts = f.action_objects("create", "statefulsets")[0]
    volumes = sts["spec"]["template"]["spec"]["volumes"]
    assert {"name": "rpc-tls", "secret": {"secretName": "net-rpc-tls", "defaultMode": 0o440}} in volumes


def test_btcd_certificate_is_not_reissued_unit():
    f, network = converged_fixture()
    f.sync()
    assert f.action_objects("create", "secrets") == []
    pinned = {c[3] for c in f.bitcoin.connects}
    assert pinned == {network["status"]["rpcCertificate"]}


def test_tls_secret_that_exists_without_recorded_certificate_is_reported_unit():
    f = Fixture()
    network = new_network(implementation="btcd")
    f.seed(network, new_secret())
    f.seed({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "net-rpc-tls", "namespace": NAMESPACE},
            "data": {}}, cache=False)
    with pytest.raises(SyncError, match="net-rpc-tls"):
        f.sync()
    assert any(e.startswith("Warning TLSSecretUnknown") for e in f.events())
    assert f.action_objects("create", "statefulsets") == []
    # Reported in the conditions too, like every problem only the user can fix.
    assert conditions(written_status(f))["Ready"] == ("False", "TLSSecretUnknown")


def test_tls_secret_of_our_own_previous_sync_is_not_reported_while_the_cache_lags_unit():
    # The previous sync created the Secret and recorded its certificate; the
    # informer has not yet delivered that status update.
    f = Fixture()
    stale = new_network(implementation="btcd")
    current = with_certificate(stale)
    current["metadata"]["resourceVersion"] = "11"
    pem = current["status"]["rpcCertificate"]
    svc, sts = desired_objects(current)
    f.seed(current, res.new_tls_secret(current, pem.encode(), b"key"), cache=False)
    f.seed(svc, sts, new_secret(), *(new_pod(current, i, IPS[i]) for i in range(3)))
    f.networks.append(copy.deepcopy(stale))

    f.sync()

    assert not any("TLSSecretUnknown" in e for e in f.events())
    kept = f.client.core_v1().secrets(NAMESPACE).get("net-rpc-tls")  # the create was refused, nothing replaced
    assert base64.b64decode(kept["data"]["tls.crt"]).decode() == pem
    assert {c[3] for c in f.bitcoin.connects} == {pem}
    status = written_status(f)
    assert status["rpcCertificate"] == pem
    update = [a for a in f.client.actions() if a.verb == "update" and a.subresource == "status"][-1]
    assert update.object["metadata"]["resourceVersion"] == "11"  # written over the current object: no conflict


# -- steady state, scaling, drift ---------------------------------------------------


def feed_back_status(f: Fixture, network: dict) -> dict:
    """Put the status the controller just wrote into the API server and the cache."""
    network = copy.deepcopy(network)
    network["status"] = written_status(f)
    f.networks = [network]
    f.api_objects = [o for o in f.api_objects if o["kind"] != "BitcoinNetwork"] + [network]
    return network


def test_steady_state_makes_no_writes_unit():
    f, network = converged_fixture()
    assert f.sync() is None
    assert conditions(written_status(f)) == {
        "Ready": ("True", "AllNodesReady"),
        "Connected": ("True", "PeersConnected"),
        "Synced": ("True", "SameBestBlock"),
    }
    # Peer counts read while the others were still dialling may change once;
    # after that the network is in a steady state.
    network = feed_back_status(f, network)
    f.sync()
    if ("update", "bitcoinnetworks", "status") in f.actions():
        network = feed_back_status(f, network)
    f.bitcoin.calls.clear()
    assert f.sync() is None
    assert f.actions() == []  # the credential Secret comes from its watch
    assert f.bitcoin.writes() == []
    assert {c[1] for c in f.bitcoin.calls} == {"get_blockchain_info", "added_node_addresses", "get_peer_info"}
    assert len(f.bitcoin.calls) == 9  # 3 reads per node, the documented steady-state cost
    assert not any("PeersAdded" in e for e in f.events())


@pytest.mark.parametrize("wanted", [5, 1])
def test_scales_statefulset_to_spec_unit(wanted):
    f = Fixture()
    network = with_certificate(new_network(nodes=wanted))
    svc, sts = desired_objects(network)
    sts["spec"]["replicas"] = 3
    f.seed(network, svc, sts, new_secret())
    f.sync()
    updates = f.action_objects("update", "statefulsets")
    assert len(updates) == 1 and updates[0]["spec"]["replicas"] == wanted
    assert updates[0]["metadata"]["resourceVersion"] == "20"  # optimistic concurrency kept
    assert any(e.startswith(f"Normal Scaled Scaled StatefulSet \"net-sts\" from 3 to {wanted}") for e in f.events())


def test_corrects_pod_template_drift_unit():
    f = Fixture()
    network = with_certificate(new_network())
    svc, sts = desired_objects(network)
    sts["spec"]["template"]["spec"]["containers"][0]["image"] = "someone/else:1"
    f.seed(network, svc, sts, new_secret())
    f.sync()
    updates = f.action_objects("update", "statefulsets")
    assert len(updates) == 1
    assert updates[0]["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/bitcoin-controller/btcd:v0.24.2"
    assert any("StatefulSetUpdated" in e and "image" in e for e in f.events())


def test_server_defaults_are_not_drift_unit():
    f = Fixture()
    network = with_certificate(new_network(resources={"requests": {"cpu": "0.5", "memory": "256Mi"}}))
    svc, sts = desired_objects(network)
    container = sts["spec"]["template"]["spec"]["containers"][0]
    container["terminationMessagePath"] = "/dev/termination-log"
    container["resources"]["requests"]["cpu"] = "500m"  # canonical form written back by the server
    sts["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    sts["spec"]["revisionHistoryLimit"] = 10
    svc["spec"]["sessionAffinity"] = "None"
    f.seed(network, svc, sts, new_secret())
    f.sync()
    assert f.action_objects("update", "statefulsets") == []
    assert f.action_objects("update", "services") == []


def test_removing_resources_is_drift_unit():
    f = Fixture()
    network = with_certificate(new_network())
    svc, sts = desired_objects(network)
    sts["spec"]["template"]["spec"]["containers"][0]["resources"] = {"limits": {"cpu": "1"}}
    f.seed(network, svc, sts, new_secret())
    f.sync()
    (update,) = f.action_objects("update", "statefulsets")
    assert "resources" not in update["spec"]["template"]["spec"]["containers"][0]


def test_foreign_service_is_left_alone_and_reported_unit():
    f = Fixture()
    network = new_network()
    svc, _ = desired_objects(network)
    del svc["metadata"]["ownerReferences"]
    f.seed(network, svc, new_secret())
    with pytest.raises(SyncError, match="not managed by this BitcoinNetwork"):
        f.sync()
    assert ("update", "services", "") not in f.actions()
    assert ("create", "statefulsets", "") not in f.actions()
    assert any(e.startswith("Warning ErrResourceExists") for e in f.events())
    assert conditions(written_status(f))["Ready"] == ("False", "ErrResourceExists")


def test_network_being_deleted_is_left_to_garbage_collection_unit():
    f = Fixture()
    network = new_network()
    network["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    f.seed(network, new_secret())
    assert f.sync() is None
    assert f.actions() == []


def test_network_gone_is_nothing_to_do_unit():
    f = Fixture()
    assert f.sync("default/missing") is None
    assert f.actions() == []


def test_invalid_spec_is_reported_not_retried_unit():
    f = Fixture()
    network = new_network(nodes=40)
    f.seed(network, new_secret())
    assert f.sync() is None
    assert ("create", "statefulsets", "") not in f.actions()
    assert any(e.startswith("Warning InvalidSpec") for e in f.events())
    assert conditions(written_status(f))["Ready"] == ("False", "InvalidSpec")


# -- credentials --------------------------------------------------------------------


def test_missing_secret_starts_no_pods_unit():
    f = Fixture()
    f.seed(new_network())
    with pytest.raises(SyncError, match="does not exist"):
        f.sync()
    assert ("create", "statefulsets", "") not in f.actions()
    assert any(e.startswith("Warning SecretNotFound") for e in f.events())
    assert conditions(written_status(f))["Ready"] == ("False", "SecretNotFound")


def test_incomplete_secret_is_invalid_unit():
    f = Fixture()
    f.seed(new_network(), new_secret(password=None))
    with pytest.raises(SyncError, match="BC_RPC_PASSWORD"):
        f.sync()
    assert ("create", "statefulsets", "") not in f.actions()
    assert any(e.startswith("Warning SecretInvalid") for e in f.events())


def test_forbidden_secret_says_how_to_allow_it_unit():
    f = Fixture()
    f.seed(new_network(), new_secret())
    controller = f.new_controller()
    f.client.prepend_reactor(
        "list", "secrets", lambda action: (True, None, errors.new_forbidden("secrets", "creds", "RBAC"))
    )
    with pytest.raises(SyncError, match="credentialSecretNames"):
        controller.sync_handler(KEY)
    assert any(e.startswith("Warning SecretForbidden") for e in f.events())


def test_credentials_never_leak_unit():
    f, _ = converged_fixture()
    f.bitcoin.node(IPS[1]).fail = unreachable(IPS[1])
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    try:
        controller = f.new_controller()
        f.controller.workqueue.add(KEY)
        controller.process_next_work_item()
    finally:
        configure_logging("console", "info")
    events = " ".join(f.events())
    status = json.dumps(written_status(f))
    actions = json.dumps([getattr(a, "object", None) for a in f.client.actions()])
    for text in (out.getvalue(), events, status, actions):
        assert PASSWORD not in text
    assert "RPCConnectionError" in events  # the failure itself is reported
    assert f.bitcoin.connects and all(c[2] == USER for c in f.bitcoin.connects)


# -- the mesh -----------------------------------------------------------------------


def test_mesh_connects_every_ready_node_to_the_others_unit():
    f, network = converged_fixture()
    f.sync()
    for ip in IPS:
        assert sorted(f.bitcoin.nodes[ip].added) == sorted(f"{o}:18444" for o in IPS if o != ip)
    assert any(e.startswith("Normal PeersAdded") for e in f.events())
    feed_back_status(f, network)
    f.sync()  # peers read while others were still dialling settle on the next sync
    status = written_status(f)
    assert [n["peers"] for n in status["nodes"]] == [4, 4, 4]  # 2 outbound + 2 inbound each
    assert [n["ip"] for n in status["nodes"]] == IPS
    assert status["nodes"][0]["dnsName"] == "net-sts-0.net-svc.default.svc.cluster.local"


def test_mesh_is_idempotent_unit():
    f, _ = converged_fixture()
    f.sync()
    first = len(f.bitcoin.writes())
    f.sync()
    assert len(f.bitcoin.writes()) == first


def test_mesh_removes_addresses_of_gone_nodes_unit():
    f, _ = converged_fixture(nodes=2)
    f.bitcoin.node(IPS[0]).added.append("127.0.100.99:18444")  # a node re-created elsewhere
    f.sync()
    assert ("127.0.100.1", "remove_node", ("127.0.100.99:18444",)) in f.bitcoin.calls
    assert "127.0.100.99:18444" not in f.bitcoin.nodes[IPS[0]].added
    assert any(e.startswith("Normal PeersRemoved") for e in f.events())


def test_not_ready_nodes_are_not_meshed_unit():
    f = Fixture()
    network = with_certificate(new_network())
    svc, sts = desired_objects(network)
    f.seed(network, svc, sts, new_secret(), new_pod(network, 0, IPS[0]), new_pod(network, 1, IPS[1], ready=False))
    f.sync()
    assert IPS[1] not in {c[0] for c in f.bitcoin.calls}
    assert f.bitcoin.nodes[IPS[0]].added == []
    assert conditions(written_status(f))["Ready"] == ("False", "NodesNotReady")


def test_pods_beyond_spec_are_ignored_unit():
    f, network = converged_fixture(nodes=2)
    f.seed(new_pod(network, 2, IPS[2]))  # left over from a scale-down
    f.sync()
    assert IPS[2] not in {c[0] for c in f.bitcoin.calls}
    assert [n["ordinal"] for n in written_status(f)["nodes"]] == [0, 1]


def test_rpc_failure_is_reported_and_retried_unit():
    f, _ = converged_fixture()
    f.bitcoin.node(IPS[2]).fail = unreachable(IPS[2])
    controller = f.new_controller()
    controller.workqueue.add(KEY)
    assert controller.process_next_work_item()
    assert controller.workqueue.num_requeues(KEY) == 1  # add_rate_limited
    status = written_status(f)
    assert conditions(status)["Connected"] == ("Unknown", "RPCError")
    assert "node 2" in next(c["message"] for c in status["conditions"] if c["type"] == "Connected")
    # The healthy nodes were still connected to each other.
    assert f.bitcoin.nodes[IPS[0]].added == [f"{IPS[1]}:18444", f"{IPS[2]}:18444"]
    assert any(e.startswith("Warning RPCError") for e in f.events())


def test_success_forgets_backoff_unit():
    f, _ = converged_fixture()
    controller = f.new_controller()
    controller.workqueue.add_rate_limited(KEY)
    f.clock.step(1)
    key, _ = controller.workqueue.get()
    controller.workqueue.done(key)
    controller.workqueue.add(KEY)
    assert controller.process_next_work_item()
    assert controller.workqueue.num_requeues(KEY) == 0


def test_polls_while_ready_nodes_are_not_yet_connected_unit():
    f, _ = converged_fixture()
    # Node 2's daemon accepts RPC but nobody can connect to it yet.
    original = f.bitcoin.peers_of
    f.bitcoin.peers_of = lambda ip: [p for p in original(ip) if IPS[2] not in p.address] if ip != IPS[2] else []
    assert f.sync() == POLL_INTERVAL
    assert conditions(written_status(f))["Connected"][0] == "False"


def test_synced_event_only_on_convergence_unit():
    f, network = converged_fixture()
    f.sync()
    assert sum(e.startswith("Normal Synced") for e in f.events()) == 1
    feed_back_status(f, network)
    f.sync()
    assert not any(e.startswith("Normal Synced") for e in f.events())


# -- event handlers -----------------------------------------------------------------


def test_owned_objects_map_to_their_network_unit():
    f, network = converged_fixture()
    controller = f.new_controller()
    _, sts = desired_objects(network)
    controller.handle_object(sts)
    assert controller.workqueue.len() == 1
    key, _ = controller.workqueue.get()
    assert key == KEY
    controller.workqueue.done(key)
    controller.handle_object(DeletedFinalStateUnknown("default/net-sts", sts))
    assert controller.workqueue.len() == 1


def test_pods_map_through_their_statefulset_unit():
    f, network = converged_fixture()
    controller = f.new_controller()
    controller.handle_pod(new_pod(network, 0, IPS[0]))
    key, _ = controller.workqueue.get()
    assert key == KEY


def test_unrelated_and_resync_events_enqueue_nothing_unit():
    f, network = converged_fixture()
    controller = f.new_controller()
    svc, sts = desired_objects(network)
    pod = new_pod(network, 0, IPS[0])
    _owned_object_handlers(controller.handle_object).on_update(sts, sts)  # pure resync: same resourceVersion
    _owned_object_handlers(controller.handle_pod).on_update(pod, pod)
    orphan = copy.deepcopy(svc)
    orphan["metadata"]["ownerReferences"][0]["uid"] = "uid-of-an-older-network"
    controller.handle_object(orphan)
    foreign = copy.deepcopy(svc)
    foreign["metadata"]["ownerReferences"][0]["kind"] = "Deployment"
    controller.handle_object(foreign)
    controller.handle_object({"not": "an object"})
    # A StatefulSet of another API group with the same name is not ours to follow.
    other_group = copy.deepcopy(pod)
    other_group["metadata"]["ownerReferences"][0]["apiVersion"] = "example.com/v1"
    controller.handle_pod(other_group)
    assert controller.workqueue.len() == 0


def test_service_drift_in_ports_is_corrected_unit():
    f = Fixture()
    network = with_certificate(new_network())
    svc, sts = desired_objects(network)
    svc["spec"]["ports"] = svc["spec"]["ports"][:1]
    f.seed(network, svc, sts, new_secret())
    f.sync()
    (update,) = f.action_objects("update", "services")
    assert [p["name"] for p in update["spec"]["ports"]] == ["p2p", "rpc"]
    assert res.service_name("net") == update["metadata"]["name"]


# -- stalled block sync (btcd's sync peer) ------------------------------------------


class _Node:
    """A minimal NodeRPC at a fixed height that counts sync restarts."""

    def __init__(self, blocks: int, fail: Exception | None = None) -> None:
        self.blocks = blocks
        self.fail = fail
        self.restarts = 0

    def get_blockchain_info(self):
        from bitcoin_controller.bitcoin.results import BlockchainInfo

        if self.fail is not None:
            raise self.fail
        return BlockchainInfo(chain="regtest", blocks=self.blocks, headers=self.blocks,
                              best_block_hash=f"{self.blocks:064x}")  # status takes 64 hex digits only

    def get_peer_info(self):
        return []

    def added_node_addresses(self):
        return []

    def add_node(self, address):
        pass

    def remove_node(self, address):
        pass

    def restart_stalled_sync(self):
        self.restarts += 1
        return True

    # A node that ignores handed blocks, so it stays stalled for these tests.
    def block_hash(self, height):
        return f"hash-{height}"

    def raw_block(self, block_hash):
        return "raw-" + block_hash

    def submit_block(self, block_hex):
        self.submitted = getattr(self, "submitted", []) + [block_hex]
        return None


def _mesh_at(daemons: list[_Node], memory, now):
    from concurrent.futures import ThreadPoolExecutor

    from bitcoin_controller.controller.mesh import reconcile_mesh
    from bitcoin_controller.controller.status import NodeObservation

    nodes = [
        NodeObservation(ordinal=i, pod_name=f"net-sts-{i}", ip=IPS[i], pod_ready=True, dns_name="")
        for i in range(len(daemons))
    ]
    instances = {i: f"uid-{i}/0" for i in range(len(daemons))}
    with ThreadPoolExecutor(2) as pool:
        return reconcile_mesh(nodes, instances, lambda n: daemons[n.ordinal], pool, 18444, memory, now=now)


def test_node_stuck_behind_gets_its_sync_restarted_once_per_period_unit():
    from bitcoin_controller.controller.mesh import STALL_AFTER, MeshMemory

    memory = MeshMemory()
    miner, stuck = _Node(1), _Node(0)
    assert _mesh_at([miner, stuck], memory, 100.0).sync_restarted == []
    assert _mesh_at([miner, stuck], memory, 100.0 + STALL_AFTER - 0.1).sync_restarted == []
    assert _mesh_at([miner, stuck], memory, 100.0 + STALL_AFTER).sync_restarted == [1]
    assert (miner.restarts, stuck.restarts) == (0, 1)
    assert stuck.submitted == ["raw-hash-1"]  # the missing block, handed over from the miner
    # The new sync peer gets a whole period (from the next look) before the node is judged again.
    assert _mesh_at([miner, stuck], memory, 100.0 + STALL_AFTER + 1).sync_restarted == []
    assert _mesh_at([miner, stuck], memory, 100.0 + 2 * STALL_AFTER + 0.9).sync_restarted == []
    assert _mesh_at([miner, stuck], memory, 100.0 + 2 * STALL_AFTER + 1).sync_restarted == [1]
    assert stuck.restarts == 2


def test_node_that_moves_or_catches_up_is_not_stalled_unit():
    from bitcoin_controller.controller.mesh import STALL_AFTER, MeshMemory

    memory = MeshMemory()
    miner, syncing = _Node(10), _Node(0)
    _mesh_at([miner, syncing], memory, 0.0)
    syncing.blocks = 4  # downloading: a new height starts a new clock
    assert _mesh_at([miner, syncing], memory, STALL_AFTER).sync_restarted == []
    syncing.blocks = 10
    assert _mesh_at([miner, syncing], memory, 2 * STALL_AFTER).sync_restarted == []
    miner.blocks = 11  # behind again, but only just now
    assert _mesh_at([miner, syncing], memory, 2 * STALL_AFTER + 1).sync_restarted == []
    assert syncing.restarts == 0
    # Without a clock reading the step is skipped entirely (callers that don't opt in).
    assert _mesh_at([miner, syncing], memory, None).sync_restarted == []


def test_node_whose_rpc_fails_is_not_judged_stalled_unit():
    from bitcoin_controller.controller.mesh import STALL_AFTER, MeshMemory

    memory = MeshMemory()
    daemons = [_Node(5), _Node(0, fail=unreachable(IPS[1]))]
    _mesh_at(daemons, memory, 0.0)
    result = _mesh_at(daemons, memory, 2 * STALL_AFTER)
    assert result.sync_restarted == [] and daemons[1].restarts == 0
    assert len(result.errors) == 1 and result.errors[0].startswith("node 1:")


class _RecordingTransport:
    """An HTTPTransport that answers from a table and records the methods called."""

    def __init__(self, results: dict) -> None:
        self.results = results
        self.calls: list[tuple[str, list]] = []

    def request(self, method, url, body, headers, timeout, tls=None, **limits):
        request = json.loads(body)
        self.calls.append((request["method"], request["params"]))
        result = self.results.get(request["method"])
        return 200, json.dumps({"result": result, "error": None, "id": request["id"]}).encode()


@pytest.mark.parametrize(
    ("dialect", "peers", "expected_calls", "restarted"),
    [
        ("btcd",
         [{"id": 3, "addr": "127.0.0.1:40000", "inbound": True, "syncnode": False},
          {"id": 7, "addr": "127.0.0.1:40002", "inbound": True, "syncnode": True}],
         [("getpeerinfo", []), ("node", ["disconnect", "7"])], True),
        ("btcd", [{"id": 3, "addr": "127.0.100.9:18444", "inbound": False, "syncnode": False}],
         [("getpeerinfo", [])], False),
        ("bitcoind", [], [], False),
    ],
    ids=["btcd-sync-peer", "btcd-no-sync-peer", "bitcoind"],
)
def test_restart_stalled_sync_disconnects_only_btcds_sync_peer_unit(dialect, peers, expected_calls, restarted):
    from bitcoin_controller.bitcoin import BitcoinClient, Config
    from bitcoin_controller.controller.rpc import NodeSession

    transport = _RecordingTransport({"getpeerinfo": peers, "node": None})
    session = NodeSession(BitcoinClient(http=transport, dialect=dialect), Config("127.0.100.1", 18334, "u", "p"))
    assert session.restart_stalled_sync() is restarted
    assert transport.calls == expected_calls


def test_stale_cache_create_is_retried_quietly_unit():
    f = Fixture()
    network = with_certificate(new_network())
    svc, sts = desired_objects(network)
    f.seed(network, svc, new_secret())
    f.seed(sts, cache=False)  # created by our previous sync; the informer has not seen it yet
    controller = f.new_controller()
    controller.workqueue.add(KEY)
    controller.process_next_work_item()
    assert controller.workqueue.num_requeues(KEY) == 1
    assert not any(e.startswith("Warning") for e in f.events())


def test_terminating_namespace_drops_the_key_unit():
    f = Fixture()
    f.seed(new_network(implementation="bitcoind"), new_secret())
    controller = f.new_controller()
    refusal = errors.new_forbidden("services", "net-svc", "namespace default is being terminated")
    refusal.status["details"]["causes"] = [{"reason": "NamespaceTerminating", "message": "terminating"}]
    f.client.prepend_reactor("create", "services", lambda action: (True, None, refusal))
    controller.workqueue.add(KEY)
    controller.process_next_work_item()
    assert controller.workqueue.num_requeues(KEY) == 0
    assert controller.workqueue.len() == 0


class _Chain:
    """A NodeRPC holding a chain of block hashes; submit_block extends or reorganises it."""

    def __init__(self, hashes: list[str]) -> None:
        self.hashes = list(hashes)  # index = height
        self.submitted: list[str] = []

    def block_hash(self, height):
        return self.hashes[height]

    def raw_block(self, block_hash):
        return f"{self.hashes.index(block_hash)}:{block_hash}"

    def submit_block(self, block_hex):
        height, block_hash = block_hex.split(":")
        self.submitted.append(block_hash)
        self.hashes[int(height):] = [block_hash]
        return None


def test_relay_hands_over_missing_blocks_from_the_common_ancestor_unit():
    from bitcoin_controller.controller.mesh import relay_blocks

    best = _Chain(["g", "a1", "a2", "a3", "a4"])
    behind = _Chain(["g", "a1"])
    assert relay_blocks(best, behind, 1, 4) == 3
    assert behind.hashes == best.hashes
    forked = _Chain(["g", "a1", "b2"])  # mined its own block at height 2
    assert relay_blocks(best, forked, 2, 4) == 3
    assert forked.submitted == ["a2", "a3", "a4"] and forked.hashes == best.hashes


def test_relay_is_bounded_per_sync_unit():
    from bitcoin_controller.controller.mesh import RELAY_MAX, relay_blocks

    best = _Chain(["g"] + [f"a{i}" for i in range(1, RELAY_MAX + 51)])
    behind = _Chain(["g"])
    assert relay_blocks(best, behind, 0, RELAY_MAX + 50) == RELAY_MAX
    assert relay_blocks(best, behind, RELAY_MAX, RELAY_MAX + 50) == 50
    assert behind.hashes == best.hashes


def test_controller_hands_blocks_to_nodes_stuck_behind_unit():
    from bitcoin_controller.controller.mesh import STALL_AFTER

    f, _ = converged_fixture()
    for ip in IPS:
        f.bitcoin.node(ip)
    f.bitcoin.node(IPS[0]).blocks = 3  # mined, but P2P did not carry the blocks
    controller = f.new_controller()  # one controller: it remembers since when nodes lag
    controller.sync_handler(KEY)
    assert [f.bitcoin.nodes[ip].blocks for ip in IPS] == [3, 0, 0]
    f.clock.step(STALL_AFTER)
    with pytest.raises(errors.ConflictError):  # the cache still holds the network before our status write
        controller.sync_handler(KEY)
    assert [f.bitcoin.nodes[ip].blocks for ip in IPS] == [3, 3, 3]
    submitted = [(ip, args) for ip, method, args in f.bitcoin.calls if method == "submit_block"]
    assert sorted(submitted) == sorted((ip, (f"block-{h}",)) for ip in IPS[1:] for h in (1, 2, 3))


def test_deleted_network_is_synced_once_more_to_forget_its_metrics_unit():
    from bitcoin_controller.componentbase.metrics.legacyregistry import REGISTRY
    from bitcoin_controller.controller import metrics as controller_metrics

    def gauge() -> float | None:
        return REGISTRY.get_sample_value("bitcoin_network_nodes_desired", {"namespace": NAMESPACE, "network": "net"})

    f = Fixture()  # the network is already gone from the cache
    controller = f.new_controller()
    controller_metrics.set_network(NAMESPACE, "net", 3, {"readyNodes": 3, "bestHeight": 7})
    assert gauge() == 3
    # The delete handler only enqueues: a sync still running could set the gauges again.
    controller._network_deleted(DeletedFinalStateUnknown(KEY, new_network()))
    assert gauge() == 3
    key, _ = controller.workqueue.get()
    assert key == KEY
    assert controller.sync_handler(key) is None
    assert gauge() is None


def test_certificate_issued_in_a_sync_is_recorded_over_a_status_conflict_unit():
    # The cache holds an older network than the API server: the status write
    # conflicts.  A certificate cannot be issued twice (its Secret exists now),
    # so the write is retried over the network as stored, as RetryOnConflict does.
    f = Fixture()
    stale = new_network(implementation="btcd")
    current = copy.deepcopy(stale)
    current["metadata"]["resourceVersion"] = "11"
    f.seed(current, cache=False)
    f.seed(new_secret())
    f.networks.append(copy.deepcopy(stale))

    f.sync()

    (tls,) = f.action_objects("create", "secrets")
    stored = f.client.bitcoincontroller_v1().bitcoin_networks(NAMESPACE).get("net")
    assert stored["status"]["rpcCertificate"] == base64.b64decode(tls["data"]["tls.crt"]).decode()
    status_writes = [a for a in f.client.actions() if a.verb == "update" and a.subresource == "status"]
    assert [a.object["metadata"]["resourceVersion"] for a in status_writes] == ["10", "11"]


def test_status_names_each_nodes_pod_under_both_names_unit():
    f, _ = converged_fixture()
    f.sync()
    entries = written_status(f)["nodes"]
    assert [(e["podName"], e["nodeName"]) for e in entries] == [(f"net-sts-{i}",) * 2 for i in range(3)]
