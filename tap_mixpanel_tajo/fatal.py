"""How a run the tap cannot finish ends: one line saying why, at ERROR, the tap's last line.

Under Meltano (``structured-logging``) every plugin line is a JSON log record and Meltano takes
each record's level from it; text that is not such a record, like the message of a
``SystemExit``, is logged at INFO. So there the reason goes out as an ERROR record and the exit
is silent; run by hand, it is the plain line on stderr.
"""

from __future__ import annotations

import logging
from typing import NoReturn

from singer_sdk.logging import StructuredFormatter

from tap_mixpanel_tajo.redaction import RedactingFilter

LOGGER_NAME = "tap-mixpanel-tajo"


def _structured() -> bool:
    """Whether the root logger writes JSON records (Meltano's logging config for the SDK)."""
    return any(
        isinstance(handler.formatter, StructuredFormatter)
        for handler in logging.getLogger().handlers
    )


def _redacted(message: str) -> str:
    """``message`` through the run's redaction filter, if the tap installed one."""
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, RedactingFilter):
                return log_filter.redactor(message)
    return message


def exit_with(message: str) -> NoReturn:
    """End the run with ``message`` as ERROR lines (one per problem), exit status 1."""
    lines = [_redacted(" ".join(line.split())) for line in message.splitlines() if line.strip()]
    if _structured():
        for line in lines:
            logging.getLogger(LOGGER_NAME).error(line)
        raise SystemExit(1)
    raise SystemExit("\n".join(lines))
