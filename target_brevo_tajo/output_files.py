"""Files the run writes at its end (report, rejects), checked at its start.

A report_file that is a directory, lies under a file or sits in a folder the target may not write
would fail after every call was made, with a traceback instead of the report.
"""

from __future__ import annotations

import tempfile
from pathlib import Path


def unwritable_file_problem(setting: str, path: str) -> str | None:
    """Why the run could not write ``path`` (one line saying what to do), or None."""
    target = Path(path)
    if target.is_dir():
        return (
            f"{setting} {path} is a directory: set it to a file path, such as {target / 'x.json'}"
        )
    for parent in target.parents:
        if parent.exists() and not parent.is_dir():
            return f"{setting} {path} lies under {parent}, which is a file: choose another path"
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=target.parent):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        return (
            f"{setting} {path} cannot be written ({reason}): choose a folder the target may write"
        )
    return None
