"""What the composition root checks at start and how a user error ends: in one line."""

from __future__ import annotations

from singer_sdk.exceptions import (
    ConfigValidationError,
    InvalidInputLine,
    RecordsWithoutSchemaException,
)

from mixpanel_brevo_mapping import MappingError
from target_brevo_tajo.brevo import BrevoError
from target_brevo_tajo.ledger import LedgerError
from target_brevo_tajo.output_files import unwritable_file_problem
from target_brevo_tajo.redaction import redact
from target_brevo_tajo.settings import Settings, SettingsError
from target_brevo_tajo.singer_input import SingerInputError

USER_ERRORS = (
    ConfigValidationError,
    BrevoError,
    MappingError,
    SettingsError,
    LedgerError,
    SingerInputError,
    InvalidInputLine,
    RecordsWithoutSchemaException,
    UnicodeDecodeError,
)


def check_output_files(settings: Settings) -> None:
    """Fail at start, not at the end of a run, when the report or rejects file is unwritable."""
    for setting in ("report_file", "rejects_file"):
        path = getattr(settings, setting)
        problem = unwritable_file_problem(setting, path) if path else None
        if problem:
            raise SettingsError(problem)


def user_message(error: BaseException) -> str:
    """What a user error prints: one line, or one line per problem of a mapping file."""
    lines = error.problems if isinstance(error, MappingError) else [one_line(error)]
    return "\n".join(f"target-brevo-tajo: {line}" for line in lines)


def one_line(error: BaseException) -> str:
    """An error as one line a user can act on, without any credential it may echo."""
    return redact(_plain_line(error))


def _plain_line(error: BaseException) -> str:
    if isinstance(error, ConfigValidationError):
        details = "; ".join(error.errors) if error.errors else str(error)
        return f"invalid configuration: {details}"
    if isinstance(error, UnicodeDecodeError):
        return f"the Singer input is not UTF-8 ({error.reason} at byte {error.start})"
    if isinstance(error, RecordsWithoutSchemaException):
        return f"{error}: the tap must send a stream's SCHEMA before its RECORDs"
    text = redact(" ".join(str(error).split()))  # before the cut, which could halve a secret
    return text[:300] + ("..." if len(text) > 300 else "")
