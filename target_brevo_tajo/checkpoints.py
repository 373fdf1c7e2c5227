"""Which snapshots the tap read to the end, as its ``sync_checkpoints`` records say.

Removals (mirror mode, the deletion policy) act on what is *missing* from a snapshot, so they
wait for the end of the run and apply only to snapshots confirmed here. The target never reads
the tap's STATE for this: any tap that emits these records gets the same behaviour.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class SyncCheckpoints:
    """The completed reads this run's input confirmed."""

    full_refreshes: set[str] = field(default_factory=set)
    cohort_snapshots: dict[int, str] = field(default_factory=dict)
    group_refreshes: dict[str, str] = field(default_factory=dict)  # group key -> refresh id

    def confirm(self, record: dict[str, Any]) -> str | None:
        """Take in one ``sync_checkpoints`` record; returns why it was refused, or None."""
        kind, part, snapshot_id = record.get("kind"), record.get("id"), record.get("snapshot_id")
        if not snapshot_id:
            return "no snapshot_id"
        if kind == "full_refresh" and record.get("stream") == "profiles":
            self.full_refreshes.add(str(snapshot_id))
        elif kind == "full_refresh" and record.get("stream") == "groups" and part:
            self.group_refreshes[str(part)] = str(snapshot_id)
        elif kind == "cohort_snapshot" and str(part or "").isdigit():
            self.cohort_snapshots[int(str(part))] = str(snapshot_id)
        else:
            return f"unknown checkpoint kind {kind!r} for stream {record.get('stream')!r}"
        return None
