"""Contact attributes as Brevo keeps them: a fresh account's definitions and how values are read.

A value of the wrong type for its attribute is silently ignored by Brevo (:func:`coerce`); phone
numbers are kept only with a country code (:func:`normalise_phone`).
"""

from __future__ import annotations

import re
from typing import Any

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
# Attributes a fresh Brevo account has (English account language).
DEFAULT_ATTRIBUTES = (
    {"name": "EMAIL", "category": "normal", "type": "text"},
    {"name": "FIRSTNAME", "category": "normal", "type": "text"},
    {"name": "LASTNAME", "category": "normal", "type": "text"},
    {"name": "SMS", "category": "normal", "type": "text"},
    {"name": "WHATSAPP", "category": "normal", "type": "text"},
    {"name": "LANDLINE_NUMBER", "category": "normal", "type": "text"},
    {"name": "EXT_ID", "category": "normal", "type": "text"},
    {
        "name": "DOUBLE_OPT-IN",
        "category": "category",
        "type": "category",
        "enumeration": [{"value": 1, "label": "Yes"}, {"value": 2, "label": "No"}],
    },
    {"name": "ORDER_ID", "category": "transactional", "type": "id"},
    {"name": "ORDER_DATE", "category": "transactional", "type": "date"},
    {"name": "ORDER_PRICE", "category": "transactional", "type": "float"},
)
ATTRIBUTE_CATEGORIES = ("normal", "transactional", "category", "calculated", "global")
PHONE_ATTRIBUTES = ("SMS", "WHATSAPP", "LANDLINE_NUMBER")
IDENTIFIER_ATTRIBUTES = ("EXT_ID", *PHONE_ATTRIBUTES)  # contacts are looked up by these


def normalise_phone(value: Any) -> str | None:
    """Return ``+<digits>`` for a number carrying a country code, None when Brevo would refuse it.

    Accepted like Brevo: ``+33612345678``, ``0033612345678``, ``33612345678``; national forms
    such as ``06 12 34 56 78`` have no country code and are rejected.
    """
    if not isinstance(value, (str, int)) or isinstance(value, bool):
        return None
    text = re.sub(r"[\s\-.()]", "", str(value)).replace("+", "00", 1)
    if text.startswith("0") and not text.startswith("00"):
        return None
    digits = text.removeprefix("00")
    if not digits.isdigit() or not 8 <= len(digits) <= 15:
        return None
    return f"+{digits}"


def coerce(definition: dict[str, Any], value: Any) -> Any:  # noqa: PLR0911
    """Coerce a value to the attribute's type, or None when Brevo would silently ignore it."""
    kind = definition.get("type", "text")
    if kind == "float":
        if isinstance(value, bool):
            return None
        try:
            return float(value)
        except (TypeError, ValueError):
            return None
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        lowered = str(value).lower()
        return {"true": True, "false": False}.get(lowered)
    if kind == "date":
        return value if isinstance(value, str) and DATE_RE.match(value) else None
    if kind == "multiple-choice":
        return value if isinstance(value, list) else None
    if kind == "category":
        labels = {e["label"]: e["value"] for e in definition.get("enumeration", [])}
        values = set(labels.values())
        if isinstance(value, int) and value in values:
            return value
        return labels.get(value)
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
