"""tap-mixpanel-tajo: its settings, and the streams it offers."""

from __future__ import annotations

import copy
import io
import os
import sys
from collections.abc import Mapping as ConfigMapping
from functools import cached_property
from typing import IO, Any

import click
from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError

from mixpanel_brevo_mapping import Mapping, MappingError, load_mapping
from mixpanel_brevo_mapping.settings_names import (
    object_settings,
    plugin_settings,
    unknown_setting,
)
from tap_mixpanel_tajo.auth import Credentials
from tap_mixpanel_tajo.client import MixpanelClient
from tap_mixpanel_tajo.config_file import config_file_problem
from tap_mixpanel_tajo.credentials import Connection, api_secret_retirement, resolve_connection
from tap_mixpanel_tajo.env_settings import env_setting_problem
from tap_mixpanel_tajo.errors import TapConfigError, TapError, TapStateError
from tap_mixpanel_tajo.fatal import exit_with
from tap_mixpanel_tajo.jql_settings import parse_jql_queries
from tap_mixpanel_tajo.output import BufferedMsgSpecWriter
from tap_mixpanel_tajo.query_budget import QueryBudget
from tap_mixpanel_tajo.redaction import Redactor, redact_logs
from tap_mixpanel_tajo.run_inputs import json_file_problem, state_problem
from tap_mixpanel_tajo.selection import StreamSelection
from tap_mixpanel_tajo.settings import CONFIG_SCHEMA, TapSettings
from tap_mixpanel_tajo.streams import (
    AnnotationsStream,
    CohortMembersStream,
    CohortsStream,
    EventsStream,
    FunnelsStream,
    GroupsStream,
    InsightsStream,
    JqlStream,
    LookupTablesStream,
    ProfilesStream,
    RetentionStream,
    SegmentationStream,
    SyncCheckpointsStream,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

PREFIX = "tap-mixpanel-tajo: "
#: The streams synced first, in this order; the others follow in the SDK's (name) order.
SYNC_FIRST = (LookupTablesStream.name, CohortsStream.name)


def prefixed(error: Exception) -> str:
    """A user error, each of its lines (a mapping file's problems) prefixed with the tap's name."""
    return "\n".join(PREFIX + line for line in str(error).splitlines())


class TapMixpanelTajo(Tap):
    """Singer tap for Mixpanel (Raw Export and Query APIs, over httpx)."""

    name = "tap-mixpanel-tajo"
    package_name = "tajo-mixpanel-brevo"
    message_writer_class = BufferedMsgSpecWriter

    # A copy: the SDK adds its built-in settings (stream maps, flattening, batches) to it.
    config_jsonschema = copy.deepcopy(CONFIG_SCHEMA)

    def __init__(self, **kwargs: Any) -> None:
        self._connection: Connection | None = None
        #: The JQL streams that ended early this run, with why (the run then exits non-zero).
        self.jql_failures: dict[str, str] = {}
        # Discovery builds the catalog without checking the settings (the SDK passes
        # validate_config=False); the sync that follows checks them and stops in one line.
        self._checking_settings = bool(kwargs.get("validate_config", True))
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
        except TapError as exc:  # a setting the streams are built from (jql_queries, dates)
            if kwargs.get("validate_config", True):
                exit_with(prefixed(exc))
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
            except (TapError, MappingError) as exc:
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
            raise TapStateError(problem)
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
        except (TapError, MappingError) as exc:
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

    # The SDK marks ``sync_all`` final and offers no hook before the first stream or after the
    # last one: this wraps it, changing nothing inside. It relies on ``Tap.invoke`` calling
    # ``sync_all``, which tests/test_tap_cli_errors.py pins through the command line
    # (test_a_run_reading_more_than_max_backfill_days_refuses_and_says_how_to_backfill).
    @override  # type: ignore[misc]
    def sync_all(self) -> None:
        """Refuse a run that would read more history than ``max_backfill_days``, then sync.

        Before the first stream, so a refused run spends no call. ``cohorts`` is synced with
        ``cohort_members`` even when only the members were selected (:meth:`_select_cohorts`).
        The HTTP client is closed at the end, failed or not (an open socket at exit is a
        ``ResourceWarning`` after the run's last line), and what the Query API budget spent is
        logged. A JQL stream that ended early (JQL unavailable, a script error) let the others
        sync; the run then ends with one line per such stream and a non-zero exit.
        """
        self._select_cohorts()
        events = self.streams["events"]
        if events.selected and not self.selection.skip_reason("events"):
            assert isinstance(events, EventsStream)
            problem = events.backfill_problem(None)
            if problem:
                raise TapConfigError(problem)
        try:
            super().sync_all()
        finally:
            if "client" in self.__dict__:
                self.client.close()
                if self.client.budget is not None:
                    self.client.budget.log_summary()
        if self.jql_failures:
            raise TapError(
                "\n".join(
                    f"{name} ended early, the other streams were synced: {why}"
                    for name, why in self.jql_failures.items()
                )
            )

    def _select_cohorts(self) -> None:
        """Select all of ``cohorts`` when ``cohort_members`` is, even by hand.

        The target learns each cohort's list (name, mapping key) from its record, which must
        come before its members; without it every member would be rejected.
        """
        cohorts, members = self.streams[CohortsStream.name], self.streams[CohortMembersStream.name]
        if not members.selected or cohorts.selected:
            return
        for entry in cohorts.metadata.values():
            entry.selected = True
        cohorts.selected = True  # the SDK's setter also recomputes the properties' mask
        self.logger.info(
            "cohorts: selected with cohort_members (each cohort's record comes before its members)"
        )

    # What the streams share

    @cached_property
    def settings(self) -> TapSettings:
        """The settings, typed and checked once; raises :class:`TapConfigError` for a mistake."""
        return TapSettings.from_config(self.config)

    @cached_property
    def mapping(self) -> Mapping | None:
        """The mapping file's model, or None without ``mapping_file``."""
        path = self.settings.mapping_file
        return load_mapping(path) if path else None

    @cached_property
    def selection(self) -> StreamSelection:
        """What each stream reads, as the mapping file and settings decide."""
        settings = self.settings
        return StreamSelection(
            self.mapping,
            mapping_file=settings.mapping_file,
            cohort_ids=list(settings.cohort_ids),
            group_keys=list(settings.group_keys),
            logger=self.logger,
        )

    @cached_property
    def client(self) -> MixpanelClient:
        """The shared Mixpanel HTTP client (built on first use)."""
        connection = self._connection or self._connect()
        settings = self.settings
        return MixpanelClient(
            connection.credentials,
            data_residency=connection.data_residency,
            base_url=settings.base_url,
            max_retries=settings.max_retries,
            max_retry_wait_seconds=settings.max_retry_wait_seconds,
            timeout_seconds=settings.request_timeout_seconds,
            logger=self.logger,
            budget=QueryBudget(
                settings.query_budget_per_hour, settings.query_concurrency, logger=self.logger
            ),
        )

    def _connect(self) -> Connection:
        """Check the settings and resolve the credentials, before any call."""
        settings = self.settings
        connection = resolve_connection(settings, self.mapping)
        self._redact_secrets(self.config, connection.credentials)
        self.logger.info(
            "Mixpanel auth: %s from %s, project_id %s, data residency %s%s",
            connection.credentials.mode,
            connection.source,
            connection.credentials.project_id or "(none)",
            connection.data_residency,
            f", base_url {settings.base_url}" if settings.base_url else "",
        )
        retirement = api_secret_retirement(connection.credentials)
        if retirement:
            self.logger.warning("%s", retirement)
        return connection

    @property
    @override
    def streams(self) -> dict[str, Stream]:
        """The streams in sync order: ``lookup_tables``, ``cohorts``, then the SDK's name order.

        The target joins lookup rows onto the profiles and events that come after them, and
        learns each cohort's list from its ``cohorts`` record, which must come before its
        members (by name, ``cohort_members`` sorts first). The SDK sorts streams by name (which
        also puts sync_checkpoints last) into the dict it keeps and syncs from; a stable sort
        moves those two to the front of that order, in place, for discovery and sync alike.
        """
        streams = super().streams
        order = sorted(
            streams,
            key=lambda name: SYNC_FIRST.index(name) if name in SYNC_FIRST else len(SYNC_FIRST),
        )
        if list(streams) != order:
            ordered = {name: streams[name] for name in order}
            streams.clear()
            streams.update(ordered)
        return streams

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
            InsightsStream(self),
            FunnelsStream(self),
            SegmentationStream(self),
            RetentionStream(self),
            AnnotationsStream(self),
            *self._jql_streams(),
        ]

    def _jql_streams(self) -> list[Stream]:
        """One stream per ``jql_queries`` entry, read from that setting alone.

        Discovery must not fail on another setting's mistake (a bad date): Meltano would show
        its own traceback before the sync's one line. A ``jql_queries`` mistake leaves the JQL
        streams out of a discovered catalog with one ERROR line; a sync stops on it.
        """
        try:
            queries = parse_jql_queries(self.config)
        except TapError as exc:
            if self._checking_settings:
                raise
            self.logger.error("%s (the JQL streams are left out of the catalog)", prefixed(exc))
            return []
        return [JqlStream(self, query) for query in queries.values()]


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
