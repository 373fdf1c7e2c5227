"""A Mixpanel group profile as the company Brevo should hold, and how it is told apart."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from mixpanel_brevo_mapping import DEFAULT_COMPANY_NAME_PROPERTY, GroupMapping

#: The company attribute holding ``<group key>:<group id>``: how an imported company is found.
GROUP_ATTRIBUTE_LABEL = "Mixpanel group"


def group_value(group_key: str, group_id: str) -> str:
    """The value of the Mixpanel group attribute a group's company holds."""
    return f"{group_key}:{group_id}"


@dataclass
class CompanyRow:
    """One group profile as the company Brevo should hold."""

    group_key: str
    group_id: str
    name: str
    values: dict[str, Any]  # company attribute label -> raw Mixpanel value
    full_refresh_id: str | None

    @property
    def group_value(self) -> str:
        """The value of the Mixpanel group attribute: key and id, so two keys never collide."""
        return group_value(self.group_key, self.group_id)

    def fingerprint(self) -> str:
        """Hash of everything a change of which must reach Brevo."""
        text = json.dumps({"name": self.name, "values": self.values}, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()


def company_row(record: dict[str, Any], rules: GroupMapping) -> CompanyRow:
    """The company a group record asks for: its name (else the group id) and mapped values."""
    properties = record.get("properties") or {}
    group_id = str(record["group_id"])
    name = properties.get(rules.name) or properties.get(DEFAULT_COMPANY_NAME_PROPERTY)
    values = {
        label: properties[source]
        for source, label in rules.attributes.items()
        if properties.get(source) not in (None, "")
    }
    return CompanyRow(
        group_key=rules.group_key,
        group_id=group_id,
        name=str(name) if name not in (None, "") else group_id,
        values=values,
        full_refresh_id=record.get("full_refresh_id"),
    )
