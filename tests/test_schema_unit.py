"""apimachinery's ResourceInfo and Scheme lookups, and the clientset's SCHEME built from them."""

from __future__ import annotations

import pytest

from bitcoin_controller.apimachinery.schema import ResourceInfo, Scheme
from bitcoin_controller.apis.bitcoincontroller import v1
from bitcoin_controller.clientgo.kubernetes import scheme

WIDGETS = ResourceInfo("example.dev", "v1", "widgets", "Widget")
GADGETS = ResourceInfo("", "v1", "gadgets", "Gadget", namespaced=False)


def test_scheme_lookups_unit():
    s = Scheme([WIDGETS, GADGETS], status_subresources=[WIDGETS])
    assert s.resource_for({"apiVersion": "example.dev/v1", "kind": "Widget"}) is WIDGETS
    assert s.resource_for_kind("v1", "Gadget") is GADGETS
    assert s.resource_named("gadgets") is GADGETS
    assert s.for_group_resource("example.dev", "widgets") is WIDGETS
    assert s.for_group_resource("", "widgets") is None
    assert s.status_subresources == {("example.dev", "widgets")}
    with pytest.raises(KeyError):
        s.resource_for({"apiVersion": "v1", "kind": "Widget"})


def test_resource_info_paths_unit():
    assert WIDGETS.path("ns", "w", "status") == "/apis/example.dev/v1/namespaces/ns/widgets/w/status"
    assert GADGETS.path("ns", "g") == "/api/v1/gadgets/g"  # cluster-scoped: no namespace
    assert (WIDGETS.group_resource, GADGETS.group_resource) == ("widgets.example.dev", "gadgets")


def test_the_clientsets_scheme_serves_the_api_types_resource_unit():
    # The API types define their resource from apimachinery alone; the clientset must agree.
    assert scheme.SCHEME.resource_for_kind(v1.API_VERSION, v1.KIND) == v1.RESOURCE
    assert scheme.SCHEME.status_subresources == {("apps", "statefulsets"), (v1.GROUP, v1.PLURAL)}
