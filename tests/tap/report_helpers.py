"""What the report stream tests share: a tap syncing chosen streams, answers shaped as the spec."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import httpx

from tap_mixpanel_tajo.tap import TapMixpanelTajo

BASE = "http://mixpanel.test"
QUERY = f"{BASE}/api/query"
CONFIG = {
    "base_url": BASE,
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "start_date": "2026-11-01",
    "end_date": "2026-11-03",
    "max_retries": 1,
}
REPORTS = ("insights", "funnels", "segmentation", "retention", "annotations")

# Answers shaped as query.openapi.yaml's examples.
INSIGHTS = {
    "computed_at": "2026-11-04T16:35:41.252314+00:00",
    "date_range": {
        "from_date": "2026-11-01T00:00:00+00:00",
        "to_date": "2026-11-02T23:59:59+00:00",
    },
    "headers": ["$event", "$browser"],
    "series": {
        "Logged in": {"2026-11-01T00:00:00+00:00": 9852, "2026-11-02T00:00:00+00:00": 4325},
        "Viewed page": {
            "Chrome": {"2026-11-01T00:00:00+00:00": 10246},
            "Firefox": {"2026-11-01T00:00:00+00:00": 11432},
        },
    },
}
STEP = {"count": 32688, "step_conv_ratio": 1, "overall_conv_ratio": 1, "event": "App Open"}
ANALYSIS = {"completion": 20524, "starting_amount": 32688, "steps": 2, "worst": 1}


def funnel_answer(days: list[str]) -> dict:
    return {
        "meta": {"dates": days},
        "data": {day: {"steps": [STEP], "analysis": ANALYSIS} for day in days},
    }


def make_tap(streams: set[str], state: dict | None = None, **overrides) -> TapMixpanelTajo:
    """A tap syncing only ``streams``."""
    config = {key: value for key, value in {**CONFIG, **overrides}.items() if value is not None}
    tap = TapMixpanelTajo(config=config, state=state or {}, parse_env_config=False)
    for name, stream in tap.streams.items():
        stream.selected = name in streams
    return tap


def run(tap: TapMixpanelTajo, capsys) -> list[dict]:
    """Sync and return every message written."""
    capsys.readouterr()
    tap.sync_all()
    return [json.loads(row) for row in capsys.readouterr().out.splitlines() if row]


def records(written: list[dict], stream: str) -> list[dict]:
    return [m["record"] for m in written if m["type"] == "RECORD" and m["stream"] == stream]


def last_state(written: list[dict]) -> dict:
    return [m["value"] for m in written if m["type"] == "STATE"][-1]


def params(request: httpx.Request) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(str(request.url)).query).items()}


def key_properties(written: list[dict], stream: str) -> list[str]:
    (schema,) = [m for m in written if m["type"] == "SCHEMA" and m["stream"] == stream]
    return schema["key_properties"]
