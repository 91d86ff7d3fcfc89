"""The sample-controller test pattern for the BitcoinNetwork controller.

A :class:`Fixture` seeds the fake clientset (what the API server holds) and,
separately, the informers' indexers (what the controller's caches hold), so
a test states exactly what the controller sees.  It then calls
``sync_handler(key)`` directly -- no workers, no watches, no waiting -- and
compares the API actions the controller made with the expected ones,
ignoring the informers' own list/watch traffic.
"""

from __future__ import annotations

import base64
import copy
from typing import Any

from fake_bitcoin import FakeBitcoinNetwork

from bitcoin_controller.clientgo.informers import SharedInformerFactory
from bitcoin_controller.clientgo.kubernetes import fake
from bitcoin_controller.clientgo.tools.record import FakeRecorder
from bitcoin_controller.controller import Controller, nodeconfig
from bitcoin_controller.controller import resources as res
from bitcoin_controller.controller.implementations import get_implementation
from bitcoin_controller.utils.clock import FakeClock

NAMESPACE = "default"
USER = "alice"
PASSWORD = "s3cr3t-Pa55w0rd"
#: uid/resourceVersion of new_secret(): what the config Secret's name is derived from.
CREDENTIALS_VERSION = "uid-secret-creds/3"


def new_network(name: str = "net", nodes: int = 3, implementation: str = "btcd", **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "bitcoincontroller.dev/v1",
        "kind": "BitcoinNetwork",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "generation": 1,
            "resourceVersion": "10",
        },
        "spec": {"nodes": nodes, "implementation": implementation, "secret": "creds", **spec},
    }


def new_secret(name: str = "creds", user: str = USER, password: str | None = PASSWORD) -> dict[str, Any]:
    data = {"BC_RPC_USER": base64.b64encode(user.encode()).decode()}
    if password is not None:
        data["BC_RPC_PASSWORD"] = base64.b64encode(password.encode()).decode()
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": NAMESPACE, "uid": f"uid-secret-{name}", "resourceVersion": "3"},
        "data": data,
    }


def config_secret_for(network: dict[str, Any], image: str, credentials_version: str = CREDENTIALS_VERSION) -> str:
    """The name of the bitcoin.conf Secret the controller wants for a bitcoind ``network``."""
    impl = get_implementation("bitcoind")
    version = nodeconfig.core_version(network["spec"].get("version"), image)
    digest = nodeconfig.config_digest(network, credentials_version, version, impl.rpc_port)
    return nodeconfig.config_secret_name(network["metadata"]["name"], digest)


def desired_objects(network: dict[str, Any], image: str | None = None) -> tuple[dict, dict]:
    """The Service and StatefulSet the controller should create for ``network``."""
    spec = network["spec"]
    impl = get_implementation(spec.get("implementation", "bitcoind"))
    svc = res.new_service(network, impl)
    image = image or spec.get("image") or impl.default_image
    sts = res.new_statefulset(
        network,
        impl,
        replicas=spec["nodes"],
        image=image,
        secret_name=spec.get("secret", "bitcoin-default-secret"),
        resources=spec.get("resources"),
        config_secret=None if impl.credentials_in_env else config_secret_for(network, image),
    )
    for obj in (svc, sts):
        obj["metadata"]["resourceVersion"] = "20"
        obj["metadata"]["uid"] = "uid-" + obj["metadata"]["name"]
    return svc, sts


def new_pod(network: dict[str, Any], ordinal: int, ip: str, ready: bool = True, uid: str | None = None) -> dict:
    name = network["metadata"]["name"]
    sts_name = res.statefulset_name(name)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"{sts_name}-{ordinal}",
            "namespace": NAMESPACE,
            "uid": uid or f"uid-pod-{ordinal}",
            "resourceVersion": f"{30 + ordinal}",
            "labels": res.common_labels(name, network["spec"].get("implementation", "bitcoind")),
            "ownerReferences": [
                {"apiVersion": "apps/v1", "kind": "StatefulSet", "name": sts_name, "uid": "uid-" + sts_name,
                 "controller": True}
            ],
        },
        "spec": {"nodeName": "kwok-node"},
        "status": {
            "podIP": ip,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": "node", "restartCount": 0, "ready": ready}],
        },
    }


def with_certificate(network: dict[str, Any]) -> dict[str, Any]:
    """A btcd network whose RPC certificate was already provisioned."""
    from bitcoin_controller.bitcoin.certs import generate_self_signed_cert

    network = copy.deepcopy(network)
    network.setdefault("status", {})["rpcCertificate"] = generate_self_signed_cert("test")[0].decode()
    return network


class Fixture:
    def __init__(self) -> None:
        self.api_objects: list[dict] = []  # in the fake API server
        self.networks: list[dict] = []  # in the informers' caches ...
        self.statefulsets: list[dict] = []
        self.services: list[dict] = []
        self.pods: list[dict] = []
        self.bitcoin = FakeBitcoinNetwork()
        self.clock = FakeClock()

    def seed(self, *objs: dict, cache: bool = True) -> None:
        """Put objects in the API server and (by default) in the matching informer cache."""
        for obj in objs:
            self.api_objects.append(copy.deepcopy(obj))
            if cache:
                target = {
                    "BitcoinNetwork": self.networks,
                    "StatefulSet": self.statefulsets,
                    "Service": self.services,
                    "Pod": self.pods,
                }.get(obj["kind"])
                if target is not None:
                    target.append(copy.deepcopy(obj))

    def new_controller(self) -> Controller:
        previous = getattr(self, "controller", None)
        if previous is not None:  # its credential watches would outlive the test
            previous.secrets.stop()
        self.client = fake.Clientset(*self.api_objects)
        factory = SharedInformerFactory(self.client, 0)
        informers = (
            factory.bitcoincontroller().v1().bitcoin_networks(),
            factory.apps().v1().stateful_sets(),
            factory.core().v1().services(),
            factory.core().v1().pods(),
        )
        self.recorder = FakeRecorder(100)
        controller = Controller(self.client, *informers, self.recorder, self.bitcoin, clock=self.clock)
        for informer, objs in zip(informers, (self.networks, self.statefulsets, self.services, self.pods), strict=True):
            for obj in objs:
                informer.informer().get_indexer().add(copy.deepcopy(obj))
        self.client.clear_actions()
        self.controller = controller
        self.informers = dict(zip(("BitcoinNetwork", "StatefulSet", "Service", "Pod"), informers, strict=True))
        return controller

    def cache_created(self, *kinds: str) -> None:
        """Put what the controller created (of ``kinds``) into the running controller's caches,
        as its informers would once the watch events arrive."""
        for action in self.client.actions():
            obj = getattr(action, "object", None)
            if action.verb == "create" and obj and obj.get("kind") in kinds:
                name = obj["metadata"]["name"]
                client = {"Service": self.client.core_v1().services, "StatefulSet": self.client.apps_v1().stateful_sets}
                stored = client[obj["kind"]](NAMESPACE).get(name)
                self.informers[obj["kind"]].informer().get_indexer().add(stored)

    def sync(self, key: str = f"{NAMESPACE}/net") -> Any:
        controller = self.new_controller()
        return controller.sync_handler(key)

    def actions(self) -> list[tuple[str, str, str]]:
        """The controller's API actions as ``(verb, resource, subresource)``, informer traffic filtered."""
        out = []
        for a in self.client.actions():
            if a.verb in ("list", "watch"):
                continue
            out.append((a.verb, a.resource.resource, a.subresource or ""))
        return out

    def action_objects(self, verb: str, resource: str) -> list[dict]:
        return [a.object for a in self.client.actions() if a.verb == verb and a.resource.resource == resource]

    def events(self) -> list[str]:
        out = []
        while not self.recorder.events.empty():
            out.append(self.recorder.events.get_nowait())
        return out
