"""The sandbox's vendored API pieces match the official specs (where ../shared/specs exists)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft7Validator

from mixpanel_brevo_sandbox.specs import (
    brevo_schemas,
    extract,
    mixpanel_params,
    mixpanel_responses,
)

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
needs_specs = pytest.mark.skipif(
    not SPECS.is_dir(), reason=f"official specs not present at {SPECS} (they live beside the repo)"
)


def load(path: Path):
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    return json.loads(json.dumps(data, default=str))


@pytest.fixture(scope="module")
def official_brevo():
    return load(SPECS / "brevo" / "swagger_definition_v3.yml")


def test_vendored_schemas_are_valid_json_schemas():
    for name, schema in brevo_schemas().items():
        Draft7Validator.check_schema(schema)
        assert name in (*extract.BREVO_SCHEMAS, *extract.BREVO_INLINE_BODIES, "eventsBatch")
    assert set(mixpanel_params()) == {*extract.MIXPANEL_OPERATIONS, "annotations"}
    assert set(mixpanel_responses()) == {*extract.MIXPANEL_RESPONSES, "annotations"}
    for schema in mixpanel_responses().values():
        Draft7Validator.check_schema(schema)


@needs_specs
def test_vendored_brevo_schemas_equal_the_official_ones(official_brevo):
    official = official_brevo["components"]["schemas"]
    vendored = brevo_schemas()
    for name in extract.BREVO_SCHEMAS:
        if name != "event":
            assert vendored[name] == official[name], name


@needs_specs
def test_event_schema_differs_only_by_the_2026_property_value_types(official_brevo):
    official = official_brevo["components"]["schemas"]["event"]
    vendored = copy.deepcopy(brevo_schemas()["event"])
    widened = vendored["properties"]["event_properties"].pop("additionalProperties")
    original = copy.deepcopy(official)
    old = original["properties"]["event_properties"].pop("additionalProperties")
    assert vendored == original
    # 2026 API (developers.brevo.com/docs/event-endpoints): string/number/boolean/date/object/array.
    assert widened == extract.EVENT_PROPERTY_VALUES_2026
    old_types = {branch["type"] for branch in old["anyOf"]}
    new_types = {branch["type"] for branch in widened["anyOf"]}
    assert old_types == {"string", "integer", "object", "array"}
    assert new_types == {"string", "number", "boolean", "object", "array"}
    validator = Draft7Validator(widened)
    assert all(validator.is_valid(v) for v in ("s", 1, 1.5, True, {"a": 1}, [{"a": 1}], ["x"]))


@needs_specs
def test_events_batch_is_not_in_the_2025_spec(official_brevo):
    # Hence the hand-written eventsBatch schema (body: developers.brevo.com, Create batch events).
    assert "/events/batch" not in official_brevo["paths"]
    assert brevo_schemas()["eventsBatch"] == extract.EVENTS_BATCH


@needs_specs
def test_vendored_mixpanel_parameters_equal_the_official_ones():
    for key, (filename, path, method) in extract.MIXPANEL_OPERATIONS.items():
        spec = load(SPECS / "mixpanel" / filename)
        assert mixpanel_params()[key] == extract.mixpanel_parameters(spec, path, method), key


@needs_specs
def test_vendored_mixpanel_answers_equal_the_official_ones():
    spec = load(SPECS / "mixpanel" / "query.openapi.yaml")
    for key in extract.MIXPANEL_RESPONSES:
        _, path, method = extract.MIXPANEL_OPERATIONS[key]
        assert mixpanel_responses()[key] == extract.mixpanel_response(spec, path, method), key
    # The segmentation series is the spec's shared ``series`` schema, inlined.
    series = mixpanel_responses()["segmentation"]["properties"]["data"]["properties"]["series"]
    assert series == spec["components"]["schemas"]["series"]
