"""The ``--config`` files of a run: each must be a readable JSON object of settings.

The SDK reads them while click parses the command line, before the tap exists, so a missing or
broken file would end in a traceback; the tap checks them first and says what is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path


def config_file_problem(path: str) -> str | None:
    """Why ``--config path`` cannot be read as settings, in one line; None when it can."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return f"--config {path}: no such file; pass the path of a JSON file of settings"
    except OSError as exc:
        return f"--config {path}: cannot read it ({exc.strerror}); check the path and permissions"
    except UnicodeDecodeError:
        return f"--config {path}: not UTF-8 text; it must be a JSON object of settings"
    try:
        settings = json.loads(text)
    except ValueError as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        return f"--config {path}: not valid JSON{where}; it must be a JSON object of settings"
    if not isinstance(settings, dict):
        return f"--config {path}: holds a JSON {type(settings).__name__}, not an object of settings"
    return None
