"""Where the tap's time goes against the raw floor: microseconds per event, stage by stage.

``ratios.tap_vs_floor`` gives one ratio; this splits the tap's time into its stages by running
the events path cut after each one, on the same export as the bench row:

- read: the export streamed (``MixpanelClient.export_blocks``): HTTP chunks, blocks of whole
  lines, the UTF-8 check, each line decoded (``properties`` left encoded);
- record: each line's record (``line_records``: the lifted fields, ``time`` as text);
- dedup: each record's key hashed and looked up (``ExportWindow.admitted``);
- encode: each RECORD line encoded into the writer's block, the blocks written out;
- SDK loop: the rest of ``TapMixpanelTajo.sync_all()`` (the SDK's per-record loop, the
  stream's ``_write_record_message``, SCHEMA and STATE): the whole tap less the four above.

The floor is split the same way: read (HTTP, lines) and decode, then encode and write.
Each cut is the best of ``repeats`` runs, the cuts alternating; a stage is the difference of
two cuts. Times are this process's CPU time: every cut runs in this one thread (the export is
served in-process), so on a quiet machine that is its wall time, and other work on the machine
changes it less. Run: ``python benchmarks/tap_floor.py [events] [repeats]``.
"""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import sys
import time
from collections.abc import Callable
from zoneinfo import ZoneInfo

import httpx
import ratios

from tap_mixpanel_tajo.client import Credentials, MixpanelClient
from tap_mixpanel_tajo.output import BufferedMsgSpecWriter
from tap_mixpanel_tajo.streams.export_records import ExportLine, line_records
from tap_mixpanel_tajo.streams.export_windows import ExportWindow

STAGES = ("read", "record", "dedup", "encode")


def tap_cut(transport: httpx.BaseTransport, out: ratios.RecordSink, stages: int) -> None:
    """The events path up to its ``stages``-th stage (1: read ... 4: encode), stdout on ``out``.

    stdout as ``ratios.run_tap`` has it: a buffered writer over ``out``.
    """
    stdout = io.TextIOWrapper(io.BufferedWriter(out), encoding="utf-8")
    with contextlib.redirect_stdout(stdout):
        _cut(transport, stages)
        stdout.flush()


def _cut(transport: httpx.BaseTransport, stages: int) -> None:
    client = MixpanelClient(
        Credentials(api_secret="bench-secret"), base_url=ratios.MIXPANEL_URL, transport=transport
    )
    writer = BufferedMsgSpecWriter()
    for day in ratios.DAYS:
        window = ExportWindow(day, day, ZoneInfo("UTC"), by_day=False)
        blocks = client.export_blocks(day.isoformat(), day.isoformat(), line_type=ExportLine)
        for lines in blocks:
            if stages < 2:
                continue
            records = line_records(lines, window.tz)
            if stages < 3:
                continue
            records = window.admitted(records)
            if stages < 4:
                continue
            for record in records:
                writer.write_record("events", record, None)
        writer.flush()


def floor_read(transport: httpx.BaseTransport) -> None:
    """The floor less its encoding: stream, split on ``\\n``, decode each line."""
    decode = ratios._decoder.decode
    with httpx.Client(transport=transport) as client:
        for day in ratios.DAYS:
            params = {"from_date": day.isoformat(), "to_date": day.isoformat()}
            with client.stream("GET", ratios.MIXPANEL_URL + "/api/2.0/export", params=params) as r:
                rest = b""
                for chunk in r.iter_bytes():
                    lines = (rest + chunk).split(b"\n")
                    rest = lines.pop()
                    for line in lines:
                        if line:
                            decode(line)


def best_times(runs: dict[str, Callable[[ratios.RecordSink], None]], repeats: int) -> dict:
    """The best time of each run over ``repeats`` alternating rounds, each its own sink."""
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeats):
        for name, run in runs.items():
            gc.collect()
            with ratios.RecordSink() as out:
                start = time.process_time()
                run(out)
                best[name] = min(best[name], time.process_time() - start)
    return best


def stage_micros(count: int, repeats: int) -> dict[str, float]:
    """Microseconds per event of each stage of the tap and of the floor."""
    transport = ratios.export_transport(ratios.day_bodies(count))
    runs: dict[str, Callable[[ratios.RecordSink], None]] = {
        "floor": lambda out: ratios.raw_floor(transport, out),
        "floor read": lambda _out: floor_read(transport),
        "tap": lambda out: ratios.run_tap(transport, out),
    }
    for index, stage in enumerate(STAGES, start=1):
        runs[stage] = lambda out, index=index: tap_cut(transport, out, index)
    best = best_times(runs, repeats)
    per_event = {name: seconds / count * 1e6 for name, seconds in best.items()}
    micros = {"floor read": per_event["floor read"]}
    micros["floor encode"] = per_event["floor"] - per_event["floor read"]
    micros["floor"] = per_event["floor"]
    before = 0.0
    for stage in STAGES:
        micros[stage] = per_event[stage] - before
        before = per_event[stage]
    micros["SDK loop"] = per_event["tap"] - before
    micros["tap"] = per_event["tap"]
    return micros


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    repeats = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    logging.disable(logging.WARNING)  # the api_secret deprecation, once per tap run
    micros = stage_micros(count, repeats)
    print(f"{count:,} events, best of {repeats}; load average {os.getloadavg()[0]:.2f}")
    for name, value in micros.items():
        print(f"{name:>12}: {value:5.2f} µs/event")
    print(f"{'ratio':>12}: {micros['tap'] / micros['floor']:5.2f}x")


if __name__ == "__main__":
    main()
