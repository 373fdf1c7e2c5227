"""Dagster's definitions: a job per tenant and Meltano job, its schedules, and ``all_tenants``.

Each op runs ``meltano run <job>`` for one tenant in a subprocess, its output in Dagster's log,
then attaches the target's report figures to the asset ``brevo/<tenant>/<job>``, so Dagster's UI
plots them per tenant over time. One run at a time per tenant and job: each op has a pool of its
own, and the instance's ``concurrency.pools.default_limit: 1`` holds every pool to one slot
(enforced by the run worker, so it holds under ``dagster job execute`` and the daemon alike).
"""

import logging
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from dagster import (
    AssetMaterialization,
    Backoff,
    Definitions,
    Failure,
    Jitter,
    JobDefinition,
    MetadataValue,
    OpDefinition,
    OpExecutionContext,
    Output,
    RetryPolicy,
    ScheduleDefinition,
    job,
    multiprocess_executor,
    op,
)

from orchestration.database import prepare_meltano_database
from orchestration.runs import (
    REPORT_NAME,
    Settings,
    meltano_command,
    report_figures,
    run_env,
    run_reports,
    worker_env,
)
from orchestration.tenants import (
    MeltanoProject,
    Tenant,
    Tenants,
    TenantsFileError,
    load_tenants,
    meltano_project,
)

logger = logging.getLogger("orchestration")
STOP_GRACE_SECONDS = 30
# The orchestrator's environment as a tenant's run may see it (orchestration.runs.worker_env).
BaseEnv = Callable[[], dict[str, str]]


def dagster_name(tenant: str, meltano_job: str) -> str:
    """Dagster's names take letters, digits and _ only."""
    return f"{tenant}__{meltano_job.replace('-', '_')}"


def _stream(context: OpExecutionContext, command: list[str], cwd: Path, env: dict[str, str]) -> int:
    """Run ``command``, each line of its output in Dagster's log; stop its whole tree if stopped."""
    process = subprocess.Popen(  # noqa: S603 - meltano, with arguments the tenants file checked
        command,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        start_new_session=True,  # the run's own process group: a stop ends the tap and target too
    )
    try:
        assert process.stdout is not None
        for line in process.stdout:
            context.log.info(line.rstrip())
        return process.wait()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def _run_job(
    context: OpExecutionContext, tenant: Tenant, meltano_job: str, settings: Settings, base: BaseEnv
) -> Iterator[AssetMaterialization | Output[None]]:
    attempt = context.retry_number + 1
    folder = settings.data_dir / "reports" / tenant.name / meltano_job / context.run_id
    report_file = folder / f"attempt-{attempt}" / REPORT_NAME
    env = run_env(tenant, meltano_job, settings, report_file, base())
    if settings.database_url:
        state_list = [meltano_command(tenant, meltano_job, force=False)[0], "state", "list"]
        prepare_meltano_database(
            settings.database_url,
            lambda: subprocess.run(  # noqa: S603 - a fixed meltano command
                state_list, cwd=settings.project_root, env=env, check=True, capture_output=True
            ),
        )
    # A retry follows an attempt that Dagster saw end, killed or failed: Meltano may still mark
    # its state id running, so the retry takes it over. Exactly once is the ledger's.
    command = meltano_command(tenant, meltano_job, force=attempt > 1)
    context.log.info(f"tenant {tenant.name}, attempt {attempt}: $ meltano {' '.join(command[1:])}")
    code = _stream(context, command, settings.project_root, env)
    reports = run_reports(report_file)
    figures = report_figures(reports)
    metadata: dict[str, Any] = {**figures, "attempt": attempt, "exit_code": code}
    metadata["reports"] = MetadataValue.path(str(report_file.parent))
    if reports:
        key = ["brevo", tenant.name, meltano_job.replace("-", "_")]
        yield AssetMaterialization(asset_key=key, metadata=metadata)
    if code != 0:
        raise Failure(
            description=(
                f"meltano run {meltano_job} of tenant {tenant.name} exited with {code} "
                f"(attempt {attempt}); its last lines above say why"
            ),
            metadata=metadata,
        )
    yield Output(None, metadata=metadata)


def tenant_op(tenant: Tenant, meltano_job: str, settings: Settings, base: BaseEnv) -> OpDefinition:
    """The op that runs one tenant's Meltano job; retried with exponential backoff.

    Its pool is named as its job; the op itself may not be (Dagster refuses a job whose graph
    and op share a name once it loads every job, as ``dagster dev`` does).
    """
    name = dagster_name(tenant.name, meltano_job)

    @op(
        name=f"{name}__meltano",
        pool=name,
        tags={"tenant": tenant.name, "meltano_job": meltano_job},
        retry_policy=RetryPolicy(
            max_retries=settings.max_retries,
            delay=settings.retry_delay_seconds,
            backoff=Backoff.EXPONENTIAL,
            jitter=Jitter.PLUS_MINUS,
        ),
    )
    def run_meltano_job(
        context: OpExecutionContext,
    ) -> Iterator[AssetMaterialization | Output[None]]:
        yield from _run_job(context, tenant, meltano_job, settings, base)

    return run_meltano_job


def tenant_job(
    tenant: Tenant, meltano_job: str, op_def: OpDefinition, settings: Settings
) -> JobDefinition:
    """One tenant's Meltano job as a Dagster job, tagged for the run queue's limits."""

    @job(
        name=dagster_name(tenant.name, meltano_job),
        tags={
            "tenant": tenant.name,
            "meltano_job": meltano_job,
            "dagster/max_retries": str(settings.max_retries),
        },
    )
    def tenant_meltano_job() -> None:
        op_def()

    return tenant_meltano_job


def all_tenants_job(main_ops: list[OpDefinition], settings: Settings) -> JobDefinition:
    """Every tenant's main job once, at most ``max_concurrent`` at a time."""
    executor = multiprocess_executor.configured({"max_concurrent": settings.max_concurrent})

    @job(name="all_tenants", executor_def=executor, tags={"dagster/max_retries": "0"})
    def all_tenants() -> None:
        for op_def in main_ops:
            op_def()

    return all_tenants


def _load(tenants_file: str | None, project: MeltanoProject) -> Tenants:
    """The tenants of ``tenants_file``; each mistake logged as one ERROR line."""
    if not tenants_file:
        logger.error("TENANTS_FILE is not set: set it to the tenants file (docs/tenants.md)")
        return Tenants({}, [])
    try:
        loaded = load_tenants(Path(tenants_file), project.jobs)
    except TenantsFileError as exc:
        logger.error("%s", exc)
        return Tenants({}, [])
    for error in loaded.errors:
        logger.error("%s", error)
    return loaded


def build_definitions(tenants_file: str | None, settings: Settings) -> Definitions:
    """The jobs and schedules of every tenant of ``tenants_file`` that has no mistake.

    A mistake in a tenant is logged as one ERROR line and leaves that tenant out.
    """
    project = meltano_project(settings.project_root / "meltano.yml")
    loaded = _load(tenants_file, project)

    def base() -> dict[str, str]:
        return worker_env(os.environ, loaded.variables, project.setting_prefixes)

    jobs: list[JobDefinition] = []
    crons: list[ScheduleDefinition] = []
    main_ops: list[OpDefinition] = []
    for tenant in loaded.tenants.values():
        for meltano_job in tenant.jobs:
            op_def = tenant_op(tenant, meltano_job, settings, base)
            main_ops += [op_def] if meltano_job == tenant.jobs[0] else []
            jobs.append(tenant_job(tenant, meltano_job, op_def, settings))
            crons += [
                ScheduleDefinition(
                    name=f"{tenant.name}__{s.name.replace('-', '_')}",
                    cron_schedule=s.cron,
                    job=jobs[-1],
                )
                for s in project.schedules
                if s.job == meltano_job
            ]
    return Definitions(jobs=[*jobs, all_tenants_job(main_ops, settings)], schedules=crons)
