"""How a failed run ends: its reason logged at ERROR as the run's last line, and status 1.

Under ``meltano run`` the target's output is logged line by line, and only a log record carries
its level: a reason printed after the log would read as INFO, below an ERROR that says only
"Loader failed". A target that stops at start while Meltano still writes the tap's output into
its input made Meltano print ``BrokenPipeError`` tracebacks: it reads its input to the end first.
"""

from __future__ import annotations

import logging
import sys
from typing import IO, NoReturn

_CHUNK = 1 << 20


class RunFailed(SystemExit):
    """Exit status 1; ``str()`` is the reason, already logged (Python prints nothing more)."""

    def __init__(self, line: str) -> None:
        super().__init__(1)
        self.line = line

    def __str__(self) -> str:
        return self.line


def end_run(line: str, logger: logging.Logger, *, drain: IO[bytes] | None = None) -> NoReturn:
    """Log ``line`` at ERROR (one record per problem), read ``drain`` to its end, and exit 1.

    ``drain`` is not read when it is a terminal.
    """
    for problem in line.splitlines():
        logger.error(problem)
    if drain is not None and not drain.isatty():
        while drain.read(_CHUNK):
            pass
    raise RunFailed(line)


def unread_stdin() -> IO[bytes] | None:
    """The process's standard input, for :func:`end_run` to drain; None when there is none."""
    return getattr(sys.stdin, "buffer", None) if sys.stdin is not None else None
