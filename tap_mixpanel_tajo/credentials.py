"""Which Mixpanel credentials, project and residency a run uses: settings first, then the mapping.

The mapping file's ``connectors.mixpanel`` block is the seed's place for them; plugin settings
(from meltano.yml or the environment) win, so secrets can stay out of the file.
"""

from __future__ import annotations

from dataclasses import dataclass

from mixpanel_brevo_mapping import Mapping
from tap_mixpanel_tajo.auth import Credentials
from tap_mixpanel_tajo.errors import TapConfigError
from tap_mixpanel_tajo.settings import TapSettings


@dataclass(frozen=True)
class Connection:
    """Resolved credentials, the data residency, and where the credentials came from."""

    credentials: Credentials
    data_residency: str
    source: str


# The seed mapping's example credentials ("your-service-account-username"): a mapping file that
# still holds them has no credentials, and the run must stop before calling Mixpanel with them.
EXAMPLE_PREFIX = "your-"
#: The day Mixpanel retires the project API secret (its docs, verified 2026-12).
API_SECRET_RETIRED_ON = "2027-03-03"  # noqa: S105 (a date, not a secret)


def api_secret_retirement(credentials: Credentials) -> str | None:
    """The warning a run authenticated with the project API secret logs; None otherwise."""
    if credentials.mode != "api_secret":
        return None
    return (
        f"authenticated with the project API secret, which Mixpanel retires on "
        f"{API_SECRET_RETIRED_ON}: create a service account (Organization Settings > Service "
        "Accounts), then set service_account_username, service_account_secret and project_id "
        "and remove api_secret"
    )


def resolve_connection(settings: TapSettings, mapping: Mapping | None) -> Connection:
    """The run's credentials and residency; raises :class:`TapConfigError` when they cannot work."""
    connector = mapping.mixpanel if mapping else None
    username = settings.service_account_username
    secret = settings.service_account_secret
    if bool(username) != bool(secret):
        missing = "service_account_secret" if username else "service_account_username"
        msg = f"{missing} is not set: a service account needs both username and secret"
        raise TapConfigError(msg)
    api_secret = settings.api_secret
    oauth_token = settings.oauth_token
    source = "settings"
    if not (username or api_secret or oauth_token) and connector and connector.service_account:
        username = connector.service_account.username
        secret = connector.service_account.secret
        source = f"mapping file {settings.mapping_file}"
        if any(str(value).startswith(EXAMPLE_PREFIX) for value in (username, secret)):
            msg = (
                f"no Mixpanel credentials: the {source} holds the seed's example service "
                "account; set service_account_username and service_account_secret (e.g. in .env)"
            )
            raise TapConfigError(msg)
    project_id = settings.project_id or (connector.project_id if connector else None)
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
        raise TapConfigError(msg)
    if mode in {"service_account", "oauth"} and not credentials.project_id:
        msg = (
            f"project_id is not set: Mixpanel needs it with {mode.replace('_', ' ')} auth "
            "(set project_id, or connectors.mixpanel.project_id in the mapping file)"
        )
        raise TapConfigError(msg)
    residency = settings.data_residency or (connector.data_residency if connector else "US")
    return Connection(credentials, residency, source)
