"""MixpanelClient: hosts, auth, streaming export, retries and error messages (respx mocks)."""

from __future__ import annotations

import base64
import gzip
import json
import logging
import re

import httpx
import msgspec
import pytest
import respx

from tap_mixpanel_tajo.client import Credentials, MixpanelClient, MixpanelError

SA = Credentials(
    service_account_username="sa-user",
    service_account_secret="sa-SECRET-value",
    project_id="12345",
)
EXPORT = "https://data.mixpanel.com/api/2.0/export"


class Chunks(httpx.SyncByteStream):
    """A response body delivered in the given chunks, optionally failing after them."""

    def __init__(self, chunks: list[bytes], error: Exception | None = None) -> None:
        self.chunks = chunks
        self.error = error

    def __iter__(self):
        yield from self.chunks
        if self.error is not None:
            raise self.error


def line(event: str, insert_id: str, **props) -> bytes:
    body = {"event": event, "properties": {"time": 1700000000, "$insert_id": insert_id, **props}}
    return json.dumps(body, ensure_ascii=False).encode() + b"\n"


class PropertiesLeftEncoded(msgspec.Struct):
    """An export line whose ``properties`` stay encoded (msgspec does not read their text)."""

    event: str
    properties: msgspec.Raw


def make_client(credentials: Credentials = SA, sleeps: list | None = None, **kwargs):
    recorder = sleeps if sleeps is not None else []
    return MixpanelClient(credentials, sleep=recorder.append, backoff_base_seconds=1, **kwargs)


def export(client: MixpanelClient, **kwargs) -> list[dict]:
    return list(client.iter_export("2024-01-01", "2024-01-01", **kwargs))


# Hosts


@pytest.mark.parametrize(
    ("residency", "export_url", "engage_url"),
    [
        ("US", EXPORT, "https://mixpanel.com/api/query/engage"),
        (
            "EU",
            "https://data-eu.mixpanel.com/api/2.0/export",
            "https://eu.mixpanel.com/api/query/engage",
        ),
        (
            "IN",
            "https://data-in.mixpanel.com/api/2.0/export",
            "https://in.mixpanel.com/api/query/engage",
        ),
        (
            "eu",
            "https://data-eu.mixpanel.com/api/2.0/export",
            "https://eu.mixpanel.com/api/query/engage",
        ),
    ],
)
def test_hosts_follow_data_residency(residency, export_url, engage_url):
    client = make_client(data_residency=residency)
    assert client.export_url == export_url
    assert client.query_url("engage") == engage_url


def test_base_url_replaces_every_host():
    client = make_client(data_residency="EU", base_url="http://127.0.0.1:8765/")
    assert client.export_url == "http://127.0.0.1:8765/api/2.0/export"
    assert client.query_url("engage") == "http://127.0.0.1:8765/api/query/engage"
    assert client.query_url("/cohorts/list") == "http://127.0.0.1:8765/api/query/cohorts/list"


def test_unknown_residency_is_a_one_line_error():
    with pytest.raises(MixpanelError, match="data_residency must be US, EU or IN"):
        make_client(data_residency="APAC")


# Auth


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("credentials", "authorization", "project_id"),
    [
        (SA, _basic("sa-user:sa-SECRET-value"), "12345"),
        (Credentials(api_secret="legacy-secret"), _basic("legacy-secret:"), None),
        (Credentials(api_secret="legacy-secret", project_id="7"), _basic("legacy-secret:"), "7"),
        (Credentials(oauth_token="tok-123", project_id="99"), "Bearer tok-123", "99"),
    ],
    ids=["service-account", "api-secret", "api-secret-with-project", "oauth"],
)
@respx.mock
def test_auth_header_and_project_id(credentials, authorization, project_id):
    route = respx.get(EXPORT).respond(200, content=line("A", "1"))
    assert len(export(make_client(credentials))) == 1
    request = route.calls.last.request
    assert request.headers["Authorization"] == authorization
    assert request.url.params.get("project_id") == project_id
    assert request.url.params["from_date"] == "2024-01-01"
    assert request.url.params["to_date"] == "2024-01-01"


def test_service_account_wins_over_other_credentials():
    both = Credentials(
        service_account_username="u", service_account_secret="s", api_secret="x", project_id="1"
    )
    assert both.mode == "service_account"
    assert both.authorization() == _basic("u:s")


@respx.mock
def test_event_names_go_into_the_event_param_as_a_json_array():
    route = respx.get(EXPORT).respond(200, content=b"")
    export(make_client(), event_names=["Purchase", "Sign Up"])
    assert json.loads(route.calls.last.request.url.params["event"]) == ["Purchase", "Sign Up"]


@respx.mock
def test_no_event_param_without_event_names():
    route = respx.get(EXPORT).respond(200, content=b"")
    assert export(make_client()) == []
    assert "event" not in route.calls.last.request.url.params


# Streaming and line splitting


@respx.mock
def test_u2028_inside_a_json_string_stays_in_one_record():
    text = "line\u2028separator\u2029para\x1cfs\x85nel"
    body = line("A", "1", note=text) + line("B", "2")
    assert "\u2028".encode() in body  # sent raw, not escaped
    respx.get(EXPORT).respond(200, content=body)
    records = export(make_client())
    assert [r["event"] for r in records] == ["A", "B"]
    assert records[0]["properties"]["note"] == text


@respx.mock
def test_lines_split_across_chunks_rejoin():
    body = line("A", "1") + line("B", "2") + line("C", "3").rstrip(b"\n")
    chunks = [body[i : i + 7] for i in range(0, len(body), 7)]  # boundaries mid-line, mid-UTF-8
    respx.get(EXPORT).mock(return_value=httpx.Response(200, stream=Chunks(chunks)))
    assert [r["event"] for r in export(make_client())] == ["A", "B", "C"]


@respx.mock
def test_gzip_body_is_decompressed_while_streaming():
    body = b"".join(line("E", str(i)) for i in range(500))
    respx.get(EXPORT).respond(
        200, content=gzip.compress(body), headers={"Content-Encoding": "gzip"}
    )
    client = make_client()
    assert len(export(client)) == 500
    assert client.calls == 1


@respx.mock
def test_empty_body_is_an_empty_window():
    respx.get(EXPORT).respond(200, content=b"\n")
    assert export(make_client()) == []


@respx.mock
def test_a_non_json_line_is_a_one_line_error():
    respx.get(EXPORT).respond(200, content=b"<html>oops</html>\n")
    with pytest.raises(MixpanelError, match="not JSON"):
        export(make_client())


@respx.mock
@pytest.mark.parametrize("line_type", [dict, PropertiesLeftEncoded])
def test_lines_that_are_not_utf8_are_skipped_and_counted_once_per_window(caplog, line_type):
    body = line("A", "1") + b'{"event": "B", "properties": {"x": "\xe9"}}\n' + line("C", "3")
    chunks = [body[i : i + 5] for i in range(0, len(body), 5)]
    respx.get(EXPORT).mock(return_value=httpx.Response(200, stream=Chunks(chunks)))

    lines = export(make_client(), line_type=line_type)
    assert [r["event"] if line_type is dict else r.event for r in lines] == ["A", "C"]

    assert [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING] == [
        "export 2024-01-01..2024-01-01: skipped 1 line(s) that are not UTF-8 text "
        "(Mixpanel exports UTF-8 JSON)"
    ]


@respx.mock
def test_a_block_is_decoded_whole_unless_a_line_of_it_needs_the_line_by_line_path(caplog):
    """Each chunk's whole lines are one block; a line that is not UTF-8, holds a lone surrogate
    or is blank sends its own block down the line-by-line path (an event per list), no other."""
    surrogate = b'{"event": "G\\ud800", "properties": {"time": 1700000000, "$insert_id": "7"}}\n'
    chunks = [
        line("A", "1") + line("B", "2"),
        line("C", "3") + b'{"event": "X", "properties": {"x": "\xe9"}}\n' + line("D", "4"),
        line("E", "5") + line("F", "6", text="\u00e9t\u00e9 \U0001f600"),
        surrogate + line("H", "8"),
        line("I", "9") + b"\n" + line("J", "10"),
        line("K", "11"),
    ]
    respx.get(EXPORT).mock(return_value=httpx.Response(200, stream=Chunks(chunks)))

    blocks = list(make_client().export_blocks("2024-01-01", "2024-01-01"))

    assert [[event["event"] for event in block] for block in blocks] == [
        ["A", "B"],
        ["C"],
        ["D"],
        ["E", "F"],
        ["G\ufffd"],
        ["H"],
        ["I"],
        ["J"],
        ["K"],
    ]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2
    assert "skipped 1 line(s) that are not UTF-8" in warnings[0]
    assert "1 event(s) held a broken \\u escape" in warnings[1]


# Window retries


@respx.mock
def test_terminated_early_refetches_the_whole_window():
    restarts = []
    sleeps: list[float] = []
    route = respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, content=line("A", "1") + b"terminated early\n"),
            httpx.Response(200, content=line("A", "1") + line("B", "2")),
        ]
    )
    client = make_client(sleeps=sleeps)
    records = list(
        client.iter_export("2024-01-01", "2024-01-01", on_restart=lambda: restarts.append(1))
    )
    # The client replays; the stream drops the replay (see test_tap_events).
    assert [r["event"] for r in records] == ["A", "A", "B"]
    assert route.call_count == 2
    assert restarts == [1]
    assert sleeps == [1]
    assert client.calls == 2


@respx.mock
def test_export_terminated_early_variant_also_retries():
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, content=b"export terminated early"),
            httpx.Response(200, content=line("A", "1")),
        ]
    )
    assert len(export(make_client())) == 1


@respx.mock
def test_mid_stream_transport_error_refetches_the_window():
    first = Chunks(
        [line("A", "1"), b'{"event": "B", "prop'], httpx.RemoteProtocolError("peer closed")
    )
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(200, stream=first),
            httpx.Response(200, content=line("A", "1") + line("B", "2")),
        ]
    )
    restarts = []
    records = list(
        make_client().iter_export("2024-01-01", "2024-01-01", on_restart=lambda: restarts.append(1))
    )
    assert [r["event"] for r in records] == ["A", "A", "B"]
    assert restarts == [1]


@respx.mock
def test_connect_error_is_retried():
    respx.get(EXPORT).mock(
        side_effect=[httpx.ConnectError("refused"), httpx.Response(200, content=line("A", "1"))]
    )
    sleeps: list[float] = []
    assert len(export(make_client(sleeps=sleeps))) == 1
    assert sleeps == [1]


@respx.mock
def test_window_gives_up_after_max_retries_with_one_line():
    route = respx.get(EXPORT).respond(200, content=b"terminated early\n")
    sleeps: list[float] = []
    with pytest.raises(MixpanelError) as info:
        export(make_client(sleeps=sleeps, max_retries=2))
    message = str(info.value)
    assert "\n" not in message
    assert "export 2024-01-01..2024-01-01 still failing after 2 retries" in message
    assert "terminated early" in message
    assert route.call_count == 3
    assert sleeps == [1, 2]


# Status handling


@respx.mock
def test_429_honours_retry_after():
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "7"}, text="rate limited"),
            httpx.Response(200, content=line("A", "1")),
        ]
    )
    sleeps: list[float] = []
    client = make_client(sleeps=sleeps)
    assert len(export(client)) == 1
    assert sleeps == [7]
    assert client.calls == 2


@respx.mock
def test_retry_after_is_capped_by_max_retry_wait_seconds():
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "3600"}),
            httpx.Response(200, content=b""),
        ]
    )
    sleeps: list[float] = []
    export(make_client(sleeps=sleeps, max_retry_wait_seconds=120))
    assert sleeps == [120]


@respx.mock
def test_429_without_retry_after_uses_the_long_rate_limit_backoff():
    respx.get(EXPORT).mock(
        side_effect=[httpx.Response(429), httpx.Response(429), httpx.Response(200, content=b"")]
    )
    sleeps: list[float] = []
    export(make_client(sleeps=sleeps, rate_limit_base_seconds=30))
    assert sleeps == [30, 60]


@respx.mock
def test_429_give_up_message_explains_the_hourly_budget():
    respx.get(EXPORT).respond(429)
    with pytest.raises(MixpanelError, match="60 queries per hour"):
        export(make_client(max_retries=1))


@respx.mock
def test_5xx_backs_off_exponentially_then_succeeds():
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(502),
            httpx.Response(503),
            httpx.Response(500),
            httpx.Response(200, content=line("A", "1")),
        ]
    )
    sleeps: list[float] = []
    assert len(export(make_client(sleeps=sleeps))) == 1
    assert sleeps == [1, 2, 4]


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (401, '{"error": "Invalid credentials"}', "Mixpanel rejected the credentials (HTTP 401)"),
        (403, "forbidden", "Mixpanel rejected the credentials (HTTP 403)"),
        (400, "Unable to authenticate request", "set data_residency to EU or IN"),
        (402, "Payment Required", "Mixpanel answered 402 Payment Required"),
        (400, "to_date cannot be later than today", "set project_timezone"),
        (404, "", "check base_url and data_residency"),
        (400, "bad where", "HTTP 400): bad where"),
    ],
)
@respx.mock
def test_non_retriable_statuses_are_one_line_errors(status, body, expected):
    route = respx.get(EXPORT).respond(status, text=body)
    sleeps: list[float] = []
    with pytest.raises(MixpanelError) as info:
        export(make_client(sleeps=sleeps))
    assert expected in str(info.value)
    assert "\n" not in str(info.value)
    assert route.call_count == 1
    assert sleeps == []


@respx.mock
def test_request_json_retries_and_decodes():
    url = "https://mixpanel.com/api/query/cohorts/list"
    route = respx.post(url).mock(
        side_effect=[httpx.Response(503), httpx.Response(200, json=[{"id": 1}])]
    )
    client = make_client()
    assert client.request_json("POST", url, what="cohorts") == [{"id": 1}]
    assert route.calls.last.request.url.params["project_id"] == "12345"
    assert client.calls == 2


# Daily event counts (Query API /events)

COUNTS = "https://mixpanel.com/api/query/events"


@respx.mock
def test_daily_event_counts_add_up_the_names_of_each_day():
    # The spec's example answer: a day an event is missing from counted none of it.
    example = {
        "data": {
            "series": ["2010-05-29", "2010-05-30", "2010-05-31"],
            "values": {
                "account-page": {"2010-05-30": 1},
                "splash features": {"2010-05-29": 6, "2010-05-30": 4, "2010-05-31": 5},
            },
        },
        "legend_size": 2,
    }
    route = respx.get(COUNTS).respond(200, json=example)

    totals = make_client().daily_event_counts(
        "2010-05-29", "2010-05-31", ["account-page", "splash features"]
    )

    assert totals == {"2010-05-29": 6, "2010-05-30": 5, "2010-05-31": 5}
    params = route.calls.last.request.url.params
    assert json.loads(params["event"]) == ["account-page", "splash features"]
    assert (params["type"], params["unit"]) == ("general", "day")
    assert (params["from_date"], params["to_date"]) == ("2010-05-29", "2010-05-31")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([1, 2], "without data.values of daily counts per event"),
        ({"data": {"series": []}}, "without data.values of daily counts per event"),
        ({"data": {"values": {"A": 3}}}, "without data.values of daily counts per event"),
        ({"data": {"values": {"A": {"2024-01-01": "3"}}}}, "not an integer ('3')"),
        ({"data": {"values": {"A": {"2024-01-01": True}}}}, "not an integer (True)"),
    ],
)
@respx.mock
def test_a_counts_answer_of_another_shape_is_a_one_line_error(body, expected):
    respx.get(COUNTS).respond(200, json=body)

    with pytest.raises(MixpanelError, match=re.escape(expected)) as info:
        make_client().daily_event_counts("2024-01-01", "2024-01-01", ["A"])

    assert str(info.value).startswith("event counts 2024-01-01..2024-01-01: ")


# Secrets


@respx.mock
def test_secrets_never_reach_logs_or_messages(caplog):
    caplog.set_level(logging.DEBUG)
    secret = SA.service_account_secret
    respx.get(EXPORT).mock(
        side_effect=[
            httpx.Response(503, text=f"upstream said {secret}"),
            httpx.Response(401, text=f"bad credentials {secret}"),
        ]
    )
    with pytest.raises(MixpanelError) as info:
        export(make_client())
    assert secret not in str(info.value)
    encoded = base64.b64encode(f"sa-user:{secret}".encode()).decode()
    for record in caplog.records:
        text = record.getMessage()
        assert secret not in text
        assert encoded not in text
    assert "retry 1 of 5" in caplog.text


# Log levels


@respx.mock
@pytest.mark.parametrize(("level", "http_lines"), [(logging.INFO, []), (logging.DEBUG, ["DEBUG"])])
def test_each_http_call_is_logged_at_debug_only(caplog, level, http_lines):
    """Issue 17: httpx logged one INFO line per call; a data engineer reads them only at DEBUG."""
    caplog.set_level(level)
    respx.get(EXPORT).respond(200, content=line("A", "1"))

    export(make_client())

    calls = [r for r in caplog.records if r.getMessage().startswith("HTTP Request:")]
    assert [r.levelname for r in calls] == http_lines
