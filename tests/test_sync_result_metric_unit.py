"""The sync metric's ``result`` label says what happened to the key (issue 11, item 15).

A key dropped because its namespace is being deleted, or because an object
vanished mid-sync, was neither synced nor failed: it is counted as
``dropped``, so a dashboard of ``result="success"`` does not show work that
was abandoned.
"""

from __future__ import annotations

import pytest
from controller_fixture import NAMESPACE, Fixture, new_network, new_secret

from bitcoin_controller.apimachinery import errors
from bitcoin_controller.componentbase.metrics.legacyregistry import REGISTRY

KEY = f"{NAMESPACE}/net"


def syncs(result: str) -> float:
    return REGISTRY.get_sample_value("bitcoin_controller_syncs_total", {"result": result}) or 0.0


def durations(result: str) -> float:
    labels = {"result": result}
    return REGISTRY.get_sample_value("bitcoin_controller_sync_duration_seconds_count", labels) or 0.0


def terminating() -> errors.StatusError:
    refusal = errors.new_forbidden("services", "net-svc", "namespace default is being terminated")
    refusal.status["details"]["causes"] = [{"reason": "NamespaceTerminating", "message": "terminating"}]
    return refusal


def vanished() -> errors.StatusError:
    return errors.new_not_found("services", "net-svc")


@pytest.mark.parametrize("failure", [terminating, vanished], ids=["terminating-namespace", "not-found"])
def test_dropped_key_is_counted_as_dropped_not_success_unit(failure):
    f = Fixture()
    f.seed(new_network(implementation="bitcoind"), new_secret())
    controller = f.new_controller()
    f.client.prepend_reactor("create", "services", lambda action: (True, None, failure()))
    before = {r: (syncs(r), durations(r)) for r in ("success", "dropped", "error")}
    controller.workqueue.add(KEY)
    controller.process_next_work_item()
    after = {r: (syncs(r), durations(r)) for r in ("success", "dropped", "error")}
    assert controller.workqueue.len() == 0  # still dropped, not retried
    assert {r: (after[r][0] - before[r][0], after[r][1] - before[r][1]) for r in after} == {
        "success": (0, 0), "dropped": (1, 1), "error": (0, 0)}
