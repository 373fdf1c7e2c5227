"""Names and shapes Brevo accepts, shared by the mapping file's blocks (pure validators)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator

SyncMode = Literal["mirror", "additive"]
BREVO_EVENT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,255}$")


def _brevo_event_name(value: str) -> str:
    if not BREVO_EVENT_NAME.match(value):
        msg = f"Brevo event name {value!r} must be 1-255 characters of A-Z, a-z, 0-9, '_' or '-'"
        raise ValueError(msg)
    return value


BrevoEventName = Annotated[str, AfterValidator(_brevo_event_name)]

#: A contact attribute name Brevo accepts: letters, digits and '_' (a space, a '-' or an accent
#: makes Brevo refuse the attribute). Names are upper-cased before they are sent.
BREVO_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z0-9_]{1,255}$")


def _contact_attribute(value: str) -> str:
    if not BREVO_ATTRIBUTE_NAME.match(value):
        msg = (
            f"Brevo contact attribute {value!r} must be 1-255 characters of A-Z, a-z, 0-9 or "
            "'_' (no spaces)"
        )
        raise ValueError(msg)
    return value


ContactAttribute = Annotated[str, AfterValidator(_contact_attribute)]


class NestedValueError(ValueError):
    """A problem found by a field's validator about a key below it: ``loc`` is that key's path.

    The loader appends ``loc`` to the field's own, so the line reported is the key's own line.
    """

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.loc = loc
