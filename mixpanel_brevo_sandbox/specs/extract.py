"""Regenerate the vendored API pieces from the official specs in ``../shared/specs``.

Run once by hand (``python mixpanel_brevo_sandbox/specs/extract.py``); the sandbox never imports
this module.
It copies the Brevo request schemas and the Mixpanel request parameters the sandbox validates
against, then applies the documented deviations listed in ``DEVIATIONS`` below.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
SHARED_SPECS = HERE.parents[2] / "shared" / "specs"

BREVO_SCHEMAS = (
    "event",
    "requestContactImport",
    "createAttribute",
    "createList",
    "createUpdateFolder",
    "addContactToListByEmails",
    "addContactToListByIDs",
    "addContactToListByExtIDs",
    "removeContactFromListByEmails",
    "removeContactFromListByIDs",
    "removeContactFromListByExtIDs",
    "removeContactFromListByAll",
    "errorModel",
    "updateContact",
)

# Brevo's 2026 API (developers.brevo.com/docs/event-endpoints) widened event_properties values to
# string/number/boolean/date/object/array; the saved 2025 spec allows only string/integer/
# object/array-of-object. The sandbox follows the 2026 API.
EVENT_PROPERTY_VALUES_2026 = {
    "anyOf": [
        {"type": "string"},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "object"},
        {"type": "array"},
    ]
}

# POST /events/batch was added on 2026-03-03 and is absent from the saved spec; its body shape
# comes from developers.brevo.com/reference/create-batch-events.
EVENTS_BATCH = {
    "type": "object",
    "required": ["events"],
    "properties": {"events": {"type": "array", "items": {"type": "object"}}},
}

# Request bodies the spec writes inline under an operation (Brevo CRM companies): name -> path.
BREVO_INLINE_BODIES = {
    "createCrmAttribute": ("/crm/attributes", "post", "application/json"),
    "linkUnlinkCompany": ("/companies/link-unlink/{id}", "patch", "application/json"),
    "importCompanies": ("/companies/import", "post", "multipart/form-data"),
}

MIXPANEL_OPERATIONS = {
    "export": ("export.openapi.yaml", "/export", "get"),
    "engage": ("query.openapi.yaml", "/engage", "post"),
    "cohorts_list": ("query.openapi.yaml", "/cohorts/list", "post"),
    "events": ("query.openapi.yaml", "/events", "get"),
    "lookup_tables_list": ("ingestion.openapi.yaml", "/lookup-tables", "get"),
    "insights": ("query.openapi.yaml", "/insights", "get"),
    "funnels": ("query.openapi.yaml", "/funnels", "get"),
    "funnels_list": ("query.openapi.yaml", "/funnels/list", "get"),
    "segmentation": ("query.openapi.yaml", "/segmentation", "get"),
    "retention": ("query.openapi.yaml", "/retention", "get"),
    "jql": ("query.openapi.yaml", "/jql", "post"),
}

# Answers the sandbox's report endpoints are checked against (tests): each operation's 200 schema.
MIXPANEL_RESPONSES = ("insights", "funnels", "funnels_list", "segmentation", "retention", "jql")

# Mixpanel's annotations.openapi.yaml (docs.mixpanel.com/openapi/annotations.openapi.yaml,
# mixpanel/docs ba229069) is not among ../shared/specs: its list operation's query parameters and
# 200 schema (ListAnnotationsResponse, references inlined), copied by hand.
ANNOTATIONS_PARAMS = [
    {"name": "fromDate", "required": False, "type": "string"},
    {"name": "toDate", "required": False, "type": "string"},
]
ANNOTATIONS_RESPONSE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status", "results"],
    "properties": {
        "status": {"type": "string"},
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "date": {"type": "string"},
                    "description": {"type": "string"},
                    "id": {"type": "number"},
                    "user": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "number"},
                            "first_name": {"type": "string"},
                            "last_name": {"type": "string"},
                        },
                    },
                    "tags": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "properties": {"id": {"type": "number"}, "name": {"type": "string"}},
                        },
                    },
                },
            },
        },
    },
}


def _load(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        data = yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))  # noqa: S506
    return json.loads(json.dumps(data, default=str))


def mixpanel_parameters(spec: dict[str, Any], path: str, method: str) -> list[dict[str, Any]]:
    """Flatten an operation's query parameters and form-body properties into one list.

    Shared parameters (``$ref``) are resolved; a parameter with an ``enum`` keeps its values.
    """
    operation = spec["paths"][path][method]
    shared = spec.get("components", {}).get("parameters", {})
    query = [
        shared[p["$ref"].rsplit("/", 1)[-1]] if "$ref" in p else p
        for p in operation.get("parameters", [])
    ]
    params = [
        _parameter(p["name"], bool(p.get("required", False)), p["schema"])
        for p in query
        if p.get("in") == "query"
    ]
    form = (
        operation.get("requestBody", {})
        .get("content", {})
        .get("application/x-www-form-urlencoded", {})
        .get("schema", {})
    )
    required = set(form.get("required", []))
    params += [
        _parameter(name, name in required, schema)
        for name, schema in form.get("properties", {}).items()
    ]
    return params


def mixpanel_response(spec: dict[str, Any], path: str, method: str) -> dict[str, Any]:
    """An operation's JSON 200 schema with its ``$ref``s to component schemas inlined."""
    content = spec["paths"][path][method]["responses"]["200"]["content"]["application/json"]
    return _inline(content["schema"], spec.get("components", {}).get("schemas", {}))


def _inline(node: Any, schemas: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        if "$ref" in node:
            return _inline(schemas[node["$ref"].rsplit("/", 1)[-1]], schemas)
        return {key: _inline(value, schemas) for key, value in node.items()}
    if isinstance(node, list):
        return [_inline(value, schemas) for value in node]
    return node


def _parameter(name: str, required: bool, schema: dict[str, Any]) -> dict[str, Any]:
    entry = {"name": name, "required": required, "type": schema["type"]}
    if "enum" in schema:
        entry["enum"] = schema["enum"]
    return entry


def main() -> None:
    """Write ``brevo_schemas.json``, ``mixpanel_params.json`` and ``mixpanel_responses.json``."""
    if not SHARED_SPECS.is_dir():
        sys.exit(f"official specs not found at {SHARED_SPECS}")
    brevo_spec = _load(SHARED_SPECS / "brevo" / "swagger_definition_v3.yml")
    brevo = brevo_spec["components"]["schemas"]
    schemas = {name: brevo[name] for name in BREVO_SCHEMAS}
    for name, (path, method, content) in BREVO_INLINE_BODIES.items():
        body = brevo_spec["paths"][path][method]["requestBody"]["content"][content]
        schemas[name] = body["schema"]
    schemas["event"]["properties"]["event_properties"]["additionalProperties"] = (
        EVENT_PROPERTY_VALUES_2026
    )
    schemas["eventsBatch"] = EVENTS_BATCH
    (HERE / "brevo_schemas.json").write_text(json.dumps(schemas, indent=1) + "\n")

    params, responses = {}, {}
    for key, (filename, path, method) in MIXPANEL_OPERATIONS.items():
        spec = _load(SHARED_SPECS / "mixpanel" / filename)
        params[key] = mixpanel_parameters(spec, path, method)
        if key in MIXPANEL_RESPONSES:
            responses[key] = mixpanel_response(spec, path, method)
    params["annotations"] = ANNOTATIONS_PARAMS
    responses["annotations"] = ANNOTATIONS_RESPONSE
    (HERE / "mixpanel_params.json").write_text(json.dumps(params, indent=1) + "\n")
    (HERE / "mixpanel_responses.json").write_text(json.dumps(responses, indent=1) + "\n")


if __name__ == "__main__":
    main()
