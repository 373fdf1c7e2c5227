"""The target's settings declared once, as the config schema.

``CONFIG_SCHEMA`` is the one source: ``--about``, Meltano's ``meltano.yml`` (checked by a test) and
docs/settings.md's tables (generated) follow it, and :class:`~.typed.Settings` takes its defaults
from it (``SCHEMA_DEFAULTS``).
"""

from __future__ import annotations

from typing import Any

from singer_sdk import typing as th

from target_brevo_tajo.brevo.client import DEFAULT_BASE_URL

# A decimal setting: a number, or its text. Meltano hands a `kind: decimal` value from the
# environment to the plugin as a Decimal and then fails to write it as JSON, so meltano.yml
# declares these settings as strings and the target reads "0.2" as 0.2.
DECIMAL_TYPE = {
    "type": ["number", "string"],
    "pattern": r"^\s*[0-9]+(\.[0-9]*)?\s*$",
    "minimum": 0,  # what the pattern says of the text form
}
DECIMAL = th.CustomType(DECIMAL_TYPE)
# A decimal setting that must be more than zero (its text form is checked by Settings).
POSITIVE_DECIMAL = th.CustomType({**DECIMAL_TYPE, "exclusiveMinimum": 0})

# A base_url the client can call: anything else would fail at the first call, far from the setting.
HTTP_URL = r"^https?://[^\s/]+"

CONFIG_SCHEMA: dict[str, Any] = th.PropertiesList(
    th.Property(
        "api_key",
        th.StringType,
        secret=True,
        title="Brevo API key",
        description=(
            "A Brevo API v3 key (Brevo > SMTP & API > API keys), sent as `api-key`. Set it, or "
            "`brevo_oauth_client_id` and `brevo_oauth_client_secret`, not both."
        ),
    ),
    th.Property(
        "brevo_oauth_client_id",
        th.StringType,
        title="Brevo OAuth client id",
        description=(
            "Brevo OAuth 2.0 client (machine-to-machine) id, instead of `api_key`: the target "
            "trades it with `brevo_oauth_client_secret` for hour-long access tokens "
            "(`client_credentials`) and renews them before they expire."
        ),
    ),
    th.Property(
        "brevo_oauth_client_secret",
        th.StringType,
        secret=True,
        title="Brevo OAuth client secret",
        description="The secret of `brevo_oauth_client_id`'s OAuth client.",
    ),
    th.Property(
        "brevo_oauth_token_url",
        th.StringType(pattern=HTTP_URL),
        title="Brevo OAuth token URL",
        description=(
            "Where OAuth tokens are fetched. Default: beside `base_url`, whose `/v3` becomes "
            "`/realms/partner/oauth/token` (`https://api.brevo.com/realms/partner/oauth/token` "
            "for Brevo's API)."
        ),
    ),
    th.Property(
        "base_url",
        th.StringType(pattern=HTTP_URL),
        default=DEFAULT_BASE_URL,
        title="Brevo base URL",
        description="Brevo API v3 base URL. Change it only for the local sandbox or a proxy.",
    ),
    th.Property(
        "mapping_file",
        th.StringType(min_length=1),
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
        secret=True,  # a database URL may hold its password
        title="Sync ledger URL",
        description=(
            "SQLAlchemy URL of the sync ledger that remembers what Brevo accepted. Default: "
            "a SQLite file `brevo-sync-ledger.sqlite` in the working directory (Meltano's "
            "project root; not under `.meltano/`, which backup tools skip as a cache). "
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
        th.IntegerType(minimum=1),
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
        "brevo_shared_budget",
        th.BooleanType,
        default=True,
        title="Share Brevo's rate budget through the ledger",
        description=(
            "Take each call's slot of Brevo's rate budgets from the sync ledger, shared by every "
            "run and worker of the same Brevo account (Brevo counts calls per account: two "
            "workers each pacing to 10 calls/s would send 20). Off: each run paces alone."
        ),
    ),
    th.Property(
        "events_calls_in_flight",
        th.IntegerType(minimum=1, maximum=16),
        default=4,
        title="Batch calls in flight",
        description=(
            "How many `POST /events/batch` calls may wait for Brevo's answer at once. The rate "
            "budget still paces them; more than one hides Brevo's round trip (10 calls/s of 150 "
            "ms each need at least 2). A kill leaves at most these calls in doubt, and the next "
            "run settles them by looking them up."
        ),
    ),
    th.Property(
        "events_settle_seconds",
        DECIMAL,
        default=60,
        title="Settle time of a call in doubt (seconds)",
        description=(
            "How old a `POST /events/batch` call whose answer never came (a kill, a timeout, a "
            "5xx) must be before its events are looked up in Brevo (`GET /events`) to settle it: "
            "Brevo queues batches, so an event shows only after a while. Events found are "
            "recorded as sent, only the missing ones are resent. Brevo does not document the "
            "delay; keep this well above it."
        ),
    ),
    th.Property(
        "create_missing_attributes",
        th.BooleanType,
        default=False,
        title="Create missing attributes",
        description=(
            "Create the mapped contact attributes the Brevo account lacks (typed from the "
            "first values seen). When false, a run that would write contacts stops before the "
            "first one and names them all: Brevo would otherwise drop their values silently."
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
        DECIMAL,
        default=5,
        title="First import poll (seconds)",
        description=(
            "Wait before the first check of an import's progress; later waits double up to "
            "a minute (process checks share Brevo's 100-requests-an-hour bucket)."
        ),
    ),
    th.Property(
        "import_timeout_seconds",
        DECIMAL,
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
        DECIMAL,
        default=7,
        title="List reconciliation (days)",
        description=(
            "Every this many days each cohort's list is read back from Brevo and changes "
            "made there by hand are repaired (0 = every run)."
        ),
    ),
    th.Property(
        "ledger_retention_days",
        th.IntegerType(minimum=1),
        default=35,
        title="Ledger retention (days)",
        description=(
            "Sent events older than this are forgotten by the ledger. Keep it longer than "
            "the tap's lookback and any backfill you may rerun."
        ),
    ),
    th.Property(
        "max_retries",
        th.IntegerType(minimum=0),
        default=5,
        title="Max retries",
        description="Retries of a Brevo call on 429, 5xx or a network error.",
    ),
    th.Property(
        "request_timeout_seconds",
        POSITIVE_DECIMAL,
        default=120,
        title="Request timeout (seconds)",
        description=(
            "How long one Brevo call may take. A batch call that times out is settled by looking "
            "its events up, never resent blindly."
        ),
    ),
    th.Property(
        "max_retry_wait_seconds",
        DECIMAL,
        default=60,
        title="Longest single wait (seconds)",
        description=(
            "Cap on one backoff wait after a 5xx answer or a network error. Waits for "
            "Brevo's rate budgets follow its reset header instead (at most one window)."
        ),
    ),
    th.Property(
        "report_file",
        th.StringType(min_length=1),
        title="Sync report file",
        description=(
            "The latest sync report (JSON): each run writes its own file next to it, named "
            "after the job, the start time and the run id, and this path links to it."
        ),
    ),
    th.Property(
        "report_keep",
        th.IntegerType(minimum=1),
        default=100,
        title="Reports kept",
        description=(
            "How many run report files of one job stay next to `report_file` (the newest); "
            "each run deletes the older ones."
        ),
    ),
    th.Property(
        "rejects_file",
        th.StringType(min_length=1),
        title="Rejects file",
        description=(
            "JSON-lines file receiving every rejected record with its reason and the run id, "
            "its ids (insert_id, distinct_id, cohort_id), event name and time."
        ),
    ),
    th.Property(
        "rejects_include_record",
        th.BooleanType,
        default=False,
        title="Whole records in rejects",
        description=(
            "Also write each rejected record whole to `rejects_file`; profiles hold emails and "
            "phone numbers, so only for debugging."
        ),
    ),
).to_dict()

# What a setting left out or null is read as (:class:`~.typed.Settings`).
SCHEMA_DEFAULTS: dict[str, Any] = {
    name: spec["default"] for name, spec in CONFIG_SCHEMA["properties"].items() if "default" in spec
}
