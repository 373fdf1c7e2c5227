"""The tap's ``sync_checkpoints`` -> what end-of-run removals may rely on (nothing is sent)."""

from __future__ import annotations

from typing import Any

from target_brevo_tajo.sinks.base import BrevoSink


class SyncCheckpointsSink(BrevoSink):
    """Records each completed snapshot as soon as its record arrives."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoints = self.writers.checkpoints
        self._report = self.writers.report

    def take(self, record: dict, context: dict) -> None:  # noqa: ARG002
        """Confirm the snapshot the record names; report a record that names none."""
        problem = self.checkpoints.confirm(record)
        if problem:
            self._report.reject(self.stream_name, problem, record)

    def process_batch(self, context: dict) -> None:
        """Nothing is written: removals happen at the end of the run."""
