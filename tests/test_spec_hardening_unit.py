"""Specs the CRD schema lets through (issue 11, items 7 and 8).

Every spec the API server accepts must end in either a working network or
an ``InvalidSpec`` Event and condition -- never in an exception that retries
the key forever with nothing to show for it.  The property test generates
specs from the schema in ``manifests/crd.yaml`` itself (translated into
hypothesis strategies below), so a constraint added to or removed from the
CRD changes what is tried.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from controller_fixture import Fixture, new_network, new_secret
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bitcoin_controller.apis.bitcoincontroller import v1
from bitcoin_controller.controller import resources as res

ROOT = Path(__file__).resolve().parent.parent
CRD = yaml.safe_load((ROOT / "manifests" / "crd.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
INT64 = 2**63 - 1


def conditions(status: dict) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c["reason"]) for c in status.get("conditions", [])}


def written_status(f: Fixture) -> dict:
    updates = [a for a in f.client.actions() if a.verb == "update" and a.subresource == "status"]
    assert updates, "the controller wrote no status"
    return updates[-1].object["status"]


# -- item 8: validation gaps --------------------------------------------------------


@pytest.mark.parametrize(
    "image",
    [
        "bitcoin/bitcoin:28é",  # \w matched Unicode letters
        "bitcoin/bitcoin:２８",  # full-width digits
        "bitcoin/bitcoin:28\n",  # $ matched before a trailing newline
        "bitcoin/bitcoin\n",
        "ghcr.io\n/bitcoin",
    ],
)
def test_image_tags_are_ascii_and_anchored_unit(image):
    problems = v1.validate(v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "image": image}))
    assert problems and problems[0].startswith("spec.image"), image


@pytest.mark.parametrize("secret", ["creds\n", "créds"])
def test_secret_name_pattern_is_anchored_unit(secret):
    problems = v1.validate(v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "secret": secret}))
    assert problems and problems[0].startswith("spec.secret")


def test_quantity_with_trailing_newline_is_rejected_unit():
    with pytest.raises(ValueError):
        v1.parse_quantity("1\n")


def test_name_with_trailing_newline_is_rejected_unit():
    assert v1.validate_name("net\n")


def test_sync_checks_the_network_name_unit():
    # 63 characters: a valid object name, but <name>-sts-0 would be 69.
    name = "n" * 63
    f = Fixture()
    f.seed(new_network(name=name, nodes=1), new_secret())
    assert f.sync(f"default/{name}") is None
    created = [a.object["metadata"]["name"] for a in f.client.actions() if a.verb == "create"]
    assert created == [], f"children created for an over-long name: {created}"
    assert any(e.startswith("Warning InvalidSpec") and "metadata.name" in e for e in f.events())
    assert conditions(written_status(f))["Ready"] == ("False", "InvalidSpec")


def test_crd_bounds_the_name_so_children_fit_a_label_unit():
    name_schema = SCHEMA["properties"]["metadata"]["properties"]["name"]
    longest = "n" * name_schema["maxLength"]
    assert name_schema["maxLength"] == v1.MAX_NAME_LENGTH
    for child in (
        res.pod_name(longest, v1.MAX_NODES - 1),
        res.tls_secret_name(longest),
        res.statefulset_name(longest) + "-" + "h" * 10,  # controller-revision-hash label
    ):
        assert len(child) <= 63, child


# -- item 7: quantities the CRD pattern accepts -------------------------------------


@pytest.mark.parametrize("value", ["1e1000000", "1E999999", "9" * 30 + "e30", "1e-1000000", 2**70])
def test_out_of_range_quantities_are_invalid_not_exceptions_unit(value):
    with pytest.raises(ValueError):
        v1.parse_quantity(value)
    spec = v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "resources": {"limits": {"cpu": value}}})
    assert any("spec.resources.limits[" in p for p in v1.validate(spec))


def test_overflowing_cpu_limit_gives_invalid_spec_unit():
    f = Fixture()
    f.seed(new_network(nodes=1, resources={"limits": {"cpu": "1e1000000"}}), new_secret())
    assert f.sync() is None  # not raised: no retry loop
    assert ("create", "statefulsets", "") not in [(a.verb, a.resource.resource, "") for a in f.client.actions()]
    assert any(e.startswith("Warning InvalidSpec") for e in f.events())
    assert conditions(written_status(f))["Ready"] == ("False", "InvalidSpec")


def test_problem_messages_quote_values_briefly_unit():
    spec = v1.BitcoinNetworkSpec.from_dict({"nodes": 1, "resources": {"limits": {"cpu": "x" * 100_000}}})
    (problem,) = v1.validate(spec)
    assert len(problem) < 200


# -- item 7: the property ----------------------------------------------------------


def _go_pattern(pattern: str) -> str:
    """A CRD (RE2) pattern for Python: RE2's ``$`` never matches before a final newline."""
    return re.sub(r"\$$", r"\\Z", pattern)


def strategy(schema: dict[str, Any]) -> st.SearchStrategy:
    """Values a structural schema accepts (the subset of OpenAPI the CRD uses)."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if schema.get("x-kubernetes-int-or-string"):
        strings = st.from_regex(_go_pattern(schema["pattern"]), fullmatch=True) if "pattern" in schema \
            else st.text()
        # Plausible values too (all within the schema), or working specs with
        # resources would almost never come up.
        plausible = st.one_of(
            st.integers(0, 64),
            st.from_regex(r"[1-9][0-9]{0,3}(m|Mi|Gi|k|M)?", fullmatch=True),
        )
        return st.one_of(st.integers(-INT64 - 1, INT64), strings, plausible, plausible)
    kind = schema.get("type")
    if kind == "integer":
        low, high = (-(2**31), 2**31 - 1) if schema.get("format") == "int32" else (-INT64 - 1, INT64)
        return st.integers(schema.get("minimum", low), schema.get("maximum", high))
    if kind == "boolean":
        return st.booleans()
    if kind == "string":
        low, high = schema.get("minLength", 0), schema.get("maxLength", 300)
        if "pattern" in schema:
            return st.from_regex(_go_pattern(schema["pattern"]), fullmatch=True).filter(
                lambda s: low <= len(s) <= high
            )
        return st.one_of(
            st.text(min_size=low, max_size=high),
            # Plausible images too, or valid ones would almost never come up.
            st.from_regex(r"[a-z0-9]+(/[a-z0-9._-]+)?(:[A-Za-z0-9_.-]{1,20})?", fullmatch=True),
        )
    if kind == "object":
        if "additionalProperties" in schema:
            keys = st.one_of(
                st.sampled_from(["cpu", "memory", "ephemeral-storage", "hugepages-2Mi", "example.com/gpu"]),
                st.sampled_from(["cpu", "memory"]),
                st.text(max_size=20),
            )
            return st.dictionaries(keys, strategy(schema["additionalProperties"]), max_size=3)
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: strategy(v) for k, v in props.items() if k in required},
            optional={k: strategy(v) for k, v in props.items() if k not in required},
        )
    return st.nothing()


SPECS = strategy(SCHEMA["properties"]["spec"])
# The CEL rules on the root: a DNS-1035 label of at most 48 characters.
NAMES = st.from_regex(r"[a-z]([-a-z0-9]*[a-z0-9])?\Z", fullmatch=True).filter(lambda n: len(n) <= 48)


# SPEC_EXAMPLES=2000 explores further (about 20 s); 150 keeps the unit suite quick.
@settings(
    max_examples=int(os.environ.get("SPEC_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(name=NAMES, spec=SPECS)
@example(name="net", spec={"nodes": 1, "resources": {"limits": {"cpu": "1e1000000"}}})
@example(name="net", spec={"nodes": 1, "resources": {"requests": {"hugepages-2Mi": "1"}}})
@example(name="n" * 48, spec={"nodes": 32})
def test_every_accepted_spec_ends_in_a_network_or_invalid_spec_unit(name, spec):
    f = Fixture()
    network = new_network(name=name, nodes=0)
    network["spec"] = spec
    secret = spec.get("secret", v1.DEFAULT_SECRET)
    f.seed(network, new_secret(name=secret))
    result = f.sync(f"default/{name}")  # must not raise
    assert result is None or result > 0
    events = f.events()
    ready = conditions(written_status(f)).get("Ready")
    if ready == ("False", "InvalidSpec"):
        assert any(e.startswith("Warning InvalidSpec") for e in events), events
        assert not [a for a in f.client.actions() if a.verb == "create" and a.resource.resource == "statefulsets"]
        return
    (sts,) = [a.object for a in f.client.actions() if a.verb == "create" and a.resource.resource == "statefulsets"]
    assert sts["spec"]["replicas"] == spec["nodes"]
    assert len(sts["metadata"]["name"]) <= 52
    container = sts["spec"]["template"]["spec"]["containers"][0]
    for kind in ("limits", "requests"):
        for value in (container.get("resources") or {}).get(kind, {}).values():
            assert 0 <= v1.parse_quantity(value) <= INT64
