"""The target's settings: declared once, as the config schema, and read once, typed.

``schema`` declares them (``--about``, meltano.yml and docs/settings.md follow it), ``bounds``
and ``environment`` refuse values the target cannot run with, ``typed`` reads them into
:class:`Settings`.
"""

from target_brevo_tajo.settings.bounds import (
    BOUND_REASONS,
    DOCUMENTED_CAPS,
    SettingsError,
    bound_problem,
    cap_problem,
)
from target_brevo_tajo.settings.environment import environment_problem
from target_brevo_tajo.settings.schema import (
    CONFIG_SCHEMA,
    DECIMAL,
    HTTP_URL,
    POSITIVE_DECIMAL,
    SCHEMA_DEFAULTS,
)
from target_brevo_tajo.settings.typed import Settings

__all__ = [
    "BOUND_REASONS",
    "CONFIG_SCHEMA",
    "DECIMAL",
    "DOCUMENTED_CAPS",
    "HTTP_URL",
    "POSITIVE_DECIMAL",
    "SCHEMA_DEFAULTS",
    "Settings",
    "SettingsError",
    "bound_problem",
    "cap_problem",
    "environment_problem",
]
