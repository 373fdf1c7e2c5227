"""The mapping contract both plugins read: the mapping file, cohort selection, Mixpanel identity.

The tap reads the mapping to push mapped event names and profile properties down to Mixpanel
and to pick the cohorts to sync; the target reads it to transform records and to pick lists and
sync modes. This package imports neither singer_sdk nor httpx nor either plugin, so the tap and
the target never import each other.
"""

from mixpanel_brevo_mapping.cohorts import (
    CohortRef,
    CohortSelection,
    list_id_of,
    mapped_cohorts,
    slug,
    sync_mode_of,
)
from mixpanel_brevo_mapping.identity import (
    DEVICE_PREFIX,
    IDENTITY_EVENTS,
    aliases_in,
    is_anonymous,
)
from mixpanel_brevo_mapping.loader import load_mapping, route_field_problems
from mixpanel_brevo_mapping.model import (
    ALL_USERS_KEY,
    CONTACT_PROFILE_PROPERTIES,
    DEFAULT_COMPANY_NAME_PROPERTY,
    DEFAULT_ROUTES,
    GroupMapping,
    LookupEnrichment,
    LookupTarget,
    Mapping,
    MappingError,
    SyncMode,
)
from mixpanel_brevo_mapping.routes import Route

__all__ = [
    "ALL_USERS_KEY",
    "CONTACT_PROFILE_PROPERTIES",
    "DEFAULT_COMPANY_NAME_PROPERTY",
    "DEFAULT_ROUTES",
    "DEVICE_PREFIX",
    "IDENTITY_EVENTS",
    "CohortRef",
    "CohortSelection",
    "GroupMapping",
    "LookupEnrichment",
    "LookupTarget",
    "Mapping",
    "MappingError",
    "Route",
    "SyncMode",
    "aliases_in",
    "is_anonymous",
    "list_id_of",
    "load_mapping",
    "mapped_cohorts",
    "route_field_problems",
    "slug",
    "sync_mode_of",
]
