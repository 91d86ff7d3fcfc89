"""Unit tests of the command: flags and environment, HTTP endpoints, log redaction, the network CLI."""

from __future__ import annotations

import argparse
import io
import json
import urllib.request

import pytest
from prometheus_client import CollectorRegistry, Counter

from bitcoin_controller.cmd.network import (
    SUBCOMMANDS,
    complete,
    converged,
    plugin_complete_main,
    render_list,
    render_status,
)
from bitcoin_controller.cmd.network import main as network_main
from bitcoin_controller.cmd.options import parse_duration, parse_options
from bitcoin_controller.cmd.printers import dump_yaml
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


# -- network CLI: output formats, listing, completion -------------------------------------------


def test_status_wide_adds_rpc_endpoint_with_ipv6_in_brackets_unit():
    v6 = json.loads(json.dumps(NETWORK))
    v6["status"]["nodes"][0]["ip"] = "fd00::1"
    text = render_status(v6, wide=True)
    assert "[fd00::1]:18334" in text and "127.0.100.2:18334" in text
    assert "RPC" in text.splitlines()[2] and "RPC" not in render_status(v6).splitlines()[2]


def test_status_list_table_like_kubectl_get_unit():
    other = json.loads(json.dumps(NETWORK))
    other["metadata"].update(name="b", namespace="btc")
    lines = render_list([NETWORK, other], all_namespaces=True).splitlines()
    assert lines[0].split() == ["NAMESPACE", "NAME", "IMPLEMENTATION", "NODES", "READY", "HEIGHT"]
    assert lines[2].split() == ["btc", "b", "btcd", "2", "2/2", "101"]
    assert render_list([NETWORK], all_namespaces=False, wide=True).splitlines()[0].split()[-2:] == [
        "CONNECTED", "SYNCED"]


YAML_SAMPLES = [
    NETWORK,
    {"s": ["yes", "No", "1e3", "0x1f", "", " lead", "a: b", "#c", "-x", "~", "null", "2024-01-01", "ü", "x\n\n"]},
    {"pem": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n", "nested": [[1, [2]], [], {}]},
    {"numbers": [0, -1, 1.5, 1e-9, 2.5e20, 1e22, True, False, None]},
    [],
    {},
]


@pytest.mark.parametrize("data", YAML_SAMPLES)
def test_yaml_emitter_reads_back_as_the_same_data_unit(data):
    import yaml

    assert yaml.safe_load(dump_yaml(data)) == data


def test_yaml_emitter_writes_certificates_as_literal_blocks_unit():
    text = dump_yaml({"rpcCertificate": "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"})
    assert text.splitlines() == ["rpcCertificate: |", "  -----BEGIN CERTIFICATE-----", "  MIIB",
                                 "  -----END CERTIFICATE-----"]


@pytest.mark.parametrize(("words", "expected"), [
    ([""], list(SUBCOMMANDS)),
    (["st"], ["status"]),
    (["status", "-"], None),  # flags: checked below
    (["status", "-o", ""], ["json", "yaml", "wide"]),
    (["--kubeconfig", "x", "mine", "net-b"], ["net-b"]),
    (["mine", ""], ["net-a", "net-b"]),
    (["rpc", "net-a", ""], ["0", "1"]),
    (["rpc", "net-a", "0", "getbl"], ["getblockchaininfo", "getblockcount", "getblockhash", "getblock"]),
    (["completion", ""], ["bash", "zsh"]),
    (["-n", ""], ["btc", "default"]),
])
def test_completion_candidates_unit(words, expected):
    def lister(args, what):
        return {"networks": ["net-a", "net-b"], "namespaces": ["btc", "default"],
                "ordinals:net-a": ["0", "1"]}[what]

    got = complete(words, environ={}, lister=lister)
    if expected is None:
        assert "--watch" in got and "--kubeconfig" in got and "--node" not in got
    else:
        assert sorted(got) == sorted(expected)


def test_completion_never_fails_when_the_cluster_does_unit():
    def lister(args, what):
        raise ConnectionError("down")

    assert complete(["mine", ""], environ={}, lister=lister) == []


def test_plugin_completion_protocol_and_scripts_unit(capsys):
    assert plugin_complete_main(["completion", ""]) == 0
    assert capsys.readouterr().out.splitlines() == ["bash", "zsh", ":4"]
    assert network_main(["completion", "bash"], prog="kubectl btcnet") == 0
    script = capsys.readouterr().out
    # For kubectl-btcnet, never for kubectl itself (kubectl completes "kubectl btcnet" on its own).
    assert "complete -o default -F _kubectl_btcnet_complete kubectl-btcnet" in script
    assert '"kubectl-btcnet" __complete' in script and "complete -F _kubectl_complete kubectl\n" not in script
    assert network_main(["completion", "zsh"]) == 0
    assert "compdef _bitcoin_controller_complete bitcoin-controller" in capsys.readouterr().out


def test_root_completion_offers_network_then_delegates_unit(capsys):
    from bitcoin_controller.cmd.main import main as root_main

    assert root_main(["__complete", "ne"]) == 0
    assert capsys.readouterr().out.splitlines() == ["network", ":4"]
    assert root_main(["__complete", "--kubeconfig", "k", "network", "lo"]) == 0
    assert capsys.readouterr().out.splitlines() == ["logs", ":4"]


def test_setup_cfg_ships_the_kubectl_plugin_unit():
    import configparser
    import pathlib

    cfg = configparser.ConfigParser()
    cfg.read(pathlib.Path(__file__).resolve().parent.parent / "setup.cfg")
    scripts = cfg["options.entry_points"]["console_scripts"]
    # kubectl finds plugins as kubectl-<name> on PATH, and completes them with kubectl_complete-<name>.
    assert "kubectl-btcnet = bitcoin_controller.cmd.network:plugin_main" in scripts
    assert "kubectl_complete-btcnet = bitcoin_controller.cmd.network:plugin_complete_main" in scripts
