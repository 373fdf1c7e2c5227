"""Which Mixpanel credentials, project and residency a run uses: settings first, then the mapping.

The mapping file's ``connectors.mixpanel`` block is the seed's place for them; plugin settings
(from meltano.yml or the environment) win, so secrets can stay out of the file.
"""

from __future__ import annotations

from collections.abc import Mapping as ConfigMapping
from dataclasses import dataclass
from typing import Any

from mixpanel_brevo_mapping import Mapping
from tap_mixpanel_tajo.client import Credentials, MixpanelError


@dataclass(frozen=True)
class Connection:
    """Resolved credentials, the data residency, and where the credentials came from."""

    credentials: Credentials
    data_residency: str
    source: str


# The seed mapping's example credentials ("your-service-account-username"): a mapping file that
# still holds them has no credentials, and the run must stop before calling Mixpanel with them.
EXAMPLE_PREFIX = "your-"


def resolve_connection(config: ConfigMapping[str, Any], mapping: Mapping | None) -> Connection:
    """The run's credentials and residency; raises :class:`MixpanelError` when they cannot work."""
    connector = mapping.mixpanel if mapping else None
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
        if any(str(value).startswith(EXAMPLE_PREFIX) for value in (username, secret)):
            msg = (
                f"no Mixpanel credentials: the {source} holds the seed's example service "
                "account; set service_account_username and service_account_secret (e.g. in .env)"
            )
            raise MixpanelError(msg)
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
    residency = config.get("data_residency") or (connector.data_residency if connector else "US")
    return Connection(credentials, residency, source)
