"""The run's own files: its job, its time, and keeping only the newest of them.

Each run's report is its own file and ``report_file`` links to the latest: no run overwrites one.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from pathlib import Path


def utc_now() -> str:
    """The current time as UTC ISO 8601 text, to the second."""
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def job_name_of(environ: Mapping[str, str]) -> str | None:
    """The job a run belongs to, as far as the environment tells it.

    ``MELTANO_JOB_NAME`` when the scheduler sets it, else ``MELTANO_STATE_ID`` (``meltano el``),
    else the pipeline under the state id Meltano gives it. Meltano 4.4 passes its plugins
    neither the job nor the state id, only ``MELTANO_ENVIRONMENT``, ``MELTANO_EXTRACTOR_NAME``
    and ``MELTANO_LOADER_NAME``, from which it builds that id (``prod:tap-to-target``); a suffix
    counts only from ``MELTANO_RUN_STATE_ID_SUFFIX``, as ``--state-id-suffix`` is not passed on.
    """
    named = environ.get("MELTANO_JOB_NAME") or environ.get("MELTANO_STATE_ID")
    extractor, loader = environ.get("MELTANO_EXTRACTOR_NAME"), environ.get("MELTANO_LOADER_NAME")
    if named or not (extractor and loader):
        return named or None
    parts = (
        environ.get("MELTANO_ENVIRONMENT"),
        f"{extractor}-to-{loader}",
        environ.get("MELTANO_RUN_STATE_ID_SUFFIX"),
    )
    return ":".join(part for part in parts if part)


def prune_run_files(latest: Path, run_file: Path, job: str, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` run files of one job, ``run_file`` included; returns them.

    A run file is ``<stem>-<job->YYYYMMDDTHHMMSSZ-<run id><suffix>`` next to ``latest``; its
    start time orders it. Files of other jobs, and anything else in the folder, stay.
    """
    name = re.compile(
        rf"{re.escape(latest.stem)}-{re.escape(job)}(\d{{8}}T\d{{6}}Z)-[0-9a-f]{{32}}"
        rf"{re.escape(latest.suffix)}"
    )
    runs = sorted(
        (match[1], path)
        for path in latest.parent.iterdir()
        if path != run_file and (match := name.fullmatch(path.name))
    )
    old = [path for _, path in runs[: max(len(runs) - (keep - 1), 0)]]
    for path in old:
        path.unlink(missing_ok=True)
    return old
