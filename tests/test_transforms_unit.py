"""Informer transforms keep what the controller reads and writes back (issue 12, item 4)."""

from __future__ import annotations

import copy

from controller_fixture import Fixture, desired_objects, new_network, new_pod, new_secret, with_certificate

from bitcoin_controller.controller import transforms


def test_transforms_drop_managed_fields_and_are_idempotent_unit():
    network = new_network()
    network["metadata"]["managedFields"] = [{"manager": "kubectl", "fieldsV1": {"f:spec": {}}}]
    network["metadata"]["annotations"] = {transforms.LAST_APPLIED: "{...}", "keep": "me"}
    _, sts = desired_objects(network)
    sts["metadata"]["managedFields"] = [{"manager": "kube-controller-manager"}]
    sts["status"] = {"replicas": 3}
    pod = new_pod(network, 0, "127.0.100.1")
    pod["metadata"]["managedFields"] = [{"manager": "kubelet"}]
    pod["metadata"]["annotations"] = {"big": "x" * 1000}
    pod["spec"]["containers"] = [{"name": "node", "image": "btcd", "env": [{"name": "A", "value": "b"}]}]
    pod["status"]["conditions"][0]["lastTransitionTime"] = "2026-01-01T00:00:00Z"

    for fn, obj in ((transforms.slim_network, network), (transforms.slim_statefulset, sts),
                    (transforms.slim_pod, pod)):
        once = fn(copy.deepcopy(obj))
        assert "managedFields" not in once["metadata"]
        assert fn(copy.deepcopy(once)) == once  # idempotent: a relist transforms again
    slim_net = transforms.slim_network(copy.deepcopy(network))
    assert slim_net["metadata"]["annotations"] == {"keep": "me"}
    assert slim_net["spec"] == network["spec"]
    slim_sts = transforms.slim_statefulset(copy.deepcopy(sts))
    assert "status" not in slim_sts and slim_sts["spec"] == sts["spec"]  # written back: spec intact
    slim_pod = transforms.slim_pod(copy.deepcopy(pod))
    assert slim_pod["spec"] == {"nodeName": "kwok-node"}
    assert slim_pod["status"]["conditions"] == [{"type": "Ready", "status": "True"}]
    assert "annotations" not in slim_pod["metadata"]
    assert slim_pod["metadata"]["labels"] == pod["metadata"]["labels"]


def test_controller_sees_the_same_network_through_slim_caches_unit():
    def run(transform: bool) -> dict:
        f = Fixture()
        network = with_certificate(new_network())
        svc, sts = desired_objects(network)
        pods = [new_pod(network, i, f"127.0.100.{i + 1}") for i in range(3)]
        if transform:
            network, sts, svc = (transforms.slim_network(network), transforms.slim_statefulset(sts),
                                 transforms.strip_managed_fields(svc))
            cached = [transforms.slim_pod(copy.deepcopy(p)) for p in pods]
        else:
            cached = pods
        f.seed(network, svc, sts, new_secret())
        f.seed(*pods, cache=False)
        f.pods.extend(cached)
        f.sync()
        f.controller.secrets.stop()
        status = [a for a in f.client.actions() if a.subresource == "status"][-1].object["status"]
        writes = [(a.verb, a.resource.resource) for a in f.client.actions() if a.verb not in ("list", "watch")]
        status.pop("rpcCertificate")  # each run generates its own
        for c in status["conditions"]:
            c.pop("lastTransitionTime", None)
        return {"status": status, "writes": writes}

    assert run(transform=True) == run(transform=False)


def test_compacted_objects_share_their_strings_and_stay_equal_unit():
    import json

    network = new_network()
    _, sts = desired_objects(network)
    raw = json.dumps(sts)
    first, second = (transforms.slim_statefulset(json.loads(raw)) for _ in range(2))
    assert first == json.loads(raw)  # nothing but managedFields/status would be dropped
    a = first["spec"]["template"]["spec"]["containers"][0]
    b = second["spec"]["template"]["spec"]["containers"][0]
    assert a["imagePullPolicy"] is b["imagePullPolicy"]  # one copy of each short value ...
    assert next(iter(a)) is next(iter(b))  # ... and of each key
