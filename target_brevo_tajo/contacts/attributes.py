"""Mixpanel profile values as typed Brevo contact attributes (pure functions, no I/O).

Brevo silently ignores an attribute value whose type does not match the attribute, so every
value is converted to the account's type here, and a value that cannot be converted is
reported rather than sent.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import phonenumbers

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DECIMAL = re.compile(r"^-?(0|[1-9]\d*)(\.\d+)?$")
_TRUE = frozenset({"true", "yes", "1", "y", "t"})
_FALSE = frozenset({"false", "no", "0", "n", "f"})


class ConversionError(ValueError):
    """A value that cannot become the attribute's type.

    ``kind`` groups rejections in the report ("invalid email"); the message says which value.
    """

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class AttributeType:
    """A Brevo contact attribute as ``GET /contacts/attributes`` describes it."""

    name: str
    type: str  # text | date | float | boolean | id | category | multiple-choice | user
    category: str = "normal"
    enumeration: tuple[tuple[int, str], ...] = ()


def _is_number(value: Any) -> bool:
    """Numbers as Singer readers deliver them: int, float or Decimal (never bool)."""
    return isinstance(value, (int, float, Decimal)) and not isinstance(value, bool)


def normalise_email(value: Any) -> str:
    """A trimmed, lower-cased email, or :class:`ConversionError` when it is not one."""
    text = str(value).strip().lower()
    if not EMAIL.match(text):
        raise ConversionError("invalid email", f"invalid email {str(value)[:80]!r}")
    return text


def normalise_phone(value: Any, country_code: Any) -> str:
    """An E.164 number (``+33612345678``) read in the profile's country when it has no prefix."""
    text = str(value).strip()
    region = str(country_code).upper() if country_code else None
    if text.startswith("00"):
        text = "+" + text[2:]
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException as exc:
        if region is None and not text.startswith("+"):
            msg = f"SMS {text[:40]!r} has no country code and the profile no $country_code"
            raise ConversionError("without a country", msg) from exc
        raise ConversionError("invalid number", f"SMS {text[:40]!r} is not a phone number") from exc
    # "Possible" (right length for the country), not "valid": libphonenumber's list of
    # allocated ranges lags reality, and dropping a customer's real number is the worse error.
    if not phonenumbers.is_possible_number(number):
        where = region or "its country"
        msg = f"SMS {text[:40]!r} has the wrong length for a number of {where}"
        raise ConversionError("invalid number", msg)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def to_brevo_value(value: Any, attribute: AttributeType) -> Any:
    """Convert a profile value to the attribute's Brevo type."""
    kind = attribute.type
    if kind == "float":
        return _to_float(value)
    if kind == "boolean":
        return _to_bool(value)
    if kind == "date":
        return _to_date(value)
    if kind == "multiple-choice":
        items = value if isinstance(value, list) else [value]
        return [str(item) for item in items if item is not None]
    if kind == "category":
        return _to_category(value, attribute)
    if isinstance(value, (dict, list)):
        msg = f"{attribute.name} is text but the value is a {type(value).__name__}"
        raise ConversionError("not text", msg)
    return value if isinstance(value, str) else _plain_text(value)


def infer_type(value: Any) -> str:
    """The Brevo attribute type to create for a value seen first in a profile."""
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "float"
    if isinstance(value, list):
        return "multiple-choice"
    if isinstance(value, str):
        return _infer_text_type(value.strip())
    return "text"


def _infer_text_type(text: str) -> str:
    """Dates and numbers written as text: "2026-03-04T10:11", "1234.50" (not "01234": a code)."""
    if _ISO_DATE.match(text):
        try:
            _to_date(text)
        except ConversionError:
            return "text"
        return "date"
    return "float" if _DECIMAL.match(text) else "text"


def _plain_text(value: Any) -> str:
    if _is_number(value) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ConversionError("not a number", f"{value!r} is a boolean, not a number")
    try:
        number = (
            float(str(value).strip().replace(",", "")) if isinstance(value, str) else float(value)
        )
    except (TypeError, ValueError) as exc:
        raise ConversionError("not a number", f"{str(value)[:40]!r} is not a number") from exc
    if math.isnan(number) or math.isinf(number):
        raise ConversionError("not a number", f"{value!r} is not a finite number")
    return number


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConversionError("not a boolean", f"{str(value)[:40]!r} is not a boolean")


def _to_date(value: Any) -> str:
    if _is_number(value):
        seconds = float(value) / 1000 if value > 1e11 else float(value)
        try:
            return dt.datetime.fromtimestamp(seconds, dt.timezone.utc).date().isoformat()
        except (OverflowError, OSError, ValueError) as exc:
            message = f"{value!r} is out of the date range"
            raise ConversionError("date out of range", message) from exc
    text = str(value).strip()
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).date().isoformat()
    except ValueError as exc:
        raise ConversionError("not a date", f"{text[:40]!r} is not a date") from exc


def _to_category(value: Any, attribute: AttributeType) -> int:
    for number, label in attribute.enumeration:
        if str(value) in (str(number), label):
            return number
    labels = ", ".join(label for _, label in attribute.enumeration)
    msg = f"{str(value)[:40]!r} is not one of {attribute.name}'s options ({labels})"
    raise ConversionError("not an option", msg)
