"""The tap's output: the same RECORDs as before the hot-path work, written in buffered blocks.

``data/events_golden.jsonl`` holds the ``record`` of every RECORD the tap wrote for
``data/events_export.jsonl`` (raw U+2028, nested objects, emoji, odd types) before the events
path stopped walking deselection per nested key and conforming each record: it was written by the
code of commit dd4163e, once with every property selected and once without ``device_id``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import inspect
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import msgspec
import pytest
import respx
from singer_sdk import Stream
from singer_sdk.contrib.msgspec import serialize_jsonl
from singer_sdk.singerlib import RecordMessage, SchemaMessage, StateMessage

from tap_mixpanel_tajo.output import BLOCK_BYTES, BufferedMsgSpecWriter
from tap_mixpanel_tajo.streams.export import EventsStream
from tap_mixpanel_tajo.tap import TapMixpanelTajo

DATA = Path(__file__).resolve().parents[1] / "data"
EXPORT_BODY = DATA / "events_export.jsonl"
GOLDEN = DATA / "events_golden.json"
BASE = "http://mixpanel.test"
CONFIG = {
    "base_url": BASE,
    "api_secret": "secret",
    "start_date": "2024-03-01T00:00:00Z",
    "end_date": "2024-03-01T00:00:00Z",
}


def events_only_tap(deselect: tuple[str, ...] = (), **settings) -> TapMixpanelTajo:
    """A tap syncing only ``events``, with the given top-level properties deselected."""
    tap = TapMixpanelTajo(config={**CONFIG, **settings}, parse_env_config=False)
    for name, stream in tap.streams.items():
        stream.selected = name == "events"
    events = tap.streams["events"]
    for prop in deselect:
        events.metadata[("properties", prop)].selected = False
    return tap


def sync_output(tap: TapMixpanelTajo, capsys) -> list[dict]:
    """Every message the tap wrote for the sample export, decoded."""
    with respx.mock:
        respx.get(f"{BASE}/api/2.0/export").mock(
            return_value=httpx.Response(200, content=EXPORT_BODY.read_bytes())
        )
        tap.sync_all()
    return [json.loads(line) for line in capsys.readouterr().out.split("\n") if line]


@pytest.mark.parametrize(("case", "deselect"), [("all", ()), ("without_device_id", ("device_id",))])
def test_records_are_the_same_as_before_the_hot_path_work(capsys, case, deselect):
    messages = sync_output(events_only_tap(deselect), capsys)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    assert records == json.loads(GOLDEN.read_text())[case]
    assert messages[-1]["type"] == "STATE"


def test_the_sdk_internal_bypassed_is_still_there():
    """The events stream replaces ``Stream._write_record_message`` by name, the method the SDK
    calls for each record: an SDK that renames it or stops calling it would silently bring back
    the per-key walk and the message objects; this fails first."""
    assert "_write_record_message" in vars(Stream)
    assert "_write_record_message" in vars(EventsStream)
    assert "self._write_record_message(record)" in inspect.getsource(Stream._sync_records)


def test_the_sdk_step_skipped_for_each_event_would_leave_it_as_it_is():
    """The events stream skips ``Stream._process_record`` (partition keys, child streams), which
    ``_sync_records`` calls for each record: on an events record the SDK's method changes
    nothing; an SDK that renames it or has it do more for such a stream fails this first."""
    events = events_only_tap().streams["events"]
    assert events.partitions is None
    assert events.child_streams == []
    record = json.loads(GOLDEN.read_text())["all"][0]
    before = json.loads(json.dumps(record))
    partition = events._get_state_partition_context(None)
    Stream._process_record(events, record, child_context=None, partition_context=partition)
    assert record == before
    assert "_process_record" in vars(Stream)
    assert "_process_record" in vars(EventsStream)
    assert "self._process_record(" in inspect.getsource(Stream._sync_records)


def test_stream_maps_see_the_properties_decoded(capsys):
    """A stream map reads ``properties``: the record then takes the SDK's own path, whole."""
    maps = {"events": {"title": "properties.get('title')"}}
    messages = sync_output(events_only_tap(stream_maps=maps), capsys)
    records = [m["record"] for m in messages if m["type"] == "RECORD"]
    golden = json.loads(GOLDEN.read_text())["all"]
    assert [r["properties"] for r in records] == [g["properties"] for g in golden]
    assert [r["title"] for r in records] == [g["properties"].get("title") for g in golden]


def test_batch_files_hold_the_properties_decoded(capsys, tmp_path):
    batch_config = {
        "encoding": {"format": "jsonl", "compression": "gzip"},
        "storage": {"root": tmp_path.as_uri(), "prefix": "events-"},
    }
    messages = sync_output(events_only_tap(batch_config=batch_config), capsys)
    assert [m["type"] for m in messages if m["type"] in {"RECORD", "BATCH"}] == ["BATCH"]
    lines = b"".join(gzip.decompress(path.read_bytes()) for path in sorted(tmp_path.iterdir()))
    records = [json.loads(line) for line in lines.splitlines()]
    assert records == json.loads(GOLDEN.read_text())["all"]


def test_a_record_line_is_the_line_of_its_record_message(monkeypatch):
    raw_stdout = counting_stdout(monkeypatch)
    writer = BufferedMsgSpecWriter()
    record = {"insert_id": "a", "time": "2024-03-01T00:00:00.000000+00:00", "properties": {"n": 1}}
    now = dt.datetime.now(dt.timezone.utc)
    writer.write_record("events", dict(record), None)
    writer.write_message(RecordMessage("events", dict(record), time_extracted=now))
    writer.write_record("events", dict(record), 7)
    writer.write_message(RecordMessage("events", dict(record), version=7, time_extracted=now))
    writer.flush()
    lines = raw_stdout.lines()
    for line in lines:
        assert dt.datetime.fromisoformat(line.pop("time_extracted")).tzinfo is not None
    assert lines[0] == lines[1] == {"type": "RECORD", "stream": "events", "record": record}
    assert lines[2] == lines[3] == {**lines[0], "version": 7}


def test_a_record_line_has_the_bytes_of_its_record_message(monkeypatch):
    """The same fields, encoder and order as the SDK's line; ``time_extracted`` is the write's."""
    raw_stdout = counting_stdout(monkeypatch)
    writer = BufferedMsgSpecWriter()
    record = {
        "insert_id": "é",
        "time": None,
        "properties": msgspec.Raw(b'{"n":[1,"\xe2\x80\xa8"]}'),
    }
    before = dt.datetime.now(dt.timezone.utc)
    writer.write_record("events", dict(record), 7)
    after = dt.datetime.now(dt.timezone.utc)
    writer.flush()
    line = bytes(raw_stdout.data)
    extracted = dt.datetime.fromisoformat(json.loads(line)["time_extracted"])
    message = RecordMessage("events", dict(record), version=7, time_extracted=extracted)
    assert line == bytes(serialize_jsonl(message.to_dict()))
    assert before <= extracted <= after


def test_time_extracted_is_made_again_when_the_millisecond_changes(monkeypatch):
    raw_stdout = counting_stdout(monkeypatch)
    writer = BufferedMsgSpecWriter()
    for index in range(3):
        writer.write_record("events", {"insert_id": f"id-{index}"}, None)
        time.sleep(0.002)
    writer.flush()
    stamps = [dt.datetime.fromisoformat(m["time_extracted"]) for m in raw_stdout.lines()]
    assert stamps == sorted(set(stamps))
    assert stamps[-1] - stamps[0] >= dt.timedelta(milliseconds=4)


class CountingRaw(io.RawIOBase):
    """A file that counts the ``write`` calls it receives (what system calls would be)."""

    def __init__(self) -> None:
        self.data = bytearray()
        self.writes = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self.writes += 1
        self.data += data
        return len(data)

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in bytes(self.data).split(b"\n") if line]


def counting_stdout(monkeypatch, *, unbuffered: bool = False) -> CountingRaw:
    """stdout as a real process has it, over a counting file.

    A buffered writer, or with ``unbuffered`` the raw file itself, as under PYTHONUNBUFFERED=1.
    Set inside the test: pytest sets its own capture back between a fixture and the test.
    """
    raw = CountingRaw()
    if unbuffered:
        stdout = io.TextIOWrapper(raw, encoding="utf-8", write_through=True)
    else:
        stdout = io.TextIOWrapper(io.BufferedWriter(raw, buffer_size=8192), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", stdout)
    return raw


def record(index: int) -> RecordMessage:
    return RecordMessage("events", {"insert_id": f"id-{index}", "properties": {"n": index}})


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_records_wait_in_the_block_until_a_state(monkeypatch, unbuffered):
    raw_stdout = counting_stdout(monkeypatch, unbuffered=unbuffered)
    writer = BufferedMsgSpecWriter()
    writer.write_message(SchemaMessage("events", {"type": "object"}, ["insert_id"]))
    assert raw_stdout.writes == 1  # a SCHEMA goes out at once
    for index in range(3):
        writer.write_record("events", {"insert_id": f"id-{index}"}, None)
    assert raw_stdout.writes == 1
    writer.write_message(StateMessage({"bookmarks": {}}))
    assert raw_stdout.writes == 2  # the three records and the STATE, in one write
    types = [m["type"] for m in raw_stdout.lines()]
    assert types == ["SCHEMA", "RECORD", "RECORD", "RECORD", "STATE"]


def test_a_record_of_another_stream_goes_out_after_the_events_before_it(monkeypatch):
    raw_stdout = counting_stdout(monkeypatch, unbuffered=True)
    writer = BufferedMsgSpecWriter()
    writer.write_record("events", {"insert_id": "id-0"}, None)
    writer.write_message(record(1))
    writer.write_record("events", {"insert_id": "id-2"}, None)
    writer.flush()
    ids = [m["record"]["insert_id"] for m in raw_stdout.lines()]
    assert ids == ["id-0", "id-1", "id-2"]


@pytest.mark.parametrize("unbuffered", [False, True], ids=["buffered", "PYTHONUNBUFFERED"])
def test_many_records_go_out_in_few_writes(monkeypatch, unbuffered):
    raw_stdout = counting_stdout(monkeypatch, unbuffered=unbuffered)
    writer = BufferedMsgSpecWriter()
    count = 20_000
    for index in range(count):
        writer.write_record("events", {"insert_id": f"id-{index}"}, None)
    writer.write_message(StateMessage({"bookmarks": {}}))
    assert len(raw_stdout.data) > 10 * BLOCK_BYTES
    assert raw_stdout.writes <= len(raw_stdout.data) // BLOCK_BYTES + 2
    ids = [m["record"]["insert_id"] for m in raw_stdout.lines() if m["type"] == "RECORD"]
    assert ids == [f"id-{i}" for i in range(count)]


def test_a_state_left_unwritten_as_unchanged_still_sends_the_records_before_it(monkeypatch):
    raw_stdout = counting_stdout(monkeypatch, unbuffered=True)
    tap = TapMixpanelTajo(config=CONFIG, parse_env_config=False)
    stream = tap.streams["events"]
    stream.emit_state()
    tap.message_writer.write_record("events", {"insert_id": "a"}, None)
    stream.emit_state()  # the same state: the SDK writes no STATE
    assert [m["type"] for m in raw_stdout.lines()] == ["STATE", "RECORD"]


def test_a_closed_stdout_ends_in_one_line(tmp_path):
    """The reader goes away mid-sync: one line on stderr, no traceback."""
    script = f"""
import pathlib, sys, httpx, respx
from tap_mixpanel_tajo.tap import TapMixpanelTajo
body = pathlib.Path({str(EXPORT_BODY)!r}).read_bytes() * 400  # far more than a pipe holds
with respx.mock:
    respx.get("{BASE}/api/2.0/export").mock(return_value=httpx.Response(200, content=body))
    respx.post("{BASE}/api/query/cohorts/list").mock(return_value=httpx.Response(200, json=[]))
    respx.get("{BASE}/lookup-tables").mock(return_value=httpx.Response(200, json={{"results": []}}))
    engage = httpx.Response(200, json={{"results": []}})
    respx.post("{BASE}/api/query/engage").mock(return_value=engage)
    TapMixpanelTajo.cli(["--config", sys.argv[1]])
"""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    with subprocess.Popen(
        [sys.executable, "-c", script, str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
    ) as tap:
        assert tap.stdout is not None
        assert tap.stderr is not None
        tap.stdout.read(100)
        tap.stdout.close()
        stderr = tap.stderr.read().decode()
    assert tap.returncode == 1
    assert stderr.splitlines()[-1] == (
        "tap-mixpanel-tajo: stdout was closed before the sync ended (the target stopped "
        "reading); the next run starts from the last STATE the target received"
    )
    assert "Traceback" not in stderr
