"""The process's exit codes: a crash is a crash, a lost lease is a lost lease (issue 11, item 13).

A :class:`~bitcoin_controller.cmd.app.Process` runs against a fake API server
on 127.0.0.1 that serves the leader-election Lease.  Its controller is made
to raise; the process must say so (exit 1, "crashed" in the log), not claim
it lost the lease (exit 3), which would send an operator looking at the API
server instead of at the bug.
"""

from __future__ import annotations

import threading

import pytest
import yaml
from fake_apiserver import FakeAPIServer, Reply, status

from bitcoin_controller.cmd import app
from bitcoin_controller.cmd.options import parse_options

NS = "ctl"
LEASES = f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases"
LEASE = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "metadata": {"name": "bitcoin-controller", "namespace": NS, "resourceVersion": "1"},
         "spec": {"holderIdentity": "x", "leaseDurationSeconds": 2}}


@pytest.fixture
def server():
    srv = FakeAPIServer()
    yield srv
    srv.close()


def process(tmp_path, server: FakeAPIServer, leader_elect: bool) -> app.Process:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": server.url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "main", "context": {"cluster": "c", "user": "u"}}],
        "current-context": "main",
    }))
    args = ["--kubeconfig", str(kubeconfig), "--metrics-bind-address", "0",
            "--health-probe-bind-address", "0", f"--leader-elect={str(leader_elect).lower()}",
            "--leader-election-namespace", NS, "--leader-elect-lease-duration", "2s",
            "--leader-elect-renew-deadline", "1s", "--leader-elect-retry-period", "200ms"]
    return app.Process(parse_options(args, environ={}))


def run_with_deadline(proc: app.Process) -> int:
    outcome: dict = {}
    thread = threading.Thread(target=lambda: outcome.update(code=proc.run()), daemon=True)
    thread.start()
    thread.join(20)
    if thread.is_alive():
        proc.stop.set()
        thread.join(20)
        pytest.fail("the process did not exit")
    assert "code" in outcome, "Process.run raised instead of returning an exit code"
    return outcome["code"]


def crash(workers, stop, drain_timeout):
    raise ValueError("boom in the controller")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("leader_elect", [True, False], ids=["leader-elect", "single"])
def test_a_crashing_controller_exits_as_crashed_not_as_lost_lease_unit(tmp_path, server, leader_elect):
    server.route("POST", LEASES, Reply(201, LEASE))
    server.route("PUT", f"{LEASES}/bitcoin-controller", Reply(200, LEASE))
    proc = process(tmp_path, server, leader_elect)
    proc.controller.run = crash
    code = run_with_deadline(proc)
    assert code == app.EXIT_CRASH != app.EXIT_LOST_LEASE
    assert not proc.lost_lease
    if leader_elect:
        # It did lead (created the Lease) before the work crashed.
        assert any(r.method == "POST" and r.path == LEASES for r in server.requests)


@pytest.mark.timeout(60)
def test_a_lost_lease_still_exits_3_unit(tmp_path, server):
    # Acquired once (404 then create), then every read and renewal fails.
    server.route("GET", f"{LEASES}/bitcoin-controller",
                 Reply(404, status(404, "NotFound", "no lease")),
                 Reply(500, status(500, "InternalError", "etcd is away")))
    server.route("POST", LEASES, Reply(201, LEASE))
    server.route("PUT", f"{LEASES}/bitcoin-controller", Reply(500, status(500, "InternalError", "no")))
    proc = process(tmp_path, server, True)
    started = threading.Event()

    def work(workers, stop, drain_timeout):
        started.set()
        stop.wait()

    proc.controller.run = work
    assert run_with_deadline(proc) == app.EXIT_LOST_LEASE
    assert started.is_set()
