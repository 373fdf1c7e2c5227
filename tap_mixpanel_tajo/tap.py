"""tap-mixpanel-tajo: settings, credential resolution and the stream list."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from singer_sdk import Tap
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecWriter

from mixpanel_brevo_mapping import (
    IDENTITY_EVENTS,
    CohortRef,
    CohortSelection,
    Mapping,
    MappingError,
    load_mapping,
    mapped_cohorts,
)
from tap_mixpanel_tajo.client import Credentials, MixpanelClient, MixpanelError
from tap_mixpanel_tajo.streams import (
    CohortMembersStream,
    CohortsStream,
    EventsStream,
    ProfilesStream,
)
from tap_mixpanel_tajo.streams.base import MixpanelStream, parse_utc

PREFIX = "tap-mixpanel-tajo: "


class TapMixpanelTajo(Tap):
    """Singer tap for Mixpanel (Raw Export and Query APIs, over httpx)."""

    name = "tap-mixpanel-tajo"
    package_name = "tajo-mixpanel-brevo"
    message_writer_class = MsgSpecWriter

    config_jsonschema = th.PropertiesList(
        th.Property(
            "base_url",
            th.StringType,
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
                "Earliest event date to export when there is no bookmark (default: 30 days ago)."
            ),
        ),
        th.Property(
            "end_date",
            th.DateTimeType,
            title="End date",
            description="Last event date to export (inclusive); default today.",
        ),
        th.Property(
            "lookback_days",
            th.IntegerType,
            default=5,
            title="Lookback days",
            description=(
                "Days before the bookmark to export again on incremental runs, to pick up "
                "late-arriving events (SDKs send up to ~5 days late)."
            ),
        ),
        th.Property(
            "window_days",
            th.IntegerType,
            default=1,
            title="Window days",
            description=(
                "Days per export request. Each request is one of Mixpanel's ~60 export "
                "queries per hour: raise this for long backfills of small projects."
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
            th.IntegerType,
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
            "max_retries",
            th.IntegerType,
            default=5,
            title="Max retries",
            description="Retries of a failed request or export window (429, 5xx, drops).",
        ),
        th.Property(
            "max_retry_wait_seconds",
            th.IntegerType,
            default=300,
            title="Max retry wait (seconds)",
            description="Cap on a single backoff wait, including a Retry-After from Mixpanel.",
        ),
        th.Property(
            "request_timeout_seconds",
            th.IntegerType,
            default=300,
            title="Request timeout (seconds)",
            description="Read timeout of one request (between chunks of a streamed export).",
        ),
    ).to_dict()

    def __init__(self, **kwargs: Any) -> None:
        self._client: MixpanelClient | None = None
        self._mapping: Mapping | None = None
        self._mapping_loaded = False
        self._credentials: Credentials | None = None
        self._residency = "US"
        super().__init__(**kwargs)
        if kwargs.get("validate_config", True):
            try:
                self._resolve_settings()
            except (MixpanelError, MappingError) as exc:
                raise SystemExit(PREFIX + str(exc)) from None

    # Settings

    @property
    def mapping(self) -> Mapping | None:
        """The mapping file's model, or None without ``mapping_file``."""
        if not self._mapping_loaded:
            path = self.config.get("mapping_file")
            self._mapping = load_mapping(path) if path else None
            self._mapping_loaded = True
        return self._mapping

    def _resolve_settings(self) -> None:
        """Resolve credentials (settings first, then the mapping file) and check them."""
        config = self.config
        connector = self.mapping.mixpanel if self.mapping else None
        username = config.get("service_account_username")
        secret = config.get("service_account_secret")
        if bool(username) != bool(secret):
            missing = "service_account_secret" if username else "service_account_username"
            msg = f"{missing} is not set: a service account needs both username and secret"
            raise MixpanelError(msg)
        api_secret = config.get("api_secret")
        oauth_token = config.get("oauth_token")
        source = "settings"
        if not (username or api_secret or oauth_token) and connector and connector.service_account:
            username = connector.service_account.username
            secret = connector.service_account.secret
            source = f"mapping file {config['mapping_file']}"
        project_id = config.get("project_id") or (connector.project_id if connector else None)
        credentials = Credentials(
            service_account_username=username,
            service_account_secret=secret,
            api_secret=api_secret,
            oauth_token=oauth_token,
            project_id=str(project_id) if project_id else None,
        )
        mode = credentials.mode
        if mode == "none":
            msg = (
                "no Mixpanel credentials: set service_account_username and "
                "service_account_secret (or api_secret, or oauth_token), or "
                "connectors.mixpanel.service_account in the mapping file"
            )
            raise MixpanelError(msg)
        if mode in {"service_account", "oauth"} and not credentials.project_id:
            msg = (
                f"project_id is not set: Mixpanel needs it with {mode.replace('_', ' ')} auth "
                "(set project_id, or connectors.mixpanel.project_id in the mapping file)"
            )
            raise MixpanelError(msg)
        zone = config.get("project_timezone") or "UTC"
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            msg = f"project_timezone {zone!r} is not an IANA timezone name (e.g. US/Pacific)"
            raise MixpanelError(msg) from None
        start, end = config.get("start_date"), config.get("end_date")
        if start and end and (parse_utc(start) or 0) > (parse_utc(end) or 0):
            msg = f"start_date {start} is after end_date {end}"
            raise MixpanelError(msg)
        self._credentials = credentials
        self._residency = config.get("data_residency") or (
            connector.data_residency if connector else "US"
        )
        self.logger.info(
            "Mixpanel auth: %s from %s, project_id %s, data residency %s%s",
            mode,
            source,
            credentials.project_id or "(none)",
            self._residency,
            f", base_url {config['base_url']}" if config.get("base_url") else "",
        )

    @property
    def client(self) -> MixpanelClient:
        """The shared Mixpanel HTTP client (built on first use)."""
        if self._client is None:
            if self._credentials is None:
                self._resolve_settings()
            assert self._credentials is not None
            self._client = MixpanelClient(
                self._credentials,
                data_residency=self._residency,
                base_url=self.config.get("base_url"),
                max_retries=int(self.config.get("max_retries", 5)),
                max_retry_wait_seconds=float(self.config.get("max_retry_wait_seconds", 300)),
                timeout_seconds=float(self.config.get("request_timeout_seconds", 300)),
                logger=self.logger,
            )
        return self._client

    def sync_skip_reason(self, stream_name: str) -> str | None:
        """Why the mapping file turns a stream off (``sync.<stream_name>``), or None."""
        mapping = self.mapping
        if mapping is None:
            return None
        where = self.config["mapping_file"]
        if not mapping.mixpanel.enabled:
            return f"connectors.mixpanel.enabled is false in {where}"
        if not getattr(mapping.mixpanel.sync, stream_name, True):
            return f"connectors.mixpanel.sync.{stream_name} is false in {where}"
        return None

    def export_event_names(self) -> list[str] | None:
        """Event names to push down to the export's ``event`` filter (None: all events).

        The mapped events, plus original ID merge's identity events: the target learns from
        them which anonymous ids became which user.
        """
        if self.mapping is None:
            return None
        names = self.mapping.mapped_event_names()
        if not names:
            self.logger.info("The mapping maps no events: exporting all events")
            return None
        return sorted({*names, *IDENTITY_EVENTS})

    def profile_output_properties(self) -> list[str] | None:
        """Profile properties to ask Engage for (None without a mapping: all of them).

        Those the target may read (the mapping contract), plus ``$last_seen``, the profiles
        stream's own replication key.
        """
        if self.mapping is None:
            return None
        return sorted({*self.mapping.profile_properties(), "$last_seen"})

    def cohorts_to_sync(self, cohorts: list[CohortRef]) -> list[CohortSelection]:
        """The cohorts to sync, in Mixpanel's order, each with what the mapping says of it.

        ``cohort_ids`` if set, else the cohorts the mapping names, else (no mapping) all of them.
        A cohort the mapping does not name has no key nor list (the target names a list after
        it). Raises :class:`MixpanelError` for a ``cohort_ids`` entry Mixpanel does not know, and
        :class:`MappingError` for a mapping key naming several cohorts or none.
        """
        mapping = self.mapping
        named = {s.cohort.id: s for s in mapped_cohorts(mapping, cohorts)} if mapping else {}
        wanted = self.config.get("cohort_ids")
        if wanted:
            known = {cohort.id for cohort in cohorts}
            unknown = [cohort_id for cohort_id in wanted if cohort_id not in known]
            if unknown:
                names = ", ".join(f"{c.name!r} (id {c.id})" for c in cohorts) or "none"
                msg = (
                    f"cohort_ids: no Mixpanel cohort has id {', '.join(map(str, unknown))} "
                    f"(cohorts: {names})"
                )
                raise MixpanelError(msg)
            ids = set(wanted)
        elif mapping is not None:
            ids = set(named)
        else:
            ids = {cohort.id for cohort in cohorts}
        return [
            named.get(cohort.id) or CohortSelection(cohort, None)
            for cohort in cohorts
            if cohort.id in ids
        ]

    # Streams and sync

    def discover_streams(self) -> list[MixpanelStream]:
        """The tap's streams."""
        return [
            EventsStream(self),
            ProfilesStream(self),
            CohortsStream(self),
            CohortMembersStream(self),
        ]

    def sync_all(self) -> None:  # type: ignore[misc]
        """Sync all streams; our own fatal errors end the process with one line on stderr."""
        try:
            super().sync_all()
        except (MixpanelError, MappingError) as exc:
            raise SystemExit(PREFIX + str(exc)) from None
        finally:
            if self._client is not None:
                self.logger.info("Mixpanel API calls this run: %d", self._client.calls)
                self._client.close()
                self._client = None
