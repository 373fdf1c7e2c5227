"""The target's settings read once, typed: every other module reads them from :class:`Settings`."""

from __future__ import annotations

from collections import abc
from dataclasses import dataclass, field, fields
from typing import Any, Literal, get_type_hints

from target_brevo_tajo.brevo.oauth import OAuthClient, default_token_url
from target_brevo_tajo.settings.bounds import SettingsError, bound_problem, cap_problem
from target_brevo_tajo.settings.credentials import credentials_problem
from target_brevo_tajo.settings.schema import SCHEMA_DEFAULTS


@dataclass(frozen=True)
class Settings:
    """Every setting of ``CONFIG_SCHEMA``, typed once; defaults come from the schema."""

    api_key: str | None = field(repr=False)
    brevo_oauth_client_id: str | None
    brevo_oauth_client_secret: str | None = field(repr=False)
    brevo_oauth_token_url: str | None
    base_url: str
    mapping_file: str | None
    ledger_url: str | None = field(repr=False)  # may carry a password
    dry_run: bool
    anonymous_events: Literal["skip", "send"]
    events_batch_size: int
    events_batch_max_bytes: int
    brevo_rate_tier: Literal["general", "advanced", "extended"]
    brevo_shared_budget: bool
    events_calls_in_flight: int
    events_settle_seconds: float
    create_missing_attributes: bool
    deletion_policy: Literal["keep", "unlist", "delete"]
    contacts_import_max_bytes: int
    import_poll_seconds: float
    import_timeout_seconds: float
    cohort_sync_mode: Literal["mirror", "additive"]
    cohort_list_folder: str
    list_reconcile_days: float
    ledger_retention_days: int
    max_retries: int
    request_timeout_seconds: float
    max_retry_wait_seconds: float
    report_file: str | None
    report_keep: int
    rejects_file: str | None
    rejects_include_record: bool

    @classmethod
    def from_config(cls, config: abc.Mapping[str, Any]) -> Settings:
        """The settings of a validated config, each as its field's type.

        The SDK reads JSON numbers from a config file as Decimal: numbers become the int or
        float the field declares. A setting left out or null takes the schema's default.
        """
        problem = bound_problem(config) or credentials_problem(config)
        if problem:
            raise SettingsError(problem)
        types = get_type_hints(cls)
        values: dict[str, Any] = {}
        for setting in fields(cls):
            name = setting.name
            value = config.get(name)
            if value is None:
                value = SCHEMA_DEFAULTS.get(name)
            kind = types[name]
            values[name] = (
                kind(value) if value is not None and kind in (int, float, bool) else value
            )
        problem = cap_problem(values)
        if problem:
            raise SettingsError(problem)
        return cls(**values)

    def oauth_client(self) -> OAuthClient | None:
        """The OAuth client to authenticate with, when the settings name one instead of api_key."""
        if not self.brevo_oauth_client_id or not self.brevo_oauth_client_secret:
            return None
        token_url = self.brevo_oauth_token_url or default_token_url(self.base_url)
        assert token_url is not None  # credentials_problem refused a base_url without one
        return OAuthClient(token_url, self.brevo_oauth_client_id, self.brevo_oauth_client_secret)
