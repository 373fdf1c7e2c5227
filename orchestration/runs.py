"""What one tenant's Meltano job runs with: its command, its environment, its databases, its report.

Pure (no Dagster), so the rules are testable alone: state apart per tenant (a state id suffix),
the ledger in a PostgreSQL schema of the tenant's own, Meltano's system database in the schema
``meltano`` of the same server, and the figures of the target's report for Dagster's metadata.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from orchestration.tenants import Tenant

PROJECT_ROOT = Path(__file__).resolve().parents[1]
MELTANO_SCHEMA = "meltano"
REPORT_NAME = "sync-report.json"
# Meltano's installed plugins, shared by every run's own system folder.
PLUGIN_DIRS = ("extractors", "loaders", "mappers", "utilities", "transformers", "files")


@dataclass(frozen=True)
class Settings:
    """The orchestration's settings, from its environment (docs/tenants.md lists them)."""

    project_root: Path
    data_dir: Path  # reports, and the ledgers when there is no shared database
    database_url: str | None  # the shared PostgreSQL (postgresql://...), or None
    max_concurrent: int
    max_retries: int
    retry_delay_seconds: float

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read ``MELTANO_PROJECT_ROOT``, ``ORCHESTRATION_*`` (defaults for a local try)."""
        env = os.environ if environ is None else environ
        root = Path(env.get("MELTANO_PROJECT_ROOT") or PROJECT_ROOT)
        return cls(
            project_root=root,
            data_dir=Path(env.get("ORCHESTRATION_DATA_DIR") or root / "output" / "orchestration"),
            database_url=env.get("ORCHESTRATION_DATABASE_URL") or None,
            max_concurrent=int(env.get("ORCHESTRATION_MAX_CONCURRENT") or 4),
            max_retries=int(env.get("ORCHESTRATION_MAX_RETRIES") or 3),
            retry_delay_seconds=float(env.get("ORCHESTRATION_RETRY_DELAY_SECONDS") or 30),
        )


def with_schema(database_url: str, schema: str) -> str:
    """The shared server's URL for SQLAlchemy and psycopg 3, its search_path set to ``schema``."""
    url = sa.make_url(database_url).set(drivername="postgresql+psycopg")
    url = url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def ledger_schema(tenant: str) -> str:
    """Each tenant's ledger tables live apart, in a schema named after it."""
    return f"ledger_{tenant}"


def meltano_executable() -> str:
    """The ``meltano`` of this Python's environment, else the one on PATH."""
    beside = Path(sys.executable).with_name("meltano")
    return str(beside) if beside.exists() else shutil.which("meltano") or "meltano"


def meltano_command(tenant: Tenant, job: str, *, force: bool) -> list[str]:
    """``meltano run <job>`` under the tenant's state id suffix.

    ``force`` takes over a state id Meltano still marks running: only for a retry, whose earlier
    attempt Dagster saw end (one run per tenant and job at a time is Dagster's pool).
    """
    command = [meltano_executable(), f"--environment={tenant.environment}", "run", job]
    command.append(f"--state-id-suffix={tenant.name}")
    return [*command, "--force"] if force else command


def meltano_sys_dir(settings: Settings, tenant: str, job: str) -> Path:
    """A Meltano system folder of the tenant's job, sharing the project's installed plugins.

    Meltano writes each plugin's config and catalog under ``.meltano/run/<plugin>/``: tenants
    running at once in one folder would overwrite (and delete) each other's.
    """
    sys_dir = settings.data_dir / "meltano" / tenant / job
    return linked_sys_dir(sys_dir, settings.project_root / ".meltano")


def linked_sys_dir(sys_dir: Path, shared: Path) -> Path:
    """``sys_dir`` made a Meltano system folder whose plugin venvs are those of ``shared``.

    A run in it writes its plugins' config and catalog files in it, not in ``shared``, and
    installs nothing: its plugin folders link to ``shared``'s.
    """
    sys_dir.mkdir(parents=True, exist_ok=True)
    for name in PLUGIN_DIRS:
        link = sys_dir / name
        if (shared / name).is_dir() and not link.exists():
            with contextlib.suppress(FileExistsError):  # another run at once made it
                link.symlink_to(shared / name, target_is_directory=True)
    return sys_dir


# The shared server's URL holds its password: a run gets the URLs of its two schemas only.
WORKER_ONLY = ("ORCHESTRATION_DATABASE_URL",)


def worker_env(
    environ: Mapping[str, str], secrets: frozenset[str], setting_prefixes: tuple[str, ...]
) -> dict[str, str]:
    """What a tenant's run keeps of the orchestrator's environment: nothing of another tenant.

    Left out: every variable a ``${VAR}`` of the tenants file reads (the tenants' secrets: a
    run gets its own tenant's values through ``Tenant.env``), the shared server's URL, and every
    plugin setting (``TARGET_BREVO_TAJO_...``): a setting a tenant leaves out must not come from
    the worker, where it could be another account's key.
    """
    return {
        name: value
        for name, value in environ.items()
        if name not in secrets and name not in WORKER_ONLY and not name.startswith(setting_prefixes)
    }


def run_env(
    tenant: Tenant, job: str, settings: Settings, report_file: Path, base: Mapping[str, str]
) -> dict[str, str]:
    """The environment of one run: ``base`` (see :func:`worker_env`), the databases', the tenant's.

    Meltano does not pass ``--state-id-suffix`` on to the target, whose report names the job:
    the suffix is set in ``MELTANO_RUN_STATE_ID_SUFFIX`` too.
    """
    env = dict(base)
    env["MELTANO_SYS_DIR_ROOT"] = str(meltano_sys_dir(settings, tenant.name, job))
    if settings.database_url:
        env["MELTANO_DATABASE_URI"] = with_schema(settings.database_url, MELTANO_SCHEMA)
        ledger = with_schema(settings.database_url, ledger_schema(tenant.name))
    else:
        env["MELTANO_DATABASE_URI"] = (
            f"sqlite:///{settings.project_root / '.meltano' / 'meltano.db'}"
        )
        ledger = f"sqlite:///{settings.data_dir / 'ledgers' / f'{tenant.name}.sqlite'}"
    env["TARGET_BREVO_TAJO_LEDGER_URL"] = ledger
    env["TARGET_BREVO_TAJO_REJECTS_FILE"] = str(
        settings.data_dir / "rejects" / f"{tenant.name}.jsonl"
    )
    env.update(tenant.env)
    env["MELTANO_RUN_STATE_ID_SUFFIX"] = tenant.name
    env["TARGET_BREVO_TAJO_MAPPING_FILE"] = str(tenant.mapping)
    env["TAP_MIXPANEL_TAJO_MAPPING_FILE"] = str(tenant.mapping)
    env["TARGET_BREVO_TAJO_REPORT_FILE"] = str(report_file)
    return env


def run_reports(report_file: Path) -> list[dict[str, Any]]:
    """The reports the run's tasks wrote, one file each next to ``report_file``."""
    pattern = f"{report_file.stem}-*{report_file.suffix}"
    return [
        json.loads(path.read_text(encoding="utf-8")) for path in report_file.parent.glob(pattern)
    ]


def report_figures(reports: list[dict[str, Any]]) -> dict[str, float | int | str]:
    """The figures Dagster plots per tenant: numbers only (and the status), never a secret."""
    figures: dict[str, float | int | str] = {}

    def add(name: str, value: float | None) -> None:
        figures[name] = figures.get(name, 0) + (value or 0)  # type: ignore[operator]

    for report in reports:
        events, contacts = report.get("events") or {}, report.get("contacts") or {}
        for key in ("received", "sent", "deduplicated", "rejected"):
            add(f"events_{key}", events.get(key))
        for key in ("created", "updated", "unchanged", "rejected"):
            add(f"contacts_{key}", contacts.get(key))
        for cohort in report.get("cohorts") or []:
            add("list_members_added", cohort.get("added"))
            add("list_members_removed", cohort.get("removed"))
        companies = report.get("companies") or {}
        for key in ("created", "updated", "links_added", "links_removed"):
            add(f"companies_{key}", companies.get(key))
        add("api_calls", (report.get("api_calls") or {}).get("total"))
        for bucket, budget in (report.get("rate_budgets") or {}).items():
            add("answered_429", budget.get("answered_429"))
            add(f"budget_{bucket}_calls", budget.get("calls"))
            add(f"budget_{bucket}_waited_seconds", budget.get("waited_seconds"))
    statuses = [str(r.get("status")) for r in reports]
    figures["status"] = (
        next((s for s in statuses if s != "succeeded"), "succeeded") if statuses else "no report"
    )
    return figures
