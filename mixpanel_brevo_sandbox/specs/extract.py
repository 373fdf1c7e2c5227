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
        .get("properties", {})
    )
    params += [_parameter(name, False, schema) for name, schema in form.items()]
    return params


def _parameter(name: str, required: bool, schema: dict[str, Any]) -> dict[str, Any]:
    entry = {"name": name, "required": required, "type": schema["type"]}
    if "enum" in schema:
        entry["enum"] = schema["enum"]
    return entry


def main() -> None:
    """Write ``brevo_schemas.json`` and ``mixpanel_params.json`` beside this file."""
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

    params = {}
    for key, (filename, path, method) in MIXPANEL_OPERATIONS.items():
        spec = _load(SHARED_SPECS / "mixpanel" / filename)
        params[key] = mixpanel_parameters(spec, path, method)
    (HERE / "mixpanel_params.json").write_text(json.dumps(params, indent=1) + "\n")


if __name__ == "__main__":
    main()
