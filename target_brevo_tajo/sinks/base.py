"""What every sink shares: the run's writers, which the target wired before any record."""

from __future__ import annotations

from typing import Any, Protocol, cast

from singer_sdk.sinks import BatchSink

from target_brevo_tajo.writers import Writers


class _WiredTarget(Protocol):
    writers: Writers


class BrevoSink(BatchSink):
    """A sink that hands its records to the writers the target built for this run."""

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.writers = cast(_WiredTarget, target).writers
