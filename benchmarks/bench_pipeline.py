"""Speed and memory of the connector, each figure a ratio measured in this one run.

Run with ``make bench`` (or ``.venv/bin/python benchmarks/bench_pipeline.py``; ``--help`` for
sizes, ``--quick`` to check the script). Nothing here is asserted or hard-coded: every figure is
measured now, on this machine, next to its reference measured the same way. The Markdown table it
prints is the one docs/performance.md shows.

Figures (``ratios.py`` holds the runs of the first four):

1. The tap vs the raw floor (httpx stream, split, msgspec, one RECORD line per event) on the same
   export, in this process.
2. The target's events/s vs Brevo's bound (10 calls/s of 200 events), through the sandbox with a
   stalled answer; exactly once; 429s counted.
3. Peak RSS of the tap and target processes at two sizes, and its growth.
4. Profiles/s from Engage to Brevo contacts through the sandbox.
5. Reading a Mixpanel Raw Export: ``MixpanelClient.iter_export`` (streamed, split on ``b"\\n"``,
   msgspec) vs a fully buffered ``response.text.splitlines()`` + ``json.loads``.
6. Writing Singer RECORD messages: ``MsgSpecWriter`` vs the SDK default ``SingerWriter``.
7. Peak RSS of the target mirroring a cohort into a new list at two sizes (``cohort_rss.py``).
8. A stream routed to Brevo events vs the bound, beside figure 2's share (``routed_bench.py``).
9. A cohort mirrored into a new list vs Brevo's bound through the sandbox, by list calls and by
   contact imports (``list_bound.py``).
10. Companies: Brevo calls of the hourly budget for groups and their member links, first run and
    an unchanged rerun (``companies_bench.py``).
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import logging
import math
import os
import platform
import sys
import time
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import cohort_rss
import companies_bench
import httpx
import list_bound
import ratios
import routed_bench
from ratios import (
    BREVO_BOUND,
    CHUNK_BYTES,
    MIXPANEL_URL,
    U2028_EVERY,
    day_bodies,
    export_events,
)
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.io_base import SingerWriter
from singer_sdk.singerlib import RecordMessage

from tap_mixpanel_tajo.client import Credentials, MixpanelClient
from tap_mixpanel_tajo.streams.export_records import ExportLine, line_record, to_record

BREVO_URL = "http://brevo.bench/v3"
API_KEY = "xkeysib-bench"
REPEATS = 3  # timed runs per measurement; the best one counts, as timeit does
_quiet = False


def progress(message: str) -> None:
    """Say what is being measured (stderr, so stdout stays the pasteable table)."""
    if not _quiet:
        print(message, file=sys.stderr, flush=True)


# Results


@dataclass
class Row:
    """One line of the results table."""

    figure: str
    ours: str
    baseline: str
    ratio: str
    goal: str = ""  # issue 22's goal for this figure and whether this run met it, or empty


@dataclass
class Results:
    """The table rows and the footnotes explaining them."""

    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        """The table and its numbered footnotes, in Markdown."""
        lines = ["| Figure | Ours | Baseline | Ratio | Goal |", "|---|--:|--:|--:|---|"]
        lines += [
            f"| {r.figure} | {r.ours} | {r.baseline} | {r.ratio} | {r.goal} |" for r in self.rows
        ]
        if self.notes:
            lines.append("")
            lines += [f"{i}. {note}" for i, note in enumerate(self.notes, start=1)]
        return "\n".join(lines)


def per_second(count: int, seconds: float) -> str:
    """``123,456/s``."""
    return f"{count / seconds:,.0f}/s"


def megabytes(size: int) -> str:
    """``12.3 MB`` (10**6 bytes)."""
    return f"{size / 1e6:,.1f} MB"


def goal(text: str, met: bool) -> str:
    """``≤ 1.5x: met``, or ``≤ 1.5x: NOT met``: each goal judged by this run's figure."""
    return f"{text}: {'met' if met else '**NOT met**'}"


def times(ratio: float, better: str) -> str:
    """``3.2x faster``, or ``0.80x (ours is worse)`` when ours loses: said plainly, not hidden."""
    if ratio >= 1:
        return f"**{ratio:,.{0 if ratio >= 10 else 1}f}x** {better}"
    return f"{ratio:,.2f}x (ours is worse)"


# Measurement helpers


def best_time(run: Callable[[], Any], repeats: int = REPEATS) -> tuple[float, Any]:
    """Fastest of ``repeats`` runs (after a collection), and what the last run returned."""
    best, result = float("inf"), None
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        result = run()
        best = min(best, time.perf_counter() - start)
    return best, result


def peak_memory(run: Callable[[], Any]) -> int:
    """Peak bytes Python allocated in ``run``; traced apart from timing (tracemalloc is slow)."""
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def export_body(count: int) -> bytes:
    """An NDJSON export body of ``count`` events (both days), raw UTF-8 as Mixpanel sends it."""
    return b"".join(day_bodies(count).values())


def streaming_transport(body: bytes) -> httpx.MockTransport:
    """Answers every request with ``body``, streamed in 64 KB chunks like a socket would."""

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), CHUNK_BYTES):
            yield body[start : start + CHUNK_BYTES]

    def handler(_request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "application/x-ndjson"}
        return httpx.Response(200, headers=headers, content=chunks())

    return httpx.MockTransport(handler)


# Figure 1: reading the export


def read_export_ours(transport: httpx.BaseTransport) -> tuple[int, int]:
    """The tap's path: ``iter_export`` streams and splits on b"\\n"; ``line_record`` each line."""
    client = MixpanelClient(
        Credentials(api_secret="bench-secret"), base_url=MIXPANEL_URL, transport=transport
    )
    records = 0
    try:
        for line in client.iter_export("2026-11-12", "2026-11-20", line_type=ExportLine):
            line_record(line, None)
            records += 1
    finally:
        client.close()
    return records, 0


def read_export_naive(transport: httpx.BaseTransport) -> tuple[int, int]:
    """The naive path: buffer the whole body, ``text.splitlines()``, stdlib ``json.loads``.

    ``splitlines`` also splits on U+2028 and friends; the broken halves are not JSON, so they
    are skipped and counted (crashing would be the other naive outcome).
    """
    records = broken = 0
    with httpx.Client(transport=transport) as client:
        response = client.get(
            MIXPANEL_URL + "/api/2.0/export",
            params={"from_date": "2026-11-12", "to_date": "2026-11-20"},
        )
        response.raise_for_status()
        for line in response.text.splitlines():
            if not line.strip():
                continue
            try:
                raw = json.loads(line)
            except json.JSONDecodeError:
                broken += 1
                continue
            to_record(raw, None)
            records += 1
    return records, broken


def bench_export(count: int, results: Results) -> None:
    """Figure 1: records/s, peak memory and correctness of the two ways to read an export."""
    progress(f"export read: generating {count:,} export lines...")
    body = export_body(count)
    transport = streaming_transport(body)
    progress(f"      body {megabytes(len(body))}; timing ours and the baseline...")
    ours_s, (ours_records, _) = best_time(lambda: read_export_ours(transport))
    base_s, (base_records, broken) = best_time(lambda: read_export_naive(transport))
    progress("      tracing peak memory...")
    ours_peak = peak_memory(lambda: read_export_ours(transport))
    base_peak = peak_memory(lambda: read_export_naive(transport))
    with_u2028 = len(range(0, count, U2028_EVERY))

    results.rows += [
        Row(
            f"Export read, {count:,} events: records/s",
            per_second(ours_records, ours_s),
            per_second(base_records, base_s),
            times((ours_records / ours_s) / (base_records / base_s), "faster"),
        ),
        Row(
            "Export read: peak Python memory",
            megabytes(ours_peak),
            megabytes(base_peak),
            times(base_peak / ours_peak, "less"),
        ),
        Row(
            f"Export read: records recovered of {count:,}",
            f"{ours_records:,}",
            f"{base_records:,} ({broken:,} broken fragments)",
            f"baseline loses {count - base_records:,}"
            if ours_records == count
            else f"ours loses {count - ours_records:,}",
        ),
    ]
    results.notes.append(
        f"Export: a {megabytes(len(body))} NDJSON body (~30 properties per event, nested "
        f"objects, emoji, a raw U+2028 in {with_u2028:,} lines) served by an "
        "`httpx.MockTransport` in 64 KB chunks. Ours: `MixpanelClient.iter_export` + "
        "`line_record` (the tap's path: `properties` left encoded). Baseline: "
        "`client.get()` buffered, `response.text.splitlines()`, stdlib `json.loads`, "
        "`to_record`; it splits each U+2028 line in two and loses that record. Memory: "
        "`tracemalloc` peak, excluding the body itself (it stands for the network); ours stays "
        "flat as N grows, the baseline's grows with the body."
    )


# Figure 2: writing Singer messages


def record_messages(count: int) -> list[RecordMessage]:
    """RECORD messages of the events stream as the tap builds them (``time_extracted`` set)."""
    extracted = datetime.now(timezone.utc)
    return [
        RecordMessage(stream="events", record=to_record(raw, None), time_extracted=extracted)
        for raw in export_events(count)
    ]


def write_messages(writer: MsgSpecWriter | SingerWriter, messages: list, count: int) -> int:
    """``writer.write_message`` ``count`` times with stdout sent to /dev/null (its real path)."""
    with (
        open(os.devnull, "wb") as sink,
        io.TextIOWrapper(sink, encoding="utf-8") as stdout,
        contextlib.redirect_stdout(stdout),
    ):
        for index in range(count):
            writer.write_message(messages[index % len(messages)])
    return count


def bench_serialisation(count: int, results: Results) -> None:
    """Figure 2: messages/s of the tap's msgspec writer vs the SDK's default writer."""
    progress(f"Singer output: {count:,} RECORD messages...")
    messages = record_messages(min(count, 10_000))
    ours_s, _ = best_time(lambda: write_messages(MsgSpecWriter(), messages, count))
    base_s, _ = best_time(lambda: write_messages(SingerWriter(), messages, count))
    ours_line = MsgSpecWriter().format_message(messages[0])
    base_line = SingerWriter().format_message(messages[0])
    if json.loads(bytes(ours_line))["record"] != json.loads(base_line)["record"]:
        results.notes.append("WARNING: the two writers produced different records.")
    results.rows.append(
        Row(
            f"Singer output, {count:,} RECORD messages: messages/s",
            per_second(count, ours_s),
            per_second(count, base_s),
            times(base_s / ours_s, "faster"),
        )
    )
    results.notes.append(
        "Singer output: `write_message` of the events stream's RECORD messages (a pool of "
        f"{len(messages):,} distinct records, cycled) with stdout sent to /dev/null. Ours: "
        "`singer_sdk.contrib.msgspec.MsgSpecWriter` (the tap's `message_writer_class`). "
        "Baseline: the SDK's default `singer_sdk.io_base.SingerWriter` (simplejson)."
    )


# The ratios of issue 12


def bench_tap_floor(count: int, results: Results) -> None:
    """The tap vs the raw floor on the same 2 days of export, in this process, best of 3."""
    progress(f"tap vs raw floor: {count:,} events over 2 days, best of {REPEATS}...")
    run = ratios.tap_vs_floor(count, REPEATS)
    if run.tap_records != count or run.floor_records != count:
        results.notes.append(
            f"WARNING: records written: tap {run.tap_records:,}, floor {run.floor_records:,}."
        )
    results.rows.append(
        Row(
            f"Tap vs raw floor, {count:,} events: seconds",
            f"{run.tap_seconds:.2f} s ({per_second(count, run.tap_seconds)})",
            f"{run.floor_seconds:.2f} s ({per_second(count, run.floor_seconds)})",
            f"**{run.ratio:.2f}x** the floor",
            goal("≤ 1.5x (ideal 1.25x)", run.ratio <= 1.5),
        )
    )
    results.notes.append(
        f"Tap vs raw floor: {megabytes(run.body_bytes)} of export over 2 days (one window each; "
        "~30 properties, nested objects, emoji, a raw U+2028 in 1% of lines), served to both "
        "sides by the same `httpx.MockTransport` in 64 KB chunks. Tap: `TapMixpanelTajo."
        "sync_all()` (events only) with stdout on /dev/null through a buffered writer, as a "
        "pipe has it. Floor, written in the benchmark: httpx stream, split on `\\n`, msgspec "
        "decode, one RECORD line per event, 64 KB writes. Best of 3 alternating runs each."
    )


def bench_target_bound(
    count: int, latency: float, in_flight: int, results: Results
) -> ratios.TargetVsBound:
    """The target's events/s against Brevo's bound through the sandbox, answers stalled."""
    progress(
        f"target vs Brevo bound: {count:,} events, {latency * 1000:.0f} ms per batch answer..."
    )
    run = ratios.target_vs_bound(count, latency, in_flight)
    once = run.stored == run.sent == count and run.duplicates == 0
    results.rows.append(
        Row(
            f"Target vs Brevo bound, {count:,} events at {latency * 1000:.0f} ms: events/s",
            f"{run.events_per_second:,.0f}/s ({run.rate_limited} answers 429)",
            f"{BREVO_BOUND:,}/s",
            f"**{run.events_per_second / BREVO_BOUND:.0%}** of the bound, "
            + (
                "each event once"
                if once
                else f"NOT once: {run.stored:,} stored, {run.duplicates:,} duplicates"
            ),
        )
    )
    results.rows.append(
        Row(
            f"Brevo calls for {count:,} events",
            f"{run.batch_calls:,}",
            f"{count:,} (one `POST /events` each)",
            times(count / max(run.batch_calls, 1), "fewer"),
        )
    )
    results.notes.append(
        f"Target vs bound: `target-brevo-tajo` (its CLI, `events_calls_in_flight` {in_flight}) "
        f"reads {count:,} mapped events from a file and sends them to the sandbox's Brevo "
        "(general tier: 10 calls/s of 200 events = 2,000 events/s), which answers each "
        f"`POST /events/batch` {latency * 1000:.0f} ms after processing it (an "
        "`after_processing` fault). Events/s: events Brevo holds over the target's whole run, "
        "startup included. Exactly once: each `mp_insert_id` in the sandbox counted."
    )
    return run


def bench_routed(
    count: int, latency: float, in_flight: int, events: ratios.TargetVsBound, results: Results
) -> None:
    """A routed stream's rows/s against Brevo's bound, judged by the events row of this run."""
    progress(f"routed stream vs Brevo bound: {count:,} rows, {latency * 1000:.0f} ms...")
    run = routed_bench.routed_vs_bound(count, latency, in_flight)
    share = run.events_per_second / BREVO_BOUND
    events_share = events.events_per_second / BREVO_BOUND
    once = run.stored == run.sent == count and run.duplicates == 0
    results.rows.append(
        Row(
            f"Routed stream → events, {count:,} rows at {latency * 1000:.0f} ms: rows/s",
            f"{run.events_per_second:,.0f}/s ({run.rate_limited} answers 429)",
            f"{BREVO_BOUND:,}/s",
            f"**{share:.0%}** of the bound, "
            + (
                "each row once"
                if once
                else f"NOT once: {run.stored:,} stored, {run.duplicates:,} duplicates"
            ),
            goal(
                f"≥ the events row's {events_share:.0%} (2 points of noise allowed)",
                once and share >= events_share - 0.02,
            ),
        )
    )
    results.notes.append(
        f"Routed stream: the same target run on {count:,} rows of an `orders` stream (5 fields) "
        "that the demo's route sends to events (`order_completed`, keyed by stream and "
        "`order_id`, addressed by `email_id`); exactly once: each `mp_insert_id` "
        "(`orders:<order_id>`) counted. Its larger size makes the start weigh less than in "
        "the events row."
    )


def rss_growth(
    small: ratios.PipelineRun, large: ratios.PipelineRun, label: str, results: Results
) -> None:
    """A row per CLI: its peak RSS in the small run and the large one, and the growth."""
    for name in ("tap", "target"):
        low, high = getattr(small, name).peak_rss, getattr(large, name).peak_rss
        results.rows.append(
            Row(
                f"Peak RSS of the {name}, {label}",
                f"{megabytes(low)} → {megabytes(high)}",
                "flat",
                f"**{high / low - 1:+.0%}**",
                goal("< 150 MB, growth < 10%", high < 150e6 and high / low - 1 < 0.10)
                if name == "target" and "events" in label
                else "",
            )
        )


def bench_rss(sizes: list[int], results: Results) -> None:
    """Peak RSS of the tap and the target processes at each size, and the growth."""
    runs = {}
    for size in sizes:
        progress(f"peak RSS: tap | target on {size:,} events...")
        runs[size] = ratios.pipeline_rss(size)
    rss_growth(runs[sizes[0]], runs[sizes[-1]], f"{sizes[0]:,} → {sizes[-1]:,} events", results)
    seconds = ", ".join(f"{size:,}: {run.seconds:.0f} s" for size, run in runs.items())
    results.notes.append(
        "Peak RSS: `tap-mixpanel-tajo | target-brevo-tajo` (the two CLIs joined by a pipe) on "
        "2 days of export streamed by an HTTP server in the benchmark, which also answers "
        "`POST /events/batch` at once. Each CLI's own `ru_maxrss`, reported by a small process "
        "that starts it (a child of the benchmark would inherit the benchmark's high-water "
        "mark). "
        f"Wall time ({seconds})."
    )


def bench_profiles(sizes: list[int], results: Results) -> None:
    """Profiles/s from Engage to Brevo contacts through the sandbox, and both peak RSS.

    With several sizes, a last row gives the target's peak RSS growth from the first to the last.
    """
    runs = {}
    for count in sizes:
        progress(f"profiles: {count:,} profiles, Engage → tap → target → /contacts/import...")
        run = runs[count] = ratios.profiles_pipeline(count)
        contacts = run.report["contacts"]
        imports = f"{contacts['imports']:,} import{'' if contacts['imports'] == 1 else 's'}"
        results.rows.append(
            Row(
                f"Profiles → contacts, {count:,} profiles: profiles/s",
                f"{per_second(contacts['received'], run.seconds)} "
                f"({contacts['created'] + contacts['updated'] + contacts['unchanged']:,} "
                f"contacts, {imports})",
                "n/a",
                f"peak RSS tap {megabytes(run.tap.peak_rss)}, "
                f"target {megabytes(run.target.peak_rss)}",
            )
        )
    if len(sizes) > 1:
        label = f"{sizes[0]:,} → {sizes[-1]:,} profiles"
        rss_growth(runs[sizes[0]], runs[sizes[-1]], label, results)
    shown = " and ".join(f"{count:,}" for count in sizes)
    results.notes.append(
        "Profiles: `tap-mixpanel-tajo` (profiles only) | `target-brevo-tajo` against the "
        f"sandbox holding {shown} profiles (Brevo limits off: `unlimited` tier), startup "
        "included. Run `make bench BENCH_ARGS='--profiles 20000,1000000'` for the 1M case "
        "next to the 20,000 (the sandbox alone then needs a few GB; about 30 minutes more)."
    )


def bench_cohorts(sizes: list[int], results: Results) -> None:
    """The target's peak RSS mirroring a small and a large cohort into a new list."""
    runs = {}
    for size in sizes:
        progress(f"cohorts: a {size:,}-member cohort mirrored into a new list...")
        runs[size] = cohort_rss.mirror_rss(size)
    small, large = runs[sizes[0]], runs[sizes[-1]]
    exact = all(
        run.in_list == run.cohort["membersCount"] == run.cohort["syncedToBrevo"] == size
        for size, run in runs.items()
    )
    low, high = small.target.peak_rss, large.target.peak_rss
    calls = ", ".join(
        f"{size:,}: {run.calls['add']:,} add calls, {run.calls['read']:,} pages read"
        for size, run in runs.items()
    )
    results.rows.append(
        Row(
            f"Peak RSS of the target, a cohort of {sizes[0]:,} → {sizes[-1]:,} members "
            "mirrored into a new list",
            f"{megabytes(low)} → {megabytes(high)}",
            "within 10%",
            f"**{high / low - 1:+.0%}**"
            + (
                ", exact"
                if exact
                else ", NOT exact: the list and the report differ from the cohort"
            ),
            goal("growth < 10%", high / low - 1 < 0.10),
        )
    )
    seconds = ", ".join(f"{size:,}: {run.seconds:.0f} s" for size, run in runs.items())
    results.notes.append(
        "Cohorts: `target-brevo-tajo` reads a cohort, its members and the checkpoint that "
        "confirms the snapshot from a file, and mirrors the cohort into a new list of a Brevo "
        "stand-in served by the benchmark, which answers at once (membership calls of 150; a "
        "list the run created is not read back); the members are contacts the ledger knows "
        "already. Exact: the list, `membersCount` and `syncedToBrevo` all equal the cohort. Peak "
        f"RSS as above. Calls ({calls}). Wall time ({seconds})."
    )


def bench_lists(members: int, latency: float, results: Results) -> None:
    """A cohort mirrored into a new list vs Brevo's bound: by list calls, then by imports."""
    runs = {}
    for route in list_bound.ROUTES:
        progress(
            f"lists: {members:,} members into a new list by {route}, "
            f"{latency * 1000:.0f} ms per answer..."
        )
        runs[route] = list_bound.mirror_into_new_list(members, latency, route)
    fewest = math.ceil(members / list_bound.LIST_CALL_MAX)
    for route, run in runs.items():
        if route == "list calls":
            spent = f"{run.calls['POST /contacts/lists/{id}/contacts/add']:,} add calls"
            figure = (
                f"List membership, {members:,} members at {latency * 1000:.0f} ms: % of the bound"
            )
            judged = goal("≥ 90%", run.share_of_bound >= 0.9)
        else:
            imports = run.calls["POST /contacts/import"]
            spent = (
                f"{imports:,} import{'' if imports == 1 else 's'}, "
                f"{run.calls['GET /processes/{id}']:,} polls of the hourly budget"
            )
            figure = f"List membership, {members:,} members at {latency * 1000:.0f} ms, by {route}"
            judged = ""
        exact = (
            "exact"
            if run.exact
            else f"NOT exact: {run.in_list:,} of the cohort listed, {run.extra:,} others, "
            f"report {run.cohort['syncedToBrevo']:,}"
        )
        results.rows.append(
            Row(
                figure,
                f"{run.seconds:.1f} s ({run.total_calls:,} calls: {spent}; "
                f"{run.rate_limited} answers 429)",
                f"{run.bound_seconds:.1f} s ({fewest:,} calls of 150 at {run.budget_per_second}/s)",
                f"**{run.share_of_bound:.0%}** of the bound, {exact}",
                judged,
            )
        )
    results.notes.append(
        f"Lists: `target-brevo-tajo` mirrors a {members:,}-member cohort (a file: the cohort, its "
        "members, the checkpoint confirming the snapshot) into a new list of the sandbox's Brevo "
        "(general tier: 10 calls/s in the contacts bucket, 100/hour for process polls), which "
        f"answers every call {latency * 1000:.0f} ms after processing it; startup included. "
        "The bound: one `POST /contacts/lists/{id}/contacts/add` per 150 members at 10 calls/s. "
        "By list calls, the members are contacts the ledger knows; by import, it knows none of "
        "them, so they join through `POST /contacts/import` with `listIds`, each import awaited "
        "by polling `GET /processes/{id}` (`import_poll_seconds` 5, doubling). Exact: the list, "
        "`membersCount` and `syncedToBrevo` all equal the cohort."
    )


def bench_companies(groups: int, links: int, results: Results) -> None:
    """Calls of Brevo's hourly budget for a first companies run and for an unchanged rerun."""
    progress(f"companies: {groups:,} groups, {links:,} member links, a first run and a rerun...")
    run = companies_bench.bench(groups, links)
    ours, fewest, budget = run.first.total, run.fewest(), companies_bench.BUDGET
    exact = "exact" if run.exact else "NOT exact: Brevo or the report differs from the input"
    results.rows.append(
        Row(
            f"Companies, {groups:,} groups / {links:,} links, first run: calls (budget)",
            f"{ours:,} calls of the {budget}/hour budget ({ours / budget:.0%})",
            f"{fewest:,} (fewest the maxima allow)",
            f"{ours / fewest:.2f}x the fewest, {exact}",
            goal(f"≤ {budget} (one hour), exact", ours <= budget and run.exact),
        )
    )
    results.rows.append(
        Row(
            "Companies, unchanged rerun: calls (budget)",
            f"{run.rerun.total:,} calls",
            "0",
            "",
            goal("0 calls", run.rerun.total == 0),
        )
    )
    spent = ", ".join(f"{call} {n}" for call, n in sorted(run.first.calls.items()))
    results.notes.append(
        "Companies: `target-brevo-tajo` against the sandbox's Brevo (limits off: `unlimited` "
        "tier, first poll at once: nothing waits an hour; the calls are held against the "
        f"general tier's {budget} an hour by arithmetic). The users are contacts already (a "
        "run of their "
        f"profiles alone first, whose contacts imports' polls spent {run.users.total} calls of "
        "the same bucket). Counted from the sandbox's call log, every call of the hourly "
        f"bucket of the first run: {spent}. Fewest: imports of 1,000 companies and of 1,000 "
        "companies' links, one poll each, the created companies found and the links read back "
        "in pages of 1,000, and the account's CRM attribute calls. The sandbox answers every "
        "process `in_process` on its first poll (two polls an import), and one company is read "
        "to learn how Brevo splits an `associated_contact` cell (undocumented). Exact: one "
        "company per group, each linked to exactly its users, the report's created, added and "
        f"verified equal to the input. Wall time (first run {run.first.seconds:.0f} s, rerun "
        f"{run.rerun.seconds:.0f} s)."
    )


# Main


def machine() -> str:
    """One line about where the figures were measured."""
    cpu = platform.machine()
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return (
        f"Machine: {os.cpu_count()} cores ({cpu}), {platform.system()}, "
        f"{platform.python_implementation()} {platform.python_version()}."
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--events", type=int, default=200_000, help="events of the tap figures (default 200,000)"
    )
    parser.add_argument(
        "--rss-events",
        default="200000,2000000",
        help="comma-separated sizes of the peak RSS runs (default 200000,2000000)",
    )
    parser.add_argument(
        "--target-events",
        type=int,
        default=60_000,
        help="events of the target vs Brevo bound run (default 60,000: 30 s at the bound, "
        "so the target's start of about a second counts, but does not decide the figure)",
    )
    parser.add_argument(
        "--routed-rows",
        type=int,
        default=200_000,
        help="rows of the routed stream vs Brevo bound run (default 200,000)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.15,
        help="seconds the sandbox's Brevo waits before answering a batch (default 0.15)",
    )
    parser.add_argument(
        "--in-flight", type=int, default=4, help="the target's events_calls_in_flight (default 4)"
    )
    parser.add_argument(
        "--profiles",
        default="20000",
        help="comma-separated sizes of the profiles/s runs (default 20000; 20000,1000000 adds "
        "the 1M case and the growth of peak RSS between the two)",
    )
    parser.add_argument(
        "--cohorts",
        default="10000,1000000",
        help="comma-separated cohort sizes of the cohort peak RSS runs (default 10000,1000000)",
    )
    parser.add_argument(
        "--companies",
        default="10000,100000",
        help="groups and member links of the companies calls run (default 10000,100000)",
    )
    parser.add_argument(
        "--list-members",
        type=int,
        default=100_000,
        help="members of the cohort mirrored into a new list against Brevo's bound "
        "(default 100,000: 667 calls of 150, 67 s at the bound)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, to check the benchmark itself works (figures mean nothing)",
    )
    parser.add_argument(
        "--markdown-only",
        action="store_true",
        help="print only the Markdown: table, footnotes, machine line",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.rss_events, args.target_events, args.profiles, args.cohorts = (
            2_000,
            "1000,2000",
            400,
            "100,200",
            "200,2000",
        )
        args.companies = "200,2000"
        args.routed_rows = 400
        args.list_members = 1_000
    args.rss_sizes = [int(size) for size in args.rss_events.split(",")]
    args.profile_sizes = [int(size) for size in args.profiles.split(",")]
    args.cohort_sizes = [int(size) for size in args.cohorts.split(",")]
    args.company_groups, args.company_links = (int(n) for n in args.companies.split(","))
    return args


def main(argv: list[str] | None = None) -> int:
    global _quiet  # noqa: PLW0603 - one switch for the progress lines
    args = parse_args(argv)
    _quiet = args.markdown_only
    # The SDK and the target log every run's report; the figures are what matters here.
    logging.disable(logging.WARNING)
    results = Results()
    started = time.perf_counter()
    bench_tap_floor(args.events, results)
    events = bench_target_bound(args.target_events, args.latency, args.in_flight, results)
    bench_routed(args.routed_rows, args.latency, args.in_flight, events, results)
    bench_rss(args.rss_sizes, results)
    bench_profiles(args.profile_sizes, results)
    bench_cohorts(args.cohort_sizes, results)
    bench_companies(args.company_groups, args.company_links, results)
    bench_lists(args.list_members, args.latency, results)
    bench_export(args.events, results)
    bench_serialisation(args.events, results)
    if not args.markdown_only:
        print(f"## Benchmarks ({time.perf_counter() - started:.0f} s)\n")
    print(results.markdown())
    print(f"\n{machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
