"""Singer input of groups and their members, shared by the companies tests."""

from __future__ import annotations

import io
import json

from tests.singer_messages import (
    CHECKPOINTS_SCHEMA,
    GROUPS_SCHEMA,
    PROFILES_SCHEMA,
    checkpoint,
    profile,
)

#: A profile with every attribute of the shipped mapping.
ADA = {
    "$email": "ada@example.com",
    "$first_name": "Ada",
    "$city": "Paris",
    "$region": "Ile-de-France",
    "$country_code": "FR",
    "plan": "pro",
    "company": "Analytical Engines",
    "signup_date": "2026-03-04",
    "total_revenue": 1234.5,
}


def group(group_id: str, name: str, refresh: str | None = "R1") -> dict:
    record = {"group_key": "company_id", "group_id": group_id,
              "properties": {"$name": name}, "full_refresh_id": refresh}  # fmt: skip
    return {"type": "RECORD", "stream": "groups", "record": record}


def member(user: str, company: str) -> dict:
    return profile(user, **{"$email": f"{user}@example.com", "company_id": company})


def pipeline(
    groups: list[dict], profiles: list[dict], complete_refresh: str | None = None
) -> io.StringIO:
    """Groups, then profiles, then (``complete_refresh``) the checkpoint of a full read."""
    messages = [GROUPS_SCHEMA, *groups, PROFILES_SCHEMA, *profiles]
    if complete_refresh:
        confirmed = checkpoint("groups", "company_id", "full_refresh", complete_refresh)
        messages += [CHECKPOINTS_SCHEMA, confirmed]
    messages.append({"type": "STATE", "value": {}})
    return io.StringIO("".join(json.dumps(m) + "\n" for m in messages))
