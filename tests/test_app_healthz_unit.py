"""The process's ``leader`` liveness check is client-go's leader-election
``HealthzAdaptor`` bound to the process's elector (kube-controller-manager's
wiring), not a re-implementation of it."""

from __future__ import annotations

from bitcoin_controller.clientgo.rest import Config
from bitcoin_controller.clientgo.tools.leaderelection.resourcelock import LeaderElectionRecord
from bitcoin_controller.cmd import app
from bitcoin_controller.cmd.options import parse_options

ARGS = ["--metrics-bind-address", "0", "--health-probe-bind-address", "0",
        "--leader-election-namespace", "ctl", "--leader-elect-lease-duration", "2s",
        "--leader-elect-renew-deadline", "1s", "--leader-elect-retry-period", "200ms"]


def process(leader_elect: bool) -> app.Process:
    opts = parse_options([*ARGS, f"--leader-elect={str(leader_elect).lower()}"], environ={})
    return app.Process(opts, Config(host="http://127.0.0.1:9"))


def test_leader_check_is_the_bound_healthz_adaptor_unit():
    proc = process(leader_elect=True)
    elector = proc.elector
    assert elector is not None
    assert elector._config.watch_dog is proc.leader_healthz
    assert proc._check_lease() is None  # a follower is healthy

    # This replica leads, and last renewed longer ago than lease + the adaptor's 20 s.
    elector._set_observed_record(LeaderElectionRecord(holder_identity=proc.identity))
    elector._observed_time -= 2 + app.LEADER_HEALTHZ_TIMEOUT + 1
    assert "failed election to renew leadership" in (proc._check_lease() or "")

    elector._observed_time += 2  # within the tolerance again
    assert proc._check_lease() is None


def test_leader_check_passes_without_leader_election_unit():
    proc = process(leader_elect=False)
    assert proc.elector is None
    assert proc._check_lease() is None
