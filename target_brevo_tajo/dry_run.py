"""What a dry run says about itself: a WARNING as the first and the last line the target logs.

Meltano's default environment (``dev``) sets ``dry_run: true``: a scheduler that runs
``meltano run mixpanel-to-brevo`` without ``--environment=prod`` exits 0 every hour and writes
nothing. Both lines say so, and how to write for real, so no log of such a run can hide it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# The SDK's own reading of a boolean from the environment (singer_sdk.configuration).
TRUTHY = ("true", "1", "yes", "on")


def dry_run_requested(config: Mapping[str, Any], environ: Mapping[str, str], env_var: str) -> bool:
    """Whether a run will be dry, known before the SDK logs anything (as it reads the config).

    ``env_var`` (``TARGET_BREVO_TAJO_DRY_RUN``) counts only with ``--config=ENV``: pass an empty
    ``environ`` otherwise, as the SDK then ignores the environment too.
    """
    if env_var in environ:
        return environ[env_var].strip().lower() in TRUTHY
    return config.get("dry_run") is True


def _why(environ: Mapping[str, str]) -> str:
    environment = environ.get("MELTANO_ENVIRONMENT")
    where = f" in Meltano environment '{environment}'" if environment else ""
    return f"dry_run is true{where}"


def _write_for_real(environ: Mapping[str, str]) -> str:
    """The command that writes: this very pipeline when Meltano runs it, else the main job."""
    extractor, loader = environ.get("MELTANO_EXTRACTOR_NAME"), environ.get("MELTANO_LOADER_NAME")
    pipeline = f"{extractor} {loader}" if extractor and loader else "mixpanel-to-brevo"
    return f"`meltano --environment=prod run {pipeline}`"


def first_line(environ: Mapping[str, str]) -> str:
    """The WARNING a dry run logs before anything else."""
    return (
        f"DRY RUN ({_why(environ)}): this run writes nothing to Brevo and saves no state; "
        f"to write for real: {_write_for_real(environ)}"
    )


def last_line(environ: Mapping[str, str]) -> str:
    """The WARNING a dry run logs after its report, as its last line."""
    return (
        f"DRY RUN ({_why(environ)}): nothing was written to Brevo and no state was saved; "
        f"to write for real: {_write_for_real(environ)}"
    )
