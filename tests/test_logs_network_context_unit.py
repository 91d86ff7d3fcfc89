"""Unit tests of ``bitcoin_controller.logs.add_network_context``: one filter finds a network's lines."""

from __future__ import annotations

import io
import json

import structlog

from bitcoin_controller.logs import add_network_context, configure_logging


def _lines(emit) -> list[dict]:
    buffer = io.StringIO()
    configure_logging("json", "info", buffer)
    emit(structlog.get_logger("test"))
    return [json.loads(line) for line in buffer.getvalue().splitlines()]


def test_queue_key_lines_get_namespace_and_network_unit():
    (line,) = _lines(lambda log: log.warning("sync failed; requeued with backoff", key="team-a/net-1", retries=2))
    assert (line["key"], line["namespace"], line["network"]) == ("team-a/net-1", "team-a", "net-1")


def test_event_lines_about_a_network_get_all_three_fields_unit():
    (line,) = _lines(
        lambda log: log.info("Event occurred", object="team-a/net-1", kind="BitcoinNetwork", reason="Synced")
    )
    assert (line["key"], line["namespace"], line["network"]) == ("team-a/net-1", "team-a", "net-1")


def test_events_about_other_kinds_are_not_mistaken_for_networks_unit():
    (line,) = _lines(
        lambda log: log.info("Event occurred", object="bitcoin-controller/bitcoin-controller", kind="Lease")
    )
    assert "network" not in line and "key" not in line and "namespace" not in line


def test_fields_already_bound_win_and_odd_keys_are_left_alone_unit():
    bound = add_network_context(None, "info", {"key": "a/b", "namespace": "x", "network": "y"})
    assert (bound["namespace"], bound["network"]) == ("x", "y")
    assert add_network_context(None, "info", {"key": "no-slash"}) == {"key": "no-slash"}
    assert add_network_context(None, "info", {"key": "/b"}) == {"key": "/b"}
