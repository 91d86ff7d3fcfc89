"""The bitcoin.conf the controller renders for Bitcoin Core, against a fake Core.

No Bitcoin Core binary runs here; :mod:`fake_core` models how Core reads
the file (sections, the 0.19 section rule, whitelist syntax) and checks
``rpcauth`` as httprpc.cpp does, so these tests show that the rendered file
would start each release and let the controller's RPC client in.
"""

from __future__ import annotations

import base64
import copy
import json
import re

import pytest
from controller_fixture import (
    CREDENTIALS_VERSION,
    NAMESPACE,
    PASSWORD,
    USER,
    Fixture,
    config_secret_for,
    desired_objects,
    new_network,
    new_pod,
    new_secret,
)
from fake_core import FakeCoreDaemon, StartupError, rpcauth_accepts
from prometheus_client import CollectorRegistry
from waiting import wait_for

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.bitcoin import (
    AuthenticationError,
    BitcoinClient,
    Config,
    RPCError,
    RPCMetrics,
    Urllib3Transport,
)
from bitcoin_controller.controller import nodeconfig
from bitcoin_controller.controller.implementations import BITCOIND, CONF_PATH

KEY = f"{NAMESPACE}/net"
IPS = ["127.0.100.1", "127.0.100.2", "127.0.100.3"]
# Releases the rendering is checked for: both ends of each rule, and every
# release series with a stock image on Docker Hub at the time of writing.
VERSIONS = ["0.17.1", "0.18.1", "0.19.0", "0.21.2", "27.2", "28.4", "29.3", "30.2", "31.0", "32.1"]


@pytest.fixture
def transport():
    t = Urllib3Transport()
    yield t
    t.clear()


@pytest.fixture
def daemons():
    started: list[FakeCoreDaemon] = []

    def start(conf: str, version: nodeconfig.CoreVersion, **kwargs) -> FakeCoreDaemon:
        daemon = FakeCoreDaemon(conf, version, **kwargs)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


def client_for(daemon: FakeCoreDaemon, transport, user: str = USER, password: str = PASSWORD) -> BitcoinClient:
    config = Config("127.0.0.1", daemon.port, user, password)
    return BitcoinClient(config, transport, "bitcoind", 2.0, 5.0, metrics=RPCMetrics(CollectorRegistry()))


def conf_of(secret: dict) -> str:
    return base64.b64decode(secret["data"][nodeconfig.CONF_FILE]).decode()


def rpcauth_value(conf: str) -> str:
    (line,) = [line for line in conf.splitlines() if line.startswith("rpcauth=")]
    return line.removeprefix("rpcauth=")


# -- rpcauth ---------------------------------------------------------------------------


def test_rpcauth_matches_cores_own_test_vector_unit():
    # test/functional/rpc_users.py in bitcoin/bitcoin: user "rt" with this password.
    password = "cA773lm788buwYe4g4WT+05pKyNruVKjQ25x3n0DQcM="
    expected = (
        "rpcauth=rt:93648e835a54c573682c2eb19f882535$"
        "7681e9c5b74bdd85e78166031d2058e1069b3ed7ed967c93fc63abba06f31144"
    )
    assert nodeconfig.rpcauth_line("rt", password, salt="93648e835a54c573682c2eb19f882535") == expected
    assert nodeconfig.verify_rpcauth(expected, "rt", password)
    assert not nodeconfig.verify_rpcauth(expected, "rt", password + "x")
    assert not nodeconfig.verify_rpcauth(expected, "other", password)


def test_rpcauth_has_a_fresh_random_salt_and_never_the_password_unit():
    first, second = (nodeconfig.rpcauth_line(USER, PASSWORD) for _ in range(2))
    for line in (first, second):
        assert PASSWORD not in line
        match = re.fullmatch(rf"rpcauth={USER}:([0-9a-f]{{32}})\$([0-9a-f]{{64}})", line)
        assert match, line  # 16 random bytes of salt in hex, a SHA-256 HMAC in hex
        # Checked the way Core does (fake_core's independent implementation).
        assert rpcauth_accepts({"rpcauth": [line.removeprefix("rpcauth=")]}, USER, PASSWORD)
        assert not rpcauth_accepts({"rpcauth": [line.removeprefix("rpcauth=")]}, USER, "wrong")
    assert first != second


# -- rendering per release ---------------------------------------------------------------


@pytest.mark.parametrize("text", [*VERSIONS, None])
def test_rendered_config_starts_each_release_and_admits_the_controller_unit(text, daemons, transport):
    version = nodeconfig.parse_version(text) if text else None
    conf = nodeconfig.render_config(version, BITCOIND.rpc_port, nodeconfig.rpcauth_line(USER, PASSWORD))
    assert PASSWORD not in conf
    daemon = daemons(conf, version or nodeconfig.NEWEST_KNOWN_VERSION)
    assert daemon.rpc_port == 18443
    assert daemon.listens_on == ["0.0.0.0"]  # rpcbind counts only together with rpcallowip
    assert daemon.options["port"] == ["18444"]
    assert client_for(daemon, transport).get_block_count() == 101
    with pytest.raises(AuthenticationError):
        client_for(daemon, transport, password=PASSWORD + "-old").get_block_count()


@pytest.mark.parametrize(("text", "whitelist"), [("0.18.1", "0.0.0.0/0"), ("0.19.0", "noban@0.0.0.0/0"),
                                                 ("30.2", "noban@0.0.0.0/0")])
def test_whitelist_syntax_follows_the_release_unit(text, whitelist):
    conf = nodeconfig.render_config(nodeconfig.parse_version(text), 18443, "rpcauth=u:s$h")
    assert f"whitelist={whitelist}" in conf.splitlines()


def test_the_fake_refuses_what_core_refuses_unit():
    """The fake would catch a rendering that breaks a release (so the tests above mean something)."""
    new, old = nodeconfig.parse_version("30.2"), nodeconfig.parse_version("0.18.1")
    with pytest.raises(StartupError, match="only applied on regtest network when in \\[regtest\\] section"):
        FakeCoreDaemon("regtest=1\nrpcport=18443\n", new)
    with pytest.raises(StartupError, match="Invalid netmask"):
        FakeCoreDaemon(nodeconfig.render_config(new, 18443, "rpcauth=u:s$h"), old)
    # regtest=1 inside [regtest] is ignored by Core: the node would run mainnet.
    with pytest.raises(StartupError):
        FakeCoreDaemon("[regtest]\nregtest=1\n", new)


def test_releases_before_config_sections_are_refused_unit():
    with pytest.raises(ValueError, match="0.17"):
        nodeconfig.render_config(nodeconfig.CoreVersion(0, 16, 3), 18443, "rpcauth=u:s$h")


def test_client_accepts_jsonrpc_2_replies_unit(daemons, transport):
    """Core 28+ answers the 2.0 way (no ``error`` member, errors with HTTP 200) when asked to."""
    conf = nodeconfig.render_config(None, 18443, nodeconfig.rpcauth_line(USER, PASSWORD))
    daemon = daemons(conf, nodeconfig.parse_version("30.2"), force_v2=True)
    client = client_for(daemon, transport)
    assert client.get_block_count() == 101
    assert client.add_node("127.0.0.9:18444") is True
    assert client.add_node("127.0.0.9:18444") is False  # -23 inside a 2.0 error reply
    with pytest.raises(RPCError) as caught:
        client.raw_request("nosuchmethod")
    assert caught.value.code == -32601
    assert daemon.requests[0]["jsonrpc"] == "1.0"  # what the client sends: legacy replies from real Core


# -- versions and images ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "version", "expected"),
    [
        ("docker.io/bitcoin/bitcoin:30.2", "29.3", "docker.io/bitcoin/bitcoin:29.3"),
        ("localhost:5000/bitcoind", "28.4", "localhost:5000/bitcoind:28.4"),
        ("localhost:5000/bitcoind:30.2", "0.21.1", "localhost:5000/bitcoind:0.21.1"),
        ("bitcoin/bitcoin@sha256:" + "a" * 64, "29.3", "bitcoin/bitcoin@sha256:" + "a" * 64),
    ],
)
def test_version_becomes_the_default_images_tag_unit(image, version, expected):
    assert nodeconfig.image_with_version(image, version) == expected


@pytest.mark.parametrize(
    ("version", "image", "expected"),
    [
        (None, "docker.io/bitcoin/bitcoin:30.2", "30.2"),
        (None, "ghcr.io/bitcoin-controller/bitcoind:v29.3", "29.3"),
        (None, "bitcoin/bitcoin:28.4-alpine", "28.4"),
        (None, "localhost:5000/bitcoind:latest", None),
        (None, "localhost:5000/bitcoind", None),
        ("0.21.1", "my/core:dev", "0.21.1"),
        ("31.0rc1", "my/core:dev", "31.0rc1"),
    ],
)
def test_core_version_from_spec_or_image_tag_unit(version, image, expected):
    found = nodeconfig.core_version(version, image)
    assert (str(found) if found else None) == expected


def test_release_candidates_sort_before_their_release_unit():
    assert nodeconfig.parse_version("31.0rc1") < nodeconfig.parse_version("31.0") < nodeconfig.parse_version("31.0.1")
    assert nodeconfig.parse_version("0.21.2") < nodeconfig.parse_version("22.0")


# -- the controller --------------------------------------------------------------------------


def converged_bitcoind(**spec) -> tuple[Fixture, dict]:
    f = Fixture()
    network = new_network(implementation="bitcoind", **spec)
    svc, sts = desired_objects(network)
    f.seed(network, svc, sts, new_secret())
    f.seed(*(new_pod(network, i, IPS[i]) for i in range(3)))
    return f, network


def secret_reads(f: Fixture) -> list[tuple[str, str]]:
    """(verb, Secret name) of every read: a get names it, a list or watch by its field selector."""
    reads = []
    for a in f.client.actions():
        if a.resource.resource != "secrets" or a.verb not in ("get", "list", "watch"):
            continue
        name = getattr(a, "name", "")
        if a.verb != "get":
            selector = a.list_options.field_selector or ""
            name = selector.removeprefix("metadata.name=") if selector.startswith("metadata.name=") else f"<{selector}>"
        reads.append((a.verb, name))
    return reads


def test_first_sync_writes_an_owned_opaque_config_secret_unit(daemons, transport):
    f = Fixture()
    network = new_network(implementation="bitcoind")
    f.seed(network, new_secret())
    f.sync()
    (secret,) = f.action_objects("create", "secrets")
    assert secret["type"] == "Opaque" and secret["immutable"] is True
    assert secret["metadata"]["name"] == config_secret_for(network, BITCOIND.default_image)
    assert re.fullmatch(r"net-bitcoin-conf-[0-9a-f]{10}", secret["metadata"]["name"])
    ref = secret["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["uid"], ref["controller"]) == ("BitcoinNetwork", "uid-net", True)
    assert secret["metadata"]["annotations"][nodeconfig.CORE_VERSION_ANNOTATION] == "30.2"
    conf = conf_of(secret)
    assert PASSWORD not in json.dumps(secret) and PASSWORD not in conf
    assert nodeconfig.verify_rpcauth(rpcauth_value(conf), USER, PASSWORD)
    # The file starts the release and admits the controller's credentials.
    daemon = daemons(conf, nodeconfig.parse_version("30.2"))
    assert client_for(daemon, transport).get_block_count() == 101

    (sts,) = f.action_objects("create", "statefulsets")
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "docker.io/bitcoin/bitcoin:30.2"
    assert container["command"] == ["bitcoind"]  # not the image's root entrypoint
    assert f"-conf={CONF_PATH}" in container["args"]
    assert {"name": "bitcoin-conf", "mountPath": "/etc/bitcoin", "readOnly": True} in container["volumeMounts"]
    assert {"name": "bitcoin-conf", "secret": {"secretName": secret["metadata"]["name"], "defaultMode": 0o440}} \
        in pod["volumes"]
    assert "envFrom" not in container
    # The readiness probe keeps using the cookie: no credentials in it.
    assert container["readinessProbe"]["exec"]["command"] == [
        "bitcoin-cli", "-datadir=/data", "-regtest", "getblockchaininfo"]
    assert any(e.startswith("Normal ConfigSecretCreated") for e in f.events())


def test_steady_state_sends_nothing_for_the_config_unit():
    """The wanted config is computed, found mounted in the cached StatefulSet: zero writes.

    Each Fixture.sync() builds a new controller, so this is also the first
    sync after a controller restart.
    """
    f, _ = converged_bitcoind()
    for _ in range(2):
        f.sync()
        # credentials come from the Secret's watch: no read, no write
        assert [a for a in f.actions() if a[1] in ("secrets", "statefulsets")] == []
        assert f.action_objects("create", "secrets") == []


def test_a_lagging_cache_reuses_the_secret_it_already_created_unit():
    """Created, but the StatefulSet in the cache does not mount it yet: AlreadyExists is ours."""
    f = Fixture()
    network = new_network(implementation="bitcoind")
    f.seed(network, new_secret())
    controller = f.new_controller()
    controller.sync_handler(KEY)
    name = f.action_objects("create", "secrets")[0]["metadata"]["name"]
    # Same process, the StatefulSet not yet in the cache: nothing is sent
    # again for the config (the StatefulSet's create then meets
    # AlreadyExists, which the worker retries quietly).
    f.cache_created("Service")
    f.client.clear_actions()
    with pytest.raises(errors.AlreadyExistsError):
        controller.sync_handler(KEY)
    assert [a[:2] for a in f.actions()] == [("create", "statefulsets")]
    # A new process (memory lost) tries once, gets AlreadyExists, and goes on.
    f.api_objects.append(f.client.core_v1().secrets(NAMESPACE).get(name))
    f.sync()
    creates = f.action_objects("create", "secrets")
    assert [c["metadata"]["name"] for c in creates] == [name]
    (sts,) = f.action_objects("create", "statefulsets")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["bitcoin-conf"]["secret"]["secretName"] == name
    assert not any(e.startswith("Warning") for e in f.events())


def test_rotating_the_credentials_rolls_the_pods_unit():
    f, network = converged_bitcoind()
    old_name = config_secret_for(network, BITCOIND.default_image)
    rotated = new_secret(password="n3w-Pa55w0rd")
    rotated["metadata"]["resourceVersion"] = "77"
    f.api_objects = [o for o in f.api_objects if o["kind"] != "Secret"] + [rotated]
    f.sync()
    (secret,) = f.action_objects("create", "secrets")
    new_name = secret["metadata"]["name"]
    assert new_name != old_name
    assert new_name == config_secret_for(network, BITCOIND.default_image, "uid-secret-creds/77")
    value = rpcauth_value(conf_of(secret))
    assert nodeconfig.verify_rpcauth(value, USER, "n3w-Pa55w0rd")
    assert not nodeconfig.verify_rpcauth(value, USER, PASSWORD)
    # The Secret is written before the pod template points at it; the
    # changed template is what rolls the pods.
    writes = [a for a in f.actions() if a[0] in ("create", "update") and a[1] in ("secrets", "statefulsets")]
    assert writes == [("create", "secrets", ""), ("update", "statefulsets", "")]
    (sts,) = f.action_objects("update", "statefulsets")
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    assert volumes["bitcoin-conf"]["secret"]["secretName"] == new_name
    assert any(e.startswith("Normal StatefulSetUpdated") for e in f.events())


def test_the_controller_reads_no_secret_it_was_not_given_unit():
    f = Fixture()
    network = new_network(implementation="bitcoind")
    f.seed(network, new_secret(), new_secret("unrelated"))
    controller = f.new_controller()

    def sync() -> None:
        try:
            controller.sync_handler(KEY)
        except errors.ConflictError:
            pass  # the status write met the stale cached network; the worker would retry

    sync()  # creates the config
    f.cache_created("Service", "StatefulSet")
    sync()  # a repeat
    rotated = new_secret(password="n3w-Pa55w0rd")
    del rotated["metadata"]["resourceVersion"]
    f.client.core_v1().secrets(NAMESPACE).update(rotated)
    wait_for(lambda: controller.secrets.get(KEY, NAMESPACE, "creds").password == "n3w-Pa55w0rd",
             "the Secret's watch to deliver the rotation")
    sync()  # after a rotation
    assert len(f.action_objects("create", "secrets")) == 2
    reads = secret_reads(f)
    assert reads and set(reads) <= {("list", "creds"), ("watch", "creds")}
    controller.secrets.stop()
    written = [a.object for a in f.client.actions() if a.verb == "create"]
    assert written and not any(PASSWORD in json.dumps(o) or "n3w-Pa55w0rd" in json.dumps(o) for o in written)


def test_spec_version_picks_the_image_and_the_rules_unit():
    f = Fixture()
    network = new_network(implementation="bitcoind", version="0.18.1")
    f.seed(network, new_secret())
    f.sync()
    (secret,) = f.action_objects("create", "secrets")
    assert secret["metadata"]["annotations"][nodeconfig.CORE_VERSION_ANNOTATION] == "0.18.1"
    assert "whitelist=0.0.0.0/0" in conf_of(secret).splitlines()
    (sts,) = f.action_objects("create", "statefulsets")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/bitcoin/bitcoin:0.18.1"


def test_spec_version_with_a_custom_image_keeps_the_image_unit():
    f = Fixture()
    network = new_network(implementation="bitcoind", version="29.3", image="registry.example:5000/core:mine")
    f.seed(network, new_secret())
    f.sync()
    (sts,) = f.action_objects("create", "statefulsets")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example:5000/core:mine"
    (secret,) = f.action_objects("create", "secrets")
    assert secret["metadata"]["annotations"][nodeconfig.CORE_VERSION_ANNOTATION] == "29.3"


def test_changing_the_version_rolls_onto_a_new_config_unit():
    f, network = converged_bitcoind()
    upgraded = copy.deepcopy(network)
    upgraded["spec"]["version"] = "31.0"
    f.networks = [upgraded]
    f.api_objects = [o for o in f.api_objects if o["kind"] != "BitcoinNetwork"] + [upgraded]
    f.sync()
    (secret,) = f.action_objects("create", "secrets")
    assert secret["metadata"]["name"] != config_secret_for(network, BITCOIND.default_image)
    (sts,) = f.action_objects("update", "statefulsets")
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "docker.io/bitcoin/bitcoin:31.0"


def test_version_is_refused_for_btcd_unit():
    f = Fixture()
    network = new_network(implementation="btcd", version="30.2")
    f.seed(network, new_secret())
    f.sync()
    assert f.action_objects("create", "secrets") == []
    assert any("Warning InvalidSpec" in e and "spec.version" in e for e in f.events())


def test_btcd_pods_are_unchanged_unit():
    _, sts = desired_objects(new_network(implementation="btcd"))
    container = sts["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["btcd"]
    assert container["envFrom"] == [{"secretRef": {"name": "creds", "optional": False}}]
    assert all(v["name"] != "bitcoin-conf" for v in sts["spec"]["template"]["spec"]["volumes"])


def test_config_digest_holds_nothing_derived_from_the_password_unit():
    network = new_network(implementation="bitcoind")
    version = nodeconfig.parse_version("30.2")
    digest = nodeconfig.config_digest(network, CREDENTIALS_VERSION, version, 18443)
    # Same inputs, same name: a restarted controller finds the mounted Secret.
    assert digest == nodeconfig.config_digest(network, CREDENTIALS_VERSION, version, 18443)
    assert digest != nodeconfig.config_digest(network, "uid-secret-creds/4", version, 18443)
    assert digest != nodeconfig.config_digest(network, CREDENTIALS_VERSION, nodeconfig.parse_version("29.3"), 18443)


def test_memory_keeps_one_entry_per_network_and_forgets_deleted_ones_unit():
    f = Fixture()
    network = new_network(implementation="bitcoind")
    f.seed(network, new_secret())
    controller = f.new_controller()
    configs = controller.node_configs
    kwargs = {"user": USER, "password": PASSWORD, "version": None, "rpc_port": 18443, "mounted": None}
    first, created = configs.ensure(f.client, network, credentials_version="u/1", **kwargs)
    assert created
    assert configs.ensure(f.client, network, credentials_version="u/1", **kwargs) == (first, False)
    second, created = configs.ensure(f.client, network, credentials_version="u/2", **kwargs)
    assert created and second != first
    assert len(configs._latest) == 1
    # The network is deleted: its key runs once more and the entry goes.
    controller.sync_handler("default/other")
    assert len(configs._latest) == 1
    f.informers["BitcoinNetwork"].informer().get_indexer().delete(network)
    controller.sync_handler(KEY)
    assert configs._latest == {}


def test_an_image_tag_older_than_config_sections_is_an_invalid_spec_unit():
    f = Fixture()
    network = new_network(implementation="bitcoind", image="bitcoin/bitcoin:0.16.3")
    f.seed(network, new_secret())
    assert f.sync() is None  # reported, not retried until the spec changes
    assert f.action_objects("create", "secrets") == [] and f.action_objects("create", "statefulsets") == []
    assert any(e.startswith("Warning InvalidSpec") and "0.16.3" in e for e in f.events())
    # Saying which release the image really holds makes it acceptable.
    f = Fixture()
    f.seed(new_network(implementation="bitcoind", image="bitcoin/bitcoin:0.16.3", version="30.2"), new_secret())
    f.sync()
    assert len(f.action_objects("create", "statefulsets")) == 1


@pytest.mark.parametrize("text", [*VERSIONS, "0.17", "22.0", "31.0rc1", "30.02", "31.0rc0", "0.16.3", "v30.2"])
def test_every_version_the_schema_accepts_parses_unit(text):
    """What spec.version accepts is always a release the controller can render for, and only that."""
    from bitcoin_controller.apis.bitcoincontroller.v1 import BitcoinNetworkSpec, validate

    accepted = not validate(BitcoinNetworkSpec.from_dict({"nodes": 1, "version": text}))
    parsed = nodeconfig.parse_version(text)
    assert accepted == (parsed is not None and parsed >= nodeconfig.MIN_VERSION)
