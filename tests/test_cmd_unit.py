"""Unit tests of the command: flags and environment, HTTP endpoints, log redaction, the network CLI."""

from __future__ import annotations

import argparse
import io
import json
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from bitcoin_controller.cmd.network import converged, render_status
from bitcoin_controller.cmd.options import parse_duration, parse_options
from bitcoin_controller.cmd.servers import HTTPEndpoints, parse_bind_address
from bitcoin_controller.logs import REDACTED, configure_logging

# -- flags -------------------------------------------------------------------------


def test_defaults_match_the_documented_ones_unit():
    opts = parse_options([], environ={})
    assert opts.workers == 4
    assert opts.resync_period == 30.0
    assert opts.leader_elect is False
    assert opts.leader_election_id == "bitcoin-controller"
    assert opts.metrics_bind_address == ":8080"
    assert opts.health_probe_bind_address == ":8081"
    assert opts.namespace == ""
    assert opts.default_image_btcd.endswith("/btcd:v0.24.2")


def test_environment_sets_flags_and_command_line_wins_unit():
    env = {"BITCOIN_CONTROLLER_WORKERS": "5", "BITCOIN_CONTROLLER_RESYNC_PERIOD": "1m30s",
           "BITCOIN_CONTROLLER_LEADER_ELECT": "true", "BITCOIN_CONTROLLER_NAMESPACE": "btc"}
    opts = parse_options([], environ=env)
    assert (opts.workers, opts.resync_period, opts.leader_elect, opts.namespace) == (5, 90.0, True, "btc")
    opts = parse_options(["--workers", "7", "--leader-elect=false"], environ=env)
    assert (opts.workers, opts.leader_elect) == (7, False)


def test_bad_values_are_rejected_with_the_variable_named_unit(capsys):
    with pytest.raises(SystemExit):
        parse_options([], environ={"BITCOIN_CONTROLLER_RESYNC_PERIOD": "soon"})
    assert "BITCOIN_CONTROLLER_RESYNC_PERIOD" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_options(["--workers", "0"], environ={})


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30.0), ("500ms", 0.5), ("1h2m3s", 3723.0), ("2.5", 2.5), ("0", 0.0)]
)
def test_durations_unit(text, seconds):
    assert parse_duration(text) == seconds


def test_negative_duration_is_rejected_unit():
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration("-1")


def test_help_documents_every_flag_with_its_default_unit(capsys):
    with pytest.raises(SystemExit):
        parse_options(["--help"], environ={})
    out = capsys.readouterr().out
    for flag in ("--kubeconfig", "--namespace", "--workers", "--resync-period", "--leader-elect",
                 "--leader-election-namespace", "--leader-election-id", "--metrics-bind-address",
                 "--health-probe-bind-address", "--log-format", "--log-level", "--default-image-bitcoind",
                 "--default-image-btcd"):
        assert flag in out
    assert "(default: 4)" in out and "BITCOIN_CONTROLLER_WORKERS" in out


# -- endpoints ---------------------------------------------------------------------


def _get(address: tuple[str, int], path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://{address[0]}:{address[1]}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def test_metrics_and_health_endpoints_unit():
    registry = CollectorRegistry()
    Counter("demo_things", "Things.", registry=registry).inc(3)
    problem = {"value": None}
    endpoints = HTTPEndpoints(
        registry, "127.0.0.1:0", "127.0.0.1:0",
        healthz={"workers": lambda: problem["value"]}, readyz={"caches": lambda: "not synced"},
    )
    endpoints.start()
    try:
        metrics_addr, health_addr = endpoints.addresses
        status, body = _get(metrics_addr, "/metrics")
        assert status == 200 and "demo_things_total 3.0" in body
        assert _get(health_addr, "/healthz") == (200, "ok\n")
        problem["value"] = "syncs stuck: default/net"
        status, body = _get(health_addr, "/healthz")
        assert status == 500 and "workers failed: syncs stuck: default/net" in body
        status, body = _get(health_addr, "/readyz")
        assert status == 500 and "caches failed" in body
        assert _get(health_addr, "/nope")[0] == 404
    finally:
        endpoints.stop()


def test_bind_addresses_unit():
    assert parse_bind_address(":8080") == ("", 8080)
    assert parse_bind_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_bind_address("[::1]:9") == ("::1", 9)
    assert parse_bind_address("0") is None


# -- logs ----------------------------------------------------------------------------


def test_json_logs_redact_credentials_unit():
    import structlog

    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    try:
        log = structlog.get_logger("t")
        log.info("calling", password="hunter2", url="http://user:hunter3@10.0.0.1:18443/",
                 header="Authorization: Basic dXNlcjpodW50ZXI0", namespace="default", network="net")
        log.debug("hidden at info level")
    finally:
        configure_logging("console", "info")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 1
    line = lines[0]
    assert line["password"] == REDACTED
    assert "hunter3" not in line["url"] and "hunter4" not in out.getvalue()
    assert (line["namespace"], line["network"], line["level"]) == ("default", "net", "info")


# -- network CLI rendering -------------------------------------------------------------


NETWORK = {
    "metadata": {"name": "net", "namespace": "default", "generation": 2},
    "spec": {"nodes": 2, "implementation": "btcd"},
    "status": {
        "observedGeneration": 2,
        "readyNodes": 2,
        "bestHeight": 101,
        "nodes": [
            {"ordinal": 0, "ready": True, "ip": "127.0.100.1", "peers": 2, "blocks": 101, "nodeName": "net-sts-0"},
            {"ordinal": 1, "ready": True, "ip": "127.0.100.2", "peers": 2, "blocks": 101, "nodeName": "net-sts-1"},
        ],
        "conditions": [
            {"type": t, "status": "True", "reason": "R", "message": "m"} for t in ("Ready", "Connected", "Synced")
        ],
    },
}


def test_status_table_unit():
    text = render_status(NETWORK)
    assert "2 ready, best height 101" in text
    assert "127.0.100.2" in text and "net-sts-1" in text
    assert "Connected True" in " ".join(text.split())


def test_converged_needs_all_conditions_for_this_generation_unit():
    assert converged(NETWORK)
    stale = json.loads(json.dumps(NETWORK))
    stale["metadata"]["generation"] = 3
    assert not converged(stale)
    split = json.loads(json.dumps(NETWORK))
    split["status"]["conditions"][1]["status"] = "False"
    assert not converged(split)


def test_leader_election_timings_are_flags_and_validated_unit(capsys):
    opts = parse_options(["--leader-elect", "--leader-elect-lease-duration", "4s",
                          "--leader-elect-renew-deadline", "3s", "--leader-elect-retry-period", "500ms"], environ={})
    assert (opts.leader_elect_lease_duration, opts.leader_elect_renew_deadline,
            opts.leader_elect_retry_period) == (4.0, 3.0, 0.5)
    with pytest.raises(SystemExit):
        parse_options(["--leader-elect", "--leader-elect-renew-deadline", "20s"], environ={})
    assert "lease duration > renew deadline" in capsys.readouterr().err
