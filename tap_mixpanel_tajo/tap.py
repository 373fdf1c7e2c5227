"""tap-mixpanel-tajo: its settings, and the streams it offers."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Mapping as ConfigMapping
from functools import cached_property
from typing import IO, Any

import click
from singer_sdk import Stream, Tap
from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from mixpanel_brevo_mapping import Mapping, MappingError, load_mapping
from mixpanel_brevo_mapping.settings_names import (
    object_settings,
    plugin_settings,
    unknown_setting,
)
from tap_mixpanel_tajo.client import Credentials, MixpanelClient, MixpanelError
from tap_mixpanel_tajo.config_file import config_file_problem
from tap_mixpanel_tajo.credentials import Connection, resolve_connection
from tap_mixpanel_tajo.dates import check_date_range, project_zone, setting_date_problem
from tap_mixpanel_tajo.env_settings import env_setting_problem
from tap_mixpanel_tajo.fatal import exit_with
from tap_mixpanel_tajo.output import BufferedMsgSpecWriter
from tap_mixpanel_tajo.redaction import Redactor, redact_logs
from tap_mixpanel_tajo.run_inputs import json_file_problem, state_problem
from tap_mixpanel_tajo.selection import StreamSelection
from tap_mixpanel_tajo.streams import (
    CohortMembersStream,
    CohortsStream,
    EventsStream,
    GroupsStream,
    LookupTablesStream,
    ProfilesStream,
    SyncCheckpointsStream,
    parse_group_keys,
)
from tap_mixpanel_tajo.streams.export import DEFAULT_MAX_BACKFILL_DAYS

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

PREFIX = "tap-mixpanel-tajo: "


def prefixed(error: Exception) -> str:
    """A user error, each of its lines (a mapping file's problems) prefixed with the tap's name."""
    return "\n".join(PREFIX + line for line in str(error).splitlines())


# A base_url the client can call: anything else fails at the first request, far from the setting.
HTTP_URL = r"^https?://[^\s/]+"


class TapMixpanelTajo(Tap):
    """Singer tap for Mixpanel (Raw Export and Query APIs, over httpx)."""

    name = "tap-mixpanel-tajo"
    package_name = "tajo-mixpanel-brevo"
    message_writer_class = BufferedMsgSpecWriter

    config_jsonschema = th.PropertiesList(
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
    ).to_dict()

    def __init__(self, **kwargs: Any) -> None:
        self._connection: Connection | None = None
        config = kwargs.get("config")
        # Before the SDK reads the settings: its errors may quote them.
        self._redact_secrets(config if isinstance(config, dict) else {})
        try:
            super().__init__(**kwargs)
        except ValueError:  # the SDK read a setting variable as its type, and could not
            env = env_setting_problem(
                type(self).config_jsonschema["properties"], self._env_var_prefix, os.environ
            )
            if kwargs.get("parse_env_config") and env:
                exit_with(PREFIX + env)
            raise
        if kwargs.get("validate_config", True):
            problem = unknown_setting(
                self.config,
                self.setting_names(),
                environ=os.environ,
                env_prefix=self._env_var_prefix,
                objects=self.object_setting_names(),
            )
            if problem:
                exit_with(PREFIX + problem)
            try:
                self._connection = self._connect()
            except (MixpanelError, MappingError) as exc:
                exit_with(prefixed(exc))

    def _redact_secrets(
        self, config: ConfigMapping[str, Any], credentials: Credentials | None = None
    ) -> None:
        """Keep the secrets (settings, environment, resolved credentials) out of every log line."""
        secret = [
            name
            for name, prop in type(self).config_jsonschema["properties"].items()
            if prop.get("secret")
        ]
        values = [config.get(name) for name in secret]
        values += [os.environ.get(self._env_var_prefix + name.upper()) for name in secret]
        if credentials is not None:
            values += credentials.secrets()
        pairs = credentials.basic_pairs() if credentials is not None else []
        redact_logs(Redactor([v for v in values if isinstance(v, str)], pairs=pairs))

    @override
    def load_state(self, state: dict[str, Any]) -> None:
        """Take the state only if every bookmark in it can be resumed from (dates are dates)."""
        problem = state_problem(state)
        if problem:
            raise MixpanelError(problem)
        super().load_state(state)

    @classmethod
    def setting_names(cls) -> set[str]:
        """Every setting the tap reads: its own and the SDK's built-ins, as ``--about`` lists."""
        return set(plugin_settings(cls))

    @classmethod
    def object_setting_names(cls) -> set[str]:
        """The settings whose value is an object (Meltano exports each key as a variable)."""
        return object_settings(plugin_settings(cls))

    @classmethod
    @override
    def cb_config(cls, ctx: click.Context, param: click.Option, value: tuple[str, ...]) -> Any:
        """Read ``--config`` files; one missing or not a JSON object ends in one line."""
        for path in value:
            problem = None if path == "ENV" else config_file_problem(path)
            if problem:
                exit_with(PREFIX + problem)
        return super().cb_config(ctx, param, value)

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the tap; errors a user must fix end in one line, without a traceback."""
        for option, what in (("catalog", "a Singer catalog"), ("state", "a Singer state")):
            kwargs[option] = _checked_json_file(f"--{option}", kwargs.get(option), what)
        try:
            super().invoke(*args, **kwargs)
        except (MixpanelError, MappingError) as exc:
            exit_with(prefixed(exc))
        except ConfigValidationError as exc:
            details = "; ".join(exc.errors) if exc.errors else str(exc)
            exit_with(f"{PREFIX}invalid configuration: {details}")
        except BrokenPipeError:
            # Whatever Python would still flush at exit goes to /dev/null, not a second error.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            msg = (
                "stdout was closed before the sync ended (the target stopped reading); "
                "the next run starts from the last STATE the target received"
            )
            exit_with(PREFIX + msg)

    @override
    def sync_all(self) -> None:
        """Refuse a run that would read more history than ``max_backfill_days``, then sync.

        Before the first stream, so a refused run spends no call. The HTTP client is closed at
        the end, failed or not (an open socket at exit is a ``ResourceWarning`` after the run's
        last line). The SDK marks ``sync_all`` final; this wraps it and changes nothing inside.
        """
        events = self.streams["events"]
        if events.selected and not self.selection.skip_reason("events"):
            assert isinstance(events, EventsStream)
            problem = events.backfill_problem(None)
            if problem:
                raise MixpanelError(problem)
        try:
            super().sync_all()
        finally:
            if "client" in self.__dict__:
                self.client.close()

    # What the streams share

    @cached_property
    def mapping(self) -> Mapping | None:
        """The mapping file's model, or None without ``mapping_file``."""
        path = self.config.get("mapping_file")
        return load_mapping(path) if path else None

    @cached_property
    def selection(self) -> StreamSelection:
        """What each stream reads, as the mapping file and settings decide."""
        return StreamSelection(
            self.mapping,
            mapping_file=self.config.get("mapping_file"),
            cohort_ids=list(self.config.get("cohort_ids") or []),
            group_keys=list(self.group_keys),
            logger=self.logger,
        )

    @cached_property
    def group_keys(self) -> dict[str, str]:
        """The ``group_keys`` setting as ``{group_key: data_group_id}``."""
        return parse_group_keys(self.config.get("group_keys"))

    @cached_property
    def client(self) -> MixpanelClient:
        """The shared Mixpanel HTTP client (built on first use)."""
        connection = self._connection or self._connect()
        return MixpanelClient(
            connection.credentials,
            data_residency=connection.data_residency,
            base_url=self.config.get("base_url"),
            max_retries=int(self.config.get("max_retries", 5)),
            max_retry_wait_seconds=float(self.config.get("max_retry_wait_seconds", 300)),
            timeout_seconds=float(self.config.get("request_timeout_seconds", 300)),
            logger=self.logger,
        )

    def _connect(self) -> Connection:
        """Resolve the credentials and check the date settings, before any call."""
        config = self.config
        connection = resolve_connection(config, self.mapping)
        self._redact_secrets(config, connection.credentials)
        project_zone(config.get("project_timezone"))
        for name in ("start_date", "end_date"):
            value = config.get(name)
            problem = None if value is None else setting_date_problem(name, value)
            if problem:
                raise MixpanelError(problem)
        check_date_range(config.get("start_date"), config.get("end_date"))
        parse_group_keys(config.get("group_keys"))
        self.logger.info(
            "Mixpanel auth: %s from %s, project_id %s, data residency %s%s",
            connection.credentials.mode,
            connection.source,
            connection.credentials.project_id or "(none)",
            connection.data_residency,
            f", base_url {config['base_url']}" if config.get("base_url") else "",
        )
        return connection

    @override
    def load_streams(self) -> list[Stream]:
        """The streams in sync order: ``lookup_tables`` first, then the SDK's name order.

        The target holds lookup rows and joins them onto the profiles and events that come after
        them, so the rows must come before those. The SDK sorts streams by name (which also
        puts sync_checkpoints last); a stable sort moves lookup_tables to the front of that
        order, for discovery and sync alike.
        """
        return sorted(super().load_streams(), key=lambda s: s.name != LookupTablesStream.name)

    def discover_streams(self) -> list[Stream]:
        """The tap's streams (synced in the order :attr:`streams` gives)."""
        return [
            LookupTablesStream(self),
            EventsStream(self),
            ProfilesStream(self),
            CohortsStream(self),
            CohortMembersStream(self),
            GroupsStream(self),
            SyncCheckpointsStream(self),
        ]


def _checked_json_file(option: str, file: IO[str] | None, what: str) -> IO[str] | None:
    """The ``--catalog``/``--state`` file, read and checked: one that is not a JSON object exits."""
    if file is None:
        return None
    try:
        text = file.read()
    except UnicodeDecodeError:
        exit_with(f"{PREFIX}{option} {file.name}: not UTF-8 text; it must be {what} in JSON")
    problem = json_file_problem(option, file.name, text, what)
    if problem:
        exit_with(PREFIX + problem)
    return io.StringIO(text)
