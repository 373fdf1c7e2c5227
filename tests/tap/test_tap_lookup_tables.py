"""The lookup_tables stream: documented list, App API download, source CSV fallback (respx)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx
import pytest
import respx

from tap_mixpanel_tajo.lookup_csv import CsvRows, LookupCsvError, text_lines, typed
from tap_mixpanel_tajo.tap import TapMixpanelTajo

PLANS_ID, ACCOUNTS_ID = (
    "6f1c2a4e-2d0b-4c55-9b7e-1d2f3a4b5c6d",
    "55b4fb2b-e8de-466c-930f-8b36640b9b5e",
)
PLANS_GROUP, ACCOUNTS_GROUP = 4231, -8644926364725811123
APP = "https://mixpanel.com/api/app/projects/12345/data-definitions/lookup-tables"
LIST = "https://api.mixpanel.com/lookup-tables"
DOWNLOAD = f"{APP}/download/"

CONFIG = {
    "project_id": "12345",
    "service_account_username": "sa-user",
    "service_account_secret": "sa-secret",
    "max_retries": 1,
}
PLANS_CSV = (
    "plan_id,display_name,price,seats,is_paid,features,launched_at\r\n"
    'free,Free,0,1,false,"[""Dashboards""]",2021-01-04T00:00:00Z\r\n'
    'pro,Pro,49.5,5,TRUE,"[""Dashboards"",""Funnels""]",2022-03-15T09:00:00Z\r\n'
    'enterprise,"Enterprise, annual",499,,True,,\r\n'
)
ACCOUNTS_CSV = 'company_id,account_name,notes\nc-001,Acme,"two\nlines"\nc-002,Globex,\n'


def mock_lists(router: respx.MockRouter, *, list_host: str = LIST, app: str = APP) -> None:
    tables = [{"id": PLANS_ID, "name": "Plans"}, {"id": ACCOUNTS_ID, "name": "Accounts"}]
    router.get(list_host).respond(200, json={"code": 200, "status": "OK", "results": tables})
    groups = [{"id": PLANS_GROUP, "name": "Plans"}, {"id": ACCOUNTS_GROUP, "name": "Accounts"}]
    router.get(f"{app}/").respond(200, json={"status": "ok", "results": groups})


def mock_download(router: respx.MockRouter, group: int, response: httpx.Response) -> respx.Route:
    return router.get(DOWNLOAD, params={"data-group-id": str(group)}).mock(return_value=response)


def make_tap(**config) -> TapMixpanelTajo:
    return TapMixpanelTajo(config={**CONFIG, **config}, parse_env_config=False)


def sync(tap: TapMixpanelTajo, capsys, streams: set[str] | None = None) -> list[dict]:
    for name, stream in tap.streams.items():
        stream.selected = name in (streams or {"lookup_tables"})
    capsys.readouterr()
    tap.sync_all()
    return [json.loads(line) for line in capsys.readouterr().out.splitlines() if line]


def rows(messages: list[dict], stream: str = "lookup_tables") -> list[dict]:
    return [m["record"] for m in messages if m["type"] == "RECORD" and m["stream"] == stream]


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


# Values typed as Mixpanel types them


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ("-7", -7),
        ("49.5", 49.5),
        ("1e3", 1000.0),
        ("true", True),
        ("FALSE", False),
        ("True", True),
        ('["a","b"]', ["a", "b"]),
        ("[]", []),
        ("2026-11-20T12:00:00Z", "2026-11-20T12:00:00Z"),
        ("007", "007"),
        ("1,5", "1,5"),
        (" 42", " 42"),
        ("1e999", "1e999"),
        ("[1,2]", "[1,2]"),
        ("[not json]", "[not json]"),
        ("yes", "yes"),
    ],
)
def test_a_field_is_typed_as_mixpanel_parses_lookup_tables(text, value):
    assert typed(text) == value
    assert type(typed(text)) is type(value)


def test_the_first_column_is_the_key_and_empty_cells_are_left_out():
    parsed = list(CsvRows(text_lines([PLANS_CSV.encode()])))

    assert parsed == [
        (
            "free",
            {
                "display_name": "Free",
                "price": 0,
                "seats": 1,
                "is_paid": False,
                "features": ["Dashboards"],
                "launched_at": "2021-01-04T00:00:00Z",
            },
        ),
        (
            "pro",
            {
                "display_name": "Pro",
                "price": 49.5,
                "seats": 5,
                "is_paid": True,
                "features": ["Dashboards", "Funnels"],
                "launched_at": "2022-03-15T09:00:00Z",
            },
        ),
        ("enterprise", {"display_name": "Enterprise, annual", "price": 499, "is_paid": True}),
    ]


def test_lines_cut_anywhere_in_chunks_keep_quoted_newlines_and_multibyte_characters():
    body = '\ufeffid,city,note\nr1,São Paulo,"a\nb"\nr2,Zürich,x\u2028y\n'.encode()
    one_byte_chunks = [body[i : i + 1] for i in range(len(body))]

    parsed = list(CsvRows(text_lines(one_byte_chunks)))

    assert parsed == [
        ("r1", {"city": "São Paulo", "note": "a\nb"}),
        ("r2", {"city": "Zürich", "note": "x\u2028y"}),
    ]


def test_rows_with_an_empty_key_or_the_wrong_field_count_are_skipped_and_counted():
    table = CsvRows(text_lines([b"id,a\nk1,1\n,2\nk3\nk4,4,extra\nk5,5\n"]))

    assert [key for key, _ in table] == ["k1", "k5"]
    assert (table.rows, table.skipped, table.first_skipped_line) == (2, 3, 3)


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (b"", "no header row"),
        (b"id,a,a\nk,1,2\n", "names column 'a' twice"),
        (b"id,,b\n", "empty column name"),
        (b"id,a\nk,\xff\n", "not UTF-8"),
    ],
)
def test_a_csv_that_is_no_lookup_table_is_one_line(body, problem):
    with pytest.raises(LookupCsvError, match=problem):
        list(CsvRows(text_lines([body])))


# The stream


def test_lookup_tables_is_the_first_stream_discovered_and_synced(capsys):
    tap = make_tap()

    assert next(iter(tap.streams)) == "lookup_tables"
    assert tap.catalog_dict["streams"][0]["tap_stream_id"] == "lookup_tables"
    assert list(tap.streams)[-1] == "sync_checkpoints"
    with respx.mock(assert_all_called=False) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(200, text=ACCOUNTS_CSV))
        router.post("https://mixpanel.com/api/query/cohorts/list").respond(200, json=[])
        messages = sync(tap, capsys, {"lookup_tables", "cohorts"})

    schemas = [m["stream"] for m in messages if m["type"] == "SCHEMA"]
    assert schemas == ["lookup_tables", "cohorts"]


def test_each_row_of_each_listed_table_is_one_record_from_the_app_api_download(capsys):
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        plans = mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(200, text=ACCOUNTS_CSV))
        records = rows(sync(make_tap(), capsys))

    assert [(r["table_id"], r["table_name"], r["key"]) for r in records] == [
        (PLANS_ID, "Plans", "free"),
        (PLANS_ID, "Plans", "pro"),
        (PLANS_ID, "Plans", "enterprise"),
        (ACCOUNTS_ID, "Accounts", "c-001"),
        (ACCOUNTS_ID, "Accounts", "c-002"),
    ]
    assert records[1]["values"]["price"] == 49.5
    assert records[3]["values"] == {"account_name": "Acme", "notes": "two\nlines"}
    request = plans.calls.last.request
    assert request.url.params["project_id"] == "12345"
    assert request.headers["Authorization"].startswith("Basic ")


def test_an_eu_project_reads_its_tables_from_the_eu_hosts(capsys):
    eu_app = "https://eu.mixpanel.com/api/app/projects/12345/data-definitions/lookup-tables"
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router, list_host="https://api-eu.mixpanel.com/lookup-tables", app=eu_app)
        router.get(f"{eu_app}/download/", params={"data-group-id": str(PLANS_GROUP)}).respond(
            200, text=PLANS_CSV
        )
        router.get(f"{eu_app}/download/", params={"data-group-id": str(ACCOUNTS_GROUP)}).respond(
            200, text=ACCOUNTS_CSV
        )
        records = rows(sync(make_tap(data_residency="EU"), capsys))

    assert len(records) == 5


def test_a_refused_download_reads_the_table_from_its_source_csv(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)
    source = tmp_path / "accounts.csv"
    source.write_text(ACCOUNTS_CSV, encoding="utf-8")
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        refused = mock_download(router, ACCOUNTS_GROUP, httpx.Response(403, json={"error": "no"}))
        records = rows(sync(make_tap(lookup_table_sources={"Accounts": str(source)}), capsys))

    accounts = [r for r in records if r["table_name"] == "Accounts"]
    assert [r["key"] for r in accounts] == ["c-001", "c-002"]
    assert accounts[0] == {
        "table_id": ACCOUNTS_ID,
        "table_name": "Accounts",
        "key": "c-001",
        "values": {"account_name": "Acme", "notes": "two\nlines"},
    }
    assert refused.call_count == 1  # refused is an answer, not a failure to retry
    assert not warnings(caplog)
    assert any(
        "HTTP 403" in r.getMessage() and str(source) in r.getMessage() for r in caplog.records
    )


def test_a_source_is_found_by_table_id_too(tmp_path, capsys):
    source = tmp_path / "accounts.csv"
    source.write_text(ACCOUNTS_CSV, encoding="utf-8")
    with respx.mock(assert_all_called=False) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(404, json={"error": "not found"}))
        records = rows(sync(make_tap(lookup_table_sources={ACCOUNTS_ID: str(source)}), capsys))

    assert [r["key"] for r in records if r["table_id"] == ACCOUNTS_ID] == ["c-001", "c-002"]


def test_a_refused_table_without_a_source_is_one_line_and_the_other_streams_carry_on(
    capsys, caplog
):
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(403, json={"error": "no"}))
        cohorts = [{"id": 7, "name": "Churned", "count": 3}]
        router.post("https://mixpanel.com/api/query/cohorts/list").respond(200, json=cohorts)
        messages = sync(make_tap(), capsys, {"lookup_tables", "cohorts"})

    assert {r["table_name"] for r in rows(messages)} == {"Plans"}
    assert [r["id"] for r in rows(messages, "cohorts")] == [7]
    (line,) = warnings(caplog)
    assert line == (
        f"lookup table 'Accounts' ({ACCOUNTS_ID}): rows not read (Mixpanel refused lookup table "
        f"download (data-group-id {ACCOUNTS_GROUP}) (HTTP 403)); set lookup_table_sources: "
        "{Accounts: <path or https URL of the CSV uploaded to Mixpanel>} to read it from its "
        "source file"
    )


def test_without_the_app_api_list_every_table_comes_from_its_source(tmp_path, capsys, caplog):
    plans, accounts = tmp_path / "plans.csv", tmp_path / "accounts.csv"
    plans.write_text(PLANS_CSV, encoding="utf-8")
    accounts.write_text(ACCOUNTS_CSV, encoding="utf-8")
    sources = {"Plans": str(plans), "Accounts": str(accounts)}
    with respx.mock(assert_all_called=True) as router:
        tables = [{"id": PLANS_ID, "name": "Plans"}, {"id": ACCOUNTS_ID, "name": "Accounts"}]
        router.get(LIST).respond(200, json={"code": 200, "status": "OK", "results": tables})
        router.get(f"{APP}/").respond(403, json={"error": "service accounts cannot"})
        records = rows(sync(make_tap(lookup_table_sources=sources), capsys))

    assert len(records) == 5
    assert not warnings(caplog)


def test_lookup_tables_app_api_false_never_calls_the_app_api(tmp_path, capsys):
    plans = tmp_path / "plans.csv"
    plans.write_text(PLANS_CSV, encoding="utf-8")
    with respx.mock(assert_all_called=False) as router:
        mock_lists(router)
        app = router.route(url__startswith="https://mixpanel.com/api/app/")
        tap = make_tap(lookup_tables_app_api=False, lookup_table_sources={"Plans": str(plans)})
        records = rows(sync(tap, capsys))

    assert not app.called
    assert {r["table_name"] for r in records} == {"Plans"}


def test_a_source_url_is_streamed_without_the_mixpanel_credentials(capsys):
    url = "https://files.example.com/lookup/accounts.csv"
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(403))
        source = router.get(url).respond(200, text=ACCOUNTS_CSV)
        records = rows(sync(make_tap(lookup_table_sources={"Accounts": url}), capsys))

    assert [r["key"] for r in records if r["table_name"] == "Accounts"] == ["c-001", "c-002"]
    assert "Authorization" not in source.calls.last.request.headers


def test_a_download_that_breaks_off_is_read_again_from_its_source(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)

    def broken_body():
        yield b"company_id,account_name\nc-001,Acme\n"
        raise httpx.ReadError("connection reset")

    source = tmp_path / "accounts.csv"
    source.write_text(ACCOUNTS_CSV, encoding="utf-8")
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(200, content=broken_body()))
        records = rows(sync(make_tap(lookup_table_sources={"Accounts": str(source)}), capsys))

    accounts = [r["key"] for r in records if r["table_name"] == "Accounts"]
    assert accounts == ["c-001", "c-001", "c-002"]  # the same key again: the row is replaced
    assert (
        f"(lookup table download (data-group-id {ACCOUNTS_GROUP}) broke off part-way (ReadError), "
        "after 1 rows)"
    ) in caplog.text


def test_a_refused_list_is_one_line_and_the_stream_ends(capsys, caplog):
    with respx.mock(assert_all_called=True) as router:
        router.get(LIST).respond(401, json={"error": "Invalid credentials"})
        records = rows(sync(make_tap(), capsys))

    assert records == []
    (line,) = warnings(caplog)
    assert line.startswith("lookup_tables: not read (Mixpanel rejected the credentials (HTTP 401)")
    assert line.endswith("; the other streams carry on")


def test_rows_are_emitted_while_the_download_is_still_arriving(capsys):
    pulled: list[int] = []

    def body():
        yield b"plan_id,price\n"
        for index in range(10_000):
            pulled.append(index)
            yield f"p{index},{index}\n".encode()

    with respx.mock(assert_all_called=False) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, content=body()))
        tap = make_tap()
        records = iter(tap.streams["lookup_tables"].get_records(None))
        first = next(records)

    assert first["key"] == "p0"
    assert len(pulled) < 100


def test_with_a_mapping_only_the_tables_its_lookup_enrichment_names_are_read(
    tmp_path, capsys, caplog, mapping_file: Path
):
    mapping = tmp_path / "mapping.yml"
    mapping.write_text(
        mapping_file.read_text()
        + "lookup_enrichment:\n"
        + "  - {property: plan, table: Plans, attributes: {display_name: PLAN_NAME}}\n"
        + "  - {property: team, table: Teams, attributes: {lead: TEAM_LEAD}}\n"
    )
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        records = rows(sync(make_tap(mapping_file=str(mapping)), capsys))

    assert {r["table_name"] for r in records} == {"Plans"}
    (line,) = warnings(caplog)
    assert "names table 'Teams', which Mixpanel does not list" in line


def test_a_mapping_that_enriches_nothing_reads_no_table(capsys, mapping_file: Path):
    with respx.mock(assert_all_called=False) as router:
        records = rows(sync(make_tap(mapping_file=str(mapping_file)), capsys))

    assert records == []
    assert not router.calls


def test_a_download_answered_503_is_retried_and_each_row_emitted_once(capsys, no_sleep):
    with respx.mock(assert_all_called=False) as router:
        mock_lists(router)
        plans = router.get(DOWNLOAD, params={"data-group-id": str(PLANS_GROUP)})
        plans.side_effect = [httpx.Response(503), httpx.Response(200, text=PLANS_CSV)]
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(200, text=ACCOUNTS_CSV))
        records = rows(sync(make_tap(), capsys))

    assert [r["key"] for r in records if r["table_name"] == "Plans"] == [
        "free",
        "pro",
        "enterprise",
    ]
    assert plans.call_count == 2
    assert no_sleep == [2.0]


def test_a_source_that_cannot_be_read_is_one_line(tmp_path, capsys, caplog):
    caplog.set_level(logging.INFO)  # httpx logs each request's URL at INFO
    url = "https://files.example.com/accounts.csv?token=s3cret"
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(403))
        router.get(url).respond(404)
        records = rows(sync(make_tap(lookup_table_sources={"Accounts": url}), capsys))

    assert {r["table_name"] for r in records} == {"Plans"}
    (line,) = warnings(caplog)
    assert line == (
        f"lookup table 'Accounts' ({ACCOUNTS_ID}): rows not read from its source "
        "https://files.example.com/accounts.csv (answered HTTP 404); the other streams carry on"
    )
    assert "s3cret" not in caplog.text


def test_a_missing_source_file_is_one_line(tmp_path, capsys, caplog):
    missing = tmp_path / "nowhere.csv"
    with respx.mock(assert_all_called=True) as router:
        mock_lists(router)
        mock_download(router, PLANS_GROUP, httpx.Response(200, text=PLANS_CSV))
        mock_download(router, ACCOUNTS_GROUP, httpx.Response(403))
        rows(sync(make_tap(lookup_table_sources={"Accounts": str(missing)}), capsys))

    assert warnings(caplog) == [
        f"lookup table 'Accounts' ({ACCOUNTS_ID}): rows not read from its source {missing} "
        "(cannot be read (No such file or directory)); the other streams carry on"
    ]
