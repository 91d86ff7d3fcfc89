"""The credential Secret cache: single-object watches instead of a GET per sync (issue 12, item 2)."""

from __future__ import annotations

import base64
import copy
import threading

import pytest
from controller_fixture import NAMESPACE, PASSWORD, USER, Fixture, desired_objects, new_network, new_pod, new_secret
from controller_fixture import with_certificate as with_cert
from waiting import wait_for

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.clientgo.kubernetes import fake
from bitcoin_controller.controller.credentials import CredentialsError, SecretCache
from bitcoin_controller.utils.clock import FakeClock

KEY = f"{NAMESPACE}/net"
IPS = ["127.0.100.1", "127.0.100.2", "127.0.100.3"]


def rotated(secret: dict, user: str, password: str) -> dict:
    secret = copy.deepcopy(secret)
    secret["data"] = {
        "BC_RPC_USER": base64.b64encode(user.encode()).decode(),
        "BC_RPC_PASSWORD": base64.b64encode(password.encode()).decode(),
    }
    secret["metadata"].pop("resourceVersion", None)  # the tracker assigns the next one
    return secret


class Changes:
    """Records on_change calls (they come from the watch thread)."""

    def __init__(self) -> None:
        self.owners: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, owner: str) -> None:
        with self.lock:
            self.owners.append(owner)

    def seen(self, owner: str) -> bool:
        with self.lock:
            return owner in self.owners


@pytest.fixture
def cache_and_client():
    client = fake.Clientset(new_secret())
    changes = Changes()
    clock = FakeClock()
    cache = SecretCache(client, changes, clock=clock, sync_timeout=5.0)
    yield cache, client, changes, clock
    cache.stop()


def secret_requests(client: fake.Clientset) -> list[tuple[str, str]]:
    return [(a.verb, getattr(a, "list_options", None) and a.list_options.field_selector or "")
            for a in client.actions() if a.resource.resource == "secrets"]


def test_secret_is_read_by_a_single_object_watch_not_a_get_unit(cache_and_client):
    cache, client, _, _ = cache_and_client
    creds = cache.get("default/a", NAMESPACE, "creds")
    assert (creds.user, creds.password) == (USER, PASSWORD)
    assert cache.get("default/b", NAMESPACE, "creds") == creds  # a second network shares the watch
    wait_for(lambda: ("watch", "metadata.name=creds") in secret_requests(client), "the watch to open")
    assert secret_requests(client) == [("list", "metadata.name=creds"), ("watch", "metadata.name=creds")]
    assert cache.watched() == [(NAMESPACE, "creds")]


def test_rotated_secret_is_picked_up_and_its_users_told_unit(cache_and_client):
    cache, client, changes, _ = cache_and_client
    assert cache.get("default/a", NAMESPACE, "creds").user == USER
    wait_for(lambda: ("watch", "metadata.name=creds") in secret_requests(client), "the watch to open")
    client.core_v1().secrets(NAMESPACE).update(rotated(new_secret(), "bob", "n3w-Pa55"))
    wait_for(lambda: changes.seen("default/a"), "the owner to be told")
    creds = cache.get("default/a", NAMESPACE, "creds")
    assert (creds.user, creds.password) == ("bob", "n3w-Pa55")
    assert [v for v, _ in secret_requests(client)].count("get") == 0


def test_deleted_and_recreated_secret_unit(cache_and_client):
    cache, client, changes, _ = cache_and_client
    cache.get("default/a", NAMESPACE, "creds")
    wait_for(lambda: ("watch", "metadata.name=creds") in secret_requests(client), "the watch to open")
    client.core_v1().secrets(NAMESPACE).delete("creds")
    wait_for(lambda: changes.seen("default/a"), "the owner to be told of the deletion")
    with pytest.raises(CredentialsError) as missing:
        cache.get("default/a", NAMESPACE, "creds")
    assert missing.value.reason == "SecretNotFound"
    changes.owners.clear()
    client.core_v1().secrets(NAMESPACE).create(rotated(new_secret(), "carol", "an0ther"))
    wait_for(lambda: changes.seen("default/a"), "the owner to be told of the creation")
    assert cache.get("default/a", NAMESPACE, "creds").user == "carol"


def test_forbidden_secret_is_reported_as_such_unit():
    client = fake.Clientset(new_secret())
    client.prepend_reactor("list", "secrets",
                           lambda action: (True, None, errors.new_forbidden("secrets", "creds", "RBAC")))
    cache = SecretCache(client, clock=FakeClock(), sync_timeout=5.0)
    try:
        with pytest.raises(CredentialsError) as forbidden:
            cache.get("default/a", NAMESPACE, "creds")
        assert forbidden.value.reason == "SecretForbidden"
    finally:
        cache.stop()


def test_unused_watch_is_stopped_after_the_idle_period_unit(cache_and_client):
    cache, _, _, clock = cache_and_client
    cache.get("default/a", NAMESPACE, "creds")
    cache.release("default/a")
    assert cache.watched() == [(NAMESPACE, "creds")]  # kept warm for a while
    clock.step(cache.idle_seconds + 1)
    cache.release("default/other")  # any call sweeps idle watches
    assert cache.watched() == []


def test_network_moving_to_another_secret_releases_the_old_one_unit(cache_and_client):
    cache, client, _, clock = cache_and_client
    client.tracker.add(new_secret(name="other"))
    cache.get("default/a", NAMESPACE, "creds")
    cache.get("default/a", NAMESPACE, "other")
    clock.step(cache.idle_seconds + 1)
    cache.get("default/a", NAMESPACE, "other")
    assert cache.watched() == [(NAMESPACE, "other")]


# -- in the controller ---------------------------------------------------------------------------


def converge(f: Fixture, network: dict) -> dict:
    """Sync with one long-lived controller, feeding each written status back, until nothing is written."""
    controller = f.controller
    for _ in range(5):
        f.client.clear_actions()
        controller.sync_handler(KEY)
        updates = [a for a in f.client.actions() if a.verb == "update" and a.subresource == "status"]
        if not updates:
            return network
        network = f.client.bitcoincontroller_v1().bitcoin_networks(NAMESPACE).get("net")  # as stored
        f.informers["BitcoinNetwork"].informer().get_indexer().update(network)
    raise AssertionError("the network did not reach a steady state")


def test_steady_state_resync_makes_zero_api_requests_unit():
    f = Fixture()
    network = with_cert(new_network())
    svc, sts = desired_objects(network)
    f.seed(network, svc, sts, new_secret(), *(new_pod(network, i, IPS[i]) for i in range(3)))
    f.new_controller()
    try:
        converge(f, network)
        f.client.clear_actions()
        assert f.controller.sync_handler(KEY) is None
        assert f.client.actions() == []  # every verb counted, list and watch included
        assert len(f.bitcoin.connects) > 0
    finally:
        f.controller.secrets.stop()


def test_controller_resyncs_a_network_when_its_secret_rotates_unit():
    f = Fixture()
    network = with_cert(new_network())
    svc, sts = desired_objects(network)
    f.seed(network, svc, sts, new_secret(), *(new_pod(network, i, IPS[i]) for i in range(3)))
    controller = f.new_controller()
    try:
        converge(f, network)
        # The fake's watch replays history from the listed resourceVersion: no race with the update.
        while controller.workqueue.len():  # whatever the syncs queued themselves
            key, _ = controller.workqueue.get()
            controller.workqueue.done(key)
            controller.workqueue.forget(key)
        f.bitcoin.connects.clear()
        f.client.core_v1().secrets(NAMESPACE).update(rotated(new_secret(), "bob", "n3w-Pa55"))
        wait_for(lambda: controller.workqueue.len() == 1, "the rotation to enqueue the network")
        assert controller.process_next_work_item()
        assert f.bitcoin.connects and {c[2] for c in f.bitcoin.connects} == {"bob"}
        assert not [a for a in f.client.actions() if a.verb == "get" and a.resource.resource == "secrets"]
    finally:
        controller.secrets.stop()


def test_deleted_network_releases_its_secret_unit():
    f = Fixture()
    f.seed(new_network(implementation="bitcoind"), new_secret())
    controller = f.new_controller()
    try:
        controller.sync_handler(KEY)
        assert controller.secrets.watched() == [(NAMESPACE, "creds")]
        f.informers["BitcoinNetwork"].informer().get_indexer().delete(f.networks[0])
        controller.sync_handler(KEY)
        f.clock.step(controller.secrets.idle_seconds + 1)
        controller.secrets.release("default/unrelated")
        assert controller.secrets.watched() == []
    finally:
        controller.secrets.stop()
