"""Reading Brevo's answers to ``POST /events/batch``: its JSON body and per-event errors."""

from __future__ import annotations

from typing import Any

import httpx


def json_object(response: httpx.Response) -> dict[str, Any]:
    """An answer's JSON object, or {} when the body is empty or not an object."""
    try:
        body = response.json() if response.content else {}
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def failed_indices(answer: dict[str, Any]) -> dict[int, str]:
    """Brevo's per-event errors of a 207/400 batch answer: ``{index: message}``."""
    failures: dict[int, str] = {}
    for error in answer.get("errors") or []:
        if not isinstance(error, dict):
            continue
        indices = error.get("eventIndex")
        message = str(error.get("message") or "rejected by Brevo")
        for index in indices if isinstance(indices, list) else [indices]:
            if isinstance(index, int):
                failures[index] = message
    return failures
