"""Brevo's background processes (``GET /processes/{id}``), the root of the account's state.

The sandbox applies an import or a bulk removal at once; its process still reports
``in_process`` on the first poll, as Brevo's usually does, and ``completed`` from the second.
"""

from __future__ import annotations

import itertools
from typing import Any

from .brevo_formats import BrevoError, utc_iso


class BrevoProcesses:
    """The account's processes by id. Callers hold the sandbox lock."""

    def __init__(self) -> None:
        self.processes: dict[int, dict[str, Any]] = {}
        self._process_ids = itertools.count(1)

    def add_process(self, name: str, info: dict[str, Any]) -> int:
        """Record work already applied as a process; ``info`` is what its completion reports."""
        process_id = next(self._process_ids)
        self.processes[process_id] = {
            "id": process_id,
            "name": name,
            "polls": 0,
            "info": info,
            "created_at": utc_iso(),
            "completed_at": utc_iso(),
        }
        return process_id

    def start_process(self, name: str, rows: int) -> int:
        """A process for work applied at once (a companies import), completed from poll two."""
        return self.add_process(name, {"rows": rows})

    def process_json(self, process_id: int) -> dict[str, Any]:
        """``GET /processes/{id}``: in_process on the first poll, completed from the second."""
        process = self.processes.get(process_id)
        if process is None:
            raise BrevoError(404, "document_not_found", "Process does not exist")
        process["polls"] += 1
        result = {"id": process_id, "name": process["name"], "created_at": process["created_at"]}
        if process["polls"] < 2:
            return {**result, "status": "in_process"}
        completed = {**result, "status": "completed", "completed_at": process["completed_at"]}
        if process["info"]:
            completed["info"] = process["info"]
        return completed
