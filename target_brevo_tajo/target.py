"""target-brevo-tajo: Singer records into Brevo (config, routing, the end-of-run report)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from functools import cached_property
from pathlib import Path
from typing import Any

from singer_sdk import Target
from singer_sdk import typing as th
from singer_sdk.contrib.msgspec import MsgSpecReader
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.sinks import BatchSink

from mixpanel_brevo_mapping import Mapping, MappingError, load_mapping
from target_brevo_tajo.checkpoints import SyncCheckpoints
from target_brevo_tajo.client import DEFAULT_BASE_URL, BrevoClient, BrevoError
from target_brevo_tajo.contact_deletions import apply_deletion_policy, completed_full_refresh
from target_brevo_tajo.ledger import Ledger
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.services import Services, Settings, SettingsError
from target_brevo_tajo.sinks import (
    CohortMembersSink,
    CohortsSink,
    ContactsSink,
    EventsSink,
    SyncCheckpointsSink,
    UnroutedSink,
)

if sys.version_info >= (3, 12):
    from typing import override
else:
    from typing_extensions import override

SINKS_BY_RESOURCE: dict[str, type[BatchSink]] = {
    "events": EventsSink,
    "contacts": ContactsSink,
    "cohorts": CohortsSink,
    "cohort_members": CohortMembersSink,
    "sync_checkpoints": SyncCheckpointsSink,
}


class TargetBrevoTajo(Target):
    """Loads Mixpanel data (events first) into Brevo with the fewest calls."""

    name = "target-brevo-tajo"
    package_name = "tajo-mixpanel-brevo"
    message_reader_class = MsgSpecReader
    # Sinks share one Brevo rate budget and one ledger: draining them in parallel gains nothing.
    max_parallelism = 1

    config_jsonschema = th.PropertiesList(
        th.Property(
            "api_key",
            th.StringType,
            required=True,
            secret=True,
            title="Brevo API key",
            description="A Brevo API v3 key (Brevo > SMTP & API > API keys), sent as `api-key`.",
        ),
        th.Property(
            "base_url",
            th.StringType,
            default=DEFAULT_BASE_URL,
            title="Brevo base URL",
            description="Brevo API v3 base URL. Change it only for the local sandbox or a proxy.",
        ),
        th.Property(
            "mapping_file",
            th.StringType,
            title="Mapping file",
            description=(
                "Path to the mapping YAML in the seed format (`event_mapping`, "
                "`property_mapping`, `connectors.mixpanel.lists`). Without it no event is mapped, "
                "so every event is skipped and counted."
            ),
        ),
        th.Property(
            "ledger_url",
            th.StringType,
            title="Sync ledger URL",
            description=(
                "SQLAlchemy URL of the sync ledger that remembers what Brevo accepted. Default: "
                "a SQLite file `.meltano/brevo-sync-ledger.sqlite` (or in the working directory). "
                "Use a Postgres URL when several workers share one Brevo account."
            ),
        ),
        th.Property(
            "dry_run",
            th.BooleanType,
            default=False,
            title="Dry run",
            description="Map and count everything but write nothing to Brevo or the ledger.",
        ),
        th.Property(
            "anonymous_events",
            th.StringType,
            default="skip",
            allowed_values=["skip", "send"],
            title="Anonymous events",
            description=(
                "Events of `$device:` ids whose user the ledger does not know: `skip` (counted; "
                "Mixpanel re-exports them under the user id once the device logs in, within "
                "the tap's lookback) or `send` (ext_id = the `$device:` id, creating anonymous "
                "contacts in Brevo)."
            ),
        ),
        th.Property(
            "events_batch_size",
            th.IntegerType,
            default=200,
            title="Events per batch call",
            description=(
                "Most events in one `POST /events/batch` call. Brevo's documented cap, and the "
                "default, is 200 (developers.brevo.com, Event endpoints); more is refused."
            ),
        ),
        th.Property(
            "events_batch_max_bytes",
            th.IntegerType,
            default=524_288,
            title="Bytes per batch call",
            description=(
                "Largest JSON body of one `POST /events/batch` call. Brevo's documented cap, and "
                "the default, is 512 KB (524288 bytes); more is refused."
            ),
        ),
        th.Property(
            "brevo_rate_tier",
            th.StringType,
            default="general",
            allowed_values=["general", "advanced", "extended"],
            title="Brevo rate-limit tier",
            description=(
                "The account's API rate limits before Brevo's `x-sib-ratelimit-*` headers say "
                "otherwise (developers.brevo.com, API limits): `general` (contacts and events "
                "10 calls/s each, every other endpoint 100 calls/hour), `advanced` (20/s, "
                "200/hour) or `extended` (60/s, 600/hour). The target paces its calls to them."
            ),
        ),
        th.Property(
            "create_missing_attributes",
            th.BooleanType,
            default=False,
            title="Create missing attributes",
            description=(
                "Create the mapped contact attributes the Brevo account lacks (typed from the "
                "first values seen). When false, the run warns and names them: Brevo would "
                "otherwise drop their values silently."
            ),
        ),
        th.Property(
            "deletion_policy",
            th.StringType,
            default="keep",
            allowed_values=["keep", "unlist", "delete"],
            title="Deletion policy",
            description=(
                "Profiles gone from Mixpanel at a complete full refresh: `keep` (count them), "
                "`unlist` (remove them from the lists this product manages) or `delete` (delete "
                "the Brevo contact, e.g. for GDPR deletions made in Mixpanel)."
            ),
        ),
        th.Property(
            "contacts_import_max_bytes",
            th.IntegerType,
            default=8_000_000,
            title="Bytes per contact import",
            description=(
                "Largest `POST /contacts/import` body (Brevo: 10 MB max, ~8 MB advised); more "
                "than 10000000 is refused."
            ),
        ),
        th.Property(
            "import_poll_seconds",
            th.NumberType,
            default=5,
            title="First import poll (seconds)",
            description=(
                "Wait before the first check of an import's progress; later waits double up to "
                "a minute (process checks share Brevo's 100-requests-an-hour bucket)."
            ),
        ),
        th.Property(
            "import_timeout_seconds",
            th.NumberType,
            default=3600,
            title="Import timeout (seconds)",
            description="How long to wait for one Brevo import to complete before failing.",
        ),
        th.Property(
            "cohort_sync_mode",
            th.StringType,
            default="mirror",
            allowed_values=["mirror", "additive"],
            title="Cohort sync mode",
            description=(
                "Default for cohorts the mapping's `cohort_sync_modes` does not set: `mirror` "
                "(the list equals the cohort: members who left are removed) or `additive` "
                "(members are only added)."
            ),
        ),
        th.Property(
            "cohort_list_folder",
            th.StringType,
            default="Mixpanel cohorts",
            title="Folder for cohort lists",
            description=(
                "Brevo folder where a list named after the cohort is created for a synced cohort "
                "that the mapping gives no list."
            ),
        ),
        th.Property(
            "list_reconcile_days",
            th.NumberType,
            default=7,
            title="List reconciliation (days)",
            description=(
                "Every this many days each cohort's list is read back from Brevo and changes "
                "made there by hand are repaired (0 = every run)."
            ),
        ),
        th.Property(
            "ledger_retention_days",
            th.IntegerType,
            default=35,
            title="Ledger retention (days)",
            description=(
                "Sent events older than this are forgotten by the ledger. Keep it longer than "
                "the tap's lookback and any backfill you may rerun."
            ),
        ),
        th.Property(
            "max_retries",
            th.IntegerType,
            default=5,
            title="Max retries",
            description="Retries of a Brevo call on 429, 5xx or a network error.",
        ),
        th.Property(
            "max_retry_wait_seconds",
            th.NumberType,
            default=60,
            title="Longest single wait (seconds)",
            description=(
                "Cap on one backoff wait after a 5xx answer or a network error. Waits for "
                "Brevo's rate budgets follow its reset header instead (at most one window)."
            ),
        ),
        th.Property(
            "report_file",
            th.StringType,
            title="Sync report file",
            description="Where to write the end-of-run sync report as JSON (optional).",
        ),
        th.Property(
            "rejects_file",
            th.StringType,
            title="Rejects file",
            description="JSON-lines file receiving every rejected record with its reason.",
        ),
    ).to_dict()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Fail at start, with file and line, rather than at the first record.
        _ = self.services.mapping

    @cached_property
    def services(self) -> Services:
        """Client, ledger, mapping and report, built once per run."""
        config = self.config
        mapping_file = config.get("mapping_file")
        mapping = load_mapping(mapping_file) if mapping_file else Mapping()
        rejects = config.get("rejects_file")
        settings = Settings.from_config(config)
        return Services(
            settings=settings,
            logger=self.logger,
            mapping=mapping,
            client=BrevoClient(
                config.get("base_url") or DEFAULT_BASE_URL,
                config["api_key"],
                rate_tier=config.get("brevo_rate_tier") or "general",
                max_retries=int(config.get("max_retries", 5)),
                max_wait_seconds=float(config.get("max_retry_wait_seconds", 60)),
            ),
            ledger=Ledger(config.get("ledger_url"), read_only=settings.dry_run),
            report=SyncReport(
                dry_run=settings.dry_run,
                rejects_file=Path(rejects) if rejects else None,
            ),
        )

    @cached_property
    def checkpoints(self) -> SyncCheckpoints:
        """The snapshots the input's ``sync_checkpoints`` records confirm complete."""
        return SyncCheckpoints()

    @override
    def get_sink_class(self, stream_name: str) -> type[BatchSink]:
        resource = self.services.mapping.resource_of(stream_name)
        return SINKS_BY_RESOURCE.get(resource or "", UnroutedSink)

    @override
    def process_endofpipe(self) -> None:
        super().process_endofpipe()
        self._finish()

    def _finish(self) -> None:
        """Apply deletions, prune the ledger, close connections, print and save the report."""
        services = self.services
        refresh_id = completed_full_refresh(services, self.checkpoints.full_refreshes)
        if refresh_id:
            apply_deletion_policy(services, refresh_id)
        services.lists.finish(self.checkpoints.cohort_snapshots)
        services.report.cohorts = services.lists.report()
        retention = int(self.config.get("ledger_retention_days", 35))
        services.ledger.prune_sent_events(_days_ago(retention))
        report = services.report
        report.api_calls.update(services.client.calls)
        report.rate_budgets = services.client.budgets.report()
        report.retries = services.client.retries
        services.client.close()
        services.ledger.close()
        for line in report.render().splitlines():
            self.logger.info(line)
        report_file = self.config.get("report_file")
        if report_file:
            path = Path(report_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_dump_json(report.to_dict()), encoding="utf-8")

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the target; errors a user must fix end in one line, without a traceback."""
        try:
            super().invoke(*args, **kwargs)
        except (BrevoError, MappingError, SettingsError) as exc:
            raise SystemExit(f"target-brevo-tajo: {exc}") from None
        except ConfigValidationError as exc:
            details = "; ".join(exc.errors) if getattr(exc, "errors", None) else str(exc)
            raise SystemExit(f"target-brevo-tajo: invalid configuration: {details}") from None


def _days_ago(days: int) -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days)


def _dump_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, sort_keys=False) + "\n"
