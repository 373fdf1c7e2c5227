"""The tap's settings: declared once, as the config schema, and read once, typed.

``CONFIG_SCHEMA`` is the one source: ``--about``, Meltano's ``meltano.yml`` (checked by a test) and
the README tables (generated) follow it, and :class:`TapSettings` takes its defaults from it. The
checks a JSON schema cannot make (real dates, an IANA timezone, complete group keys) are made
when the settings are read, so a mistake stops the run before its first call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping as ConfigMapping
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from singer_sdk import typing as th

from tap_mixpanel_tajo.dates import check_date_range, project_zone, setting_date_problem
from tap_mixpanel_tajo.errors import TapConfigError
from tap_mixpanel_tajo.jql_settings import JQL_PROPERTY, JqlQuery, parse_jql_queries
from tap_mixpanel_tajo.report_settings import (
    REPORT_PROPERTIES,
    parse_funnel_ids,
    parse_queries,
)

# A base_url the client can call: anything else fails at the first request, far from the setting.
HTTP_URL = r"^https?://[^\s/]+"
#: Most days of history one run reads unless ``max_backfill_days`` says otherwise: 90 one-day
#: windows are 90 export calls, an hour and a half of Mixpanel's ~60 queries an hour.
DEFAULT_MAX_BACKFILL_DAYS = 90
WHERE_TO_FIND_IT = "Mixpanel shows it under Project Settings > Group Keys"

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "base_url",
        th.StringType(pattern=HTTP_URL),
        title="Base URL",
        description=(
            "Replaces the scheme and host of every Mixpanel API (export, query), e.g. "
            "http://127.0.0.1:8080 for the local sandbox. Leave unset for real Mixpanel."
        ),
    ),
    th.Property(
        "project_id",
        th.StringType,
        title="Project ID",
        description=(
            "Mixpanel project id; required with a service account or OAuth token. "
            "Falls back to connectors.mixpanel.project_id in the mapping file."
        ),
    ),
    th.Property(
        "service_account_username",
        th.StringType,
        title="Service account username",
        description=(
            "Service account username (recommended auth). Falls back to "
            "connectors.mixpanel.service_account.username in the mapping file."
        ),
    ),
    th.Property(
        "service_account_secret",
        th.StringType,
        secret=True,
        title="Service account secret",
        description="Service account secret (paired with service_account_username).",
    ),
    th.Property(
        "api_secret",
        th.StringType,
        secret=True,
        title="Project API secret (legacy)",
        description=(
            "Legacy project secret, sent as Basic auth with an empty password. "
            "Deprecated by Mixpanel (retired 2027-03-03): prefer a service account."
        ),
    ),
    th.Property(
        "oauth_token",
        th.StringType,
        secret=True,
        title="OAuth token",
        description="OAuth bearer token; needs project_id.",
    ),
    th.Property(
        "data_residency",
        th.StringType,
        allowed_values=["US", "EU", "IN"],
        title="Data residency",
        description=(
            "Where the project's data lives: US (default), EU or IN; picks the API hosts. "
            "Falls back to connectors.mixpanel.data_residency in the mapping file."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description=(
            "Earliest event date to export when there is no bookmark (default: 30 days ago): "
            "a day (2026-11-01) or an RFC 3339 time; anything else stops the run."
        ),
    ),
    th.Property(
        "end_date",
        th.DateTimeType,
        title="End date",
        description=(
            "Last event date to export (inclusive; default today): a day (2026-11-30) or an "
            "RFC 3339 time; anything else stops the run."
        ),
    ),
    th.Property(
        "max_backfill_days",
        th.IntegerType(minimum=1),
        default=DEFAULT_MAX_BACKFILL_DAYS,
        title="Max backfill (days)",
        description=(
            "Most days of events one run may read (one export call per window_days): a run "
            "that would read more stops and says how to backfill (make backfill START=... "
            "END=..., which raises it for its own range). Raise it for one long run."
        ),
    ),
    th.Property(
        "lookback_days",
        th.IntegerType(minimum=0),
        default=5,
        title="Lookback days",
        description=(
            "Days before the bookmark to export again on incremental runs, to pick up "
            "late-arriving events (SDKs send up to ~5 days late)."
        ),
    ),
    th.Property(
        "window_days",
        th.IntegerType(minimum=1),
        default=1,
        title="Window days",
        description=(
            "Days per export request. Each request is one of Mixpanel's ~60 export "
            "queries per hour: raise this for long backfills of small projects."
        ),
    ),
    th.Property(
        "verify_export_counts",
        th.BooleanType,
        default=False,
        title="Verify export counts",
        description=(
            "Compare each export window with Mixpanel's own daily counts of the mapped "
            "events (Query API /events: one call per window, from Mixpanel's ~60 queries an "
            "hour) for days that ended at least 24 hours ago. A window that returned fewer "
            "events is read again once, then a warning names it. Off: an export cut cleanly "
            "at a line boundary is recovered only by the lookback of later runs."
        ),
    ),
    th.Property(
        "mapping_file",
        th.StringType,
        title="Mapping file",
        description=(
            "Path to the mapping YAML (seed format). The tap pushes the mapped event "
            "names down to the export and the mapped profile properties down to Engage, "
            "and honours connectors.mixpanel.sync/enabled."
        ),
    ),
    th.Property(
        "project_timezone",
        th.StringType,
        default="UTC",
        title="Project timezone",
        description=(
            "IANA timezone of projects created before 2023, whose export dates and event "
            "times are in project local time (e.g. US/Pacific). Keep UTC for newer projects."
        ),
    ),
    th.Property(
        "profiles_full_refresh_days",
        th.IntegerType(minimum=0),
        default=7,
        title="Profiles full refresh (days)",
        description=(
            "Days between full refreshes of the profiles stream; runs in between only read "
            "profiles whose $last_seen moved. $last_seen misses edits made in the Mixpanel "
            "UI and deletions, which a full refresh catches. 0 = a full refresh every run."
        ),
    ),
    th.Property(
        "cohort_ids",
        th.ArrayType(th.IntegerType),
        title="Cohort IDs",
        description=(
            "Mixpanel cohorts whose members to sync (cohorts and cohort_members streams). "
            "Default: the cohorts the mapping file names (connectors.mixpanel.lists keys "
            "other than all_users, and cohort_lists); without a mapping file, all cohorts. "
            "An empty list means the default."
        ),
    ),
    th.Property(
        "group_keys",
        th.ArrayType(
            th.ObjectType(
                th.Property("group_key", th.StringType, required=True),
                th.Property("data_group_id", th.StringType),
            )
        ),
        title="Group keys",
        description=(
            "Mixpanel group keys to sync as the groups stream, e.g. [{group_key: "
            "company_id, data_group_id: '-1405123841946871899'}]; one partition each. "
            "data_group_id is shown under Project Settings > Group Keys. On with the "
            "mapping's connectors.mixpanel.sync.groups: true (or without a mapping file)."
        ),
    ),
    th.Property(
        "lookup_table_sources",
        th.ObjectType(additional_properties=th.StringType),
        title="Lookup table sources",
        description=(
            "Where each lookup table's source CSV (the file uploaded to Mixpanel) lives, by "
            "table name or id: {Plans: data/plans.csv, Accounts: https://host/accounts.csv}. "
            "A table whose download Mixpanel refuses (403/404, no App API) is read from here; "
            "without an entry it is skipped with one line."
        ),
    ),
    th.Property(
        "lookup_tables_app_api",
        th.BooleanType,
        default=True,
        title="Lookup tables through the App API",
        description=(
            "Download lookup table rows through Mixpanel's App API, which Mixpanel does not "
            "document (its own mixpanel-headless client uses it). false: every table comes "
            "from lookup_table_sources."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=5,
        title="Max retries",
        description="Retries of a failed request or export window (429, 5xx, drops).",
    ),
    th.Property(
        "max_retry_wait_seconds",
        th.IntegerType(minimum=0),
        default=300,
        title="Max retry wait (seconds)",
        description="Cap on a single backoff wait, including a Retry-After from Mixpanel.",
    ),
    th.Property(
        "request_timeout_seconds",
        th.IntegerType(minimum=1),
        default=300,
        title="Request timeout (seconds)",
        description="Read timeout of one request (between chunks of a streamed export).",
    ),
    *REPORT_PROPERTIES,
    JQL_PROPERTY,
).to_dict()

SCHEMA_DEFAULTS: dict[str, Any] = {
    name: spec["default"] for name, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}


def parse_group_keys(raw: Any) -> dict[str, str]:
    """The ``group_keys`` setting as ``{group_key: data_group_id}``; a bad entry is one line."""
    found: dict[str, str] = {}
    for index, entry in enumerate(raw or []):
        key = entry.get("group_key") if isinstance(entry, dict) else None
        if not key:
            msg = f"group_keys[{index}]: needs a group_key (the group property, e.g. company_id)"
            raise TapConfigError(msg)
        data_group_id = entry.get("data_group_id")
        if data_group_id in (None, ""):
            msg = f"group_keys: {key} has no data_group_id; {WHERE_TO_FIND_IT}"
            raise TapConfigError(msg)
        found[str(key)] = str(data_group_id)
    return found


def _date_setting(config: ConfigMapping[str, Any], name: str) -> str | None:
    """A ``start_date``/``end_date`` value as text, once checked to be a real day or time."""
    value = config.get(name)
    if value is None:
        return None
    problem = setting_date_problem(name, value)
    if problem:
        raise TapConfigError(problem)
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


def _number(config: ConfigMapping[str, Any], name: str) -> Any:
    """A setting's value, or the schema's default when it is left out or null."""
    value = config.get(name)
    return SCHEMA_DEFAULTS.get(name) if value is None else value


@dataclass(frozen=True)
class TapSettings:
    """Every setting of ``CONFIG_SCHEMA``, typed once; defaults come from the schema.

    ``data_residency``, ``project_id`` and the credentials stay None when unset: the mapping
    file's ``connectors.mixpanel`` block may supply them (:mod:`.credentials`).
    """

    base_url: str | None
    project_id: str | None
    service_account_username: str | None
    service_account_secret: str | None = field(repr=False)
    api_secret: str | None = field(repr=False)
    oauth_token: str | None = field(repr=False)
    data_residency: str | None
    start_date: str | None
    end_date: str | None
    max_backfill_days: int
    lookback_days: int
    window_days: int
    verify_export_counts: bool
    mapping_file: str | None
    project_timezone: str
    profiles_full_refresh_days: int
    cohort_ids: tuple[int, ...]
    #: ``group_keys`` as ``{group_key: data_group_id}``.
    group_keys: dict[str, str]
    lookup_table_sources: dict[str, str]
    lookup_tables_app_api: bool
    max_retries: int
    max_retry_wait_seconds: float
    request_timeout_seconds: float
    bookmark_ids: tuple[int, ...]
    #: The funnel ids, or ``"all"`` (every funnel of ``/funnels/list``).
    funnel_ids: tuple[int, ...] | str
    #: ``segmentation_queries`` and ``retention_queries`` as ``{query key: query}``, in order.
    segmentation_queries: dict[str, dict[str, Any]]
    retention_queries: dict[str, dict[str, Any]]
    report_lookback_days: int
    query_budget_per_hour: int
    query_concurrency: int
    #: ``jql_queries`` as ``{stream name: query}``, in order (scripts read from their files).
    jql_queries: dict[str, JqlQuery]

    @property
    def zone(self) -> ZoneInfo:
        """``project_timezone`` as a zone (checked when the settings were read)."""
        return project_zone(self.project_timezone)

    @classmethod
    def from_config(cls, config: ConfigMapping[str, Any]) -> TapSettings:
        """The settings of a validated config; raises :class:`TapConfigError` for a mistake.

        The SDK reads JSON numbers from a config file as Decimal: numbers become the int or
        float the field declares. A setting left out or null takes the schema's default.
        """
        timezone = str(_number(config, "project_timezone"))
        project_zone(timezone)
        start_date = _date_setting(config, "start_date")
        end_date = _date_setting(config, "end_date")
        check_date_range(start_date, end_date)
        return cls(
            base_url=config.get("base_url"),
            project_id=config.get("project_id"),
            service_account_username=config.get("service_account_username"),
            service_account_secret=config.get("service_account_secret"),
            api_secret=config.get("api_secret"),
            oauth_token=config.get("oauth_token"),
            data_residency=config.get("data_residency"),
            start_date=start_date,
            end_date=end_date,
            max_backfill_days=int(_number(config, "max_backfill_days")),
            lookback_days=int(_number(config, "lookback_days")),
            window_days=int(_number(config, "window_days")),
            verify_export_counts=bool(_number(config, "verify_export_counts")),
            mapping_file=config.get("mapping_file"),
            project_timezone=timezone,
            profiles_full_refresh_days=int(_number(config, "profiles_full_refresh_days")),
            cohort_ids=tuple(int(cohort_id) for cohort_id in config.get("cohort_ids") or ()),
            group_keys=parse_group_keys(config.get("group_keys")),
            lookup_table_sources=dict(config.get("lookup_table_sources") or {}),
            lookup_tables_app_api=bool(_number(config, "lookup_tables_app_api")),
            max_retries=int(_number(config, "max_retries")),
            max_retry_wait_seconds=float(_number(config, "max_retry_wait_seconds")),
            request_timeout_seconds=float(_number(config, "request_timeout_seconds")),
            bookmark_ids=tuple(int(bookmark) for bookmark in config.get("bookmark_ids") or ()),
            funnel_ids=parse_funnel_ids(config.get("funnel_ids")),
            segmentation_queries=parse_queries(config, "segmentation_queries", "event"),
            retention_queries=parse_queries(config, "retention_queries", "born_event"),
            report_lookback_days=int(_number(config, "report_lookback_days")),
            query_budget_per_hour=int(_number(config, "query_budget_per_hour")),
            query_concurrency=int(_number(config, "query_concurrency")),
            jql_queries=parse_jql_queries(config),
        )
