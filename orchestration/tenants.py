"""The tenants file (``TENANTS_FILE``): each customer's environment, mapping file and Meltano jobs.

Pure (no Dagster): read once when Dagster loads the definitions. A tenant with a mistake is left
out with one line naming the file, the line, the tenant and the key; the other tenants still run.
Secrets never sit in the file: ``${VAR}`` in a value is read from the environment.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

TENANT_KEYS = ("env", "mapping", "jobs", "environment")
# Lowercase, so that one name serves as Meltano's state id suffix, a PostgreSQL schema and part
# of a Dagster job name.
TENANT_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}")
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
DEFAULT_ENVIRONMENT = "prod"
# Set by the orchestration for each run: a tenant setting them would break its state or report.
RESERVED_ENV = frozenset(
    {
        "MELTANO_RUN_STATE_ID_SUFFIX",
        "MELTANO_ENVIRONMENT",
        "MELTANO_DATABASE_URI",
        "MELTANO_SYS_DIR_ROOT",
        "TARGET_BREVO_TAJO_MAPPING_FILE",
        "TAP_MIXPANEL_TAJO_MAPPING_FILE",
        "TARGET_BREVO_TAJO_REPORT_FILE",
    }
)
CRON_OF_INTERVAL = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
}


class TenantsFileError(ValueError):
    """The file as a whole cannot be read: no tenant runs (one line, saying what to do)."""


@dataclass(frozen=True)
class Tenant:
    """One customer: its Meltano jobs (the first is its main one) and what they run with."""

    name: str
    env: Mapping[str, str] = field(repr=False)  # resolved values: may hold secrets
    mapping: Path
    jobs: tuple[str, ...]
    environment: str = DEFAULT_ENVIRONMENT


@dataclass(frozen=True)
class Tenants:
    """The tenants that are right, one line per mistake of the others, and the secrets' names.

    ``variables`` are the names every ``${VAR}`` of the file reads: no tenant's run is given
    them from the orchestrator's environment, only the values of its own (``Tenant.env``).
    """

    tenants: dict[str, Tenant]
    errors: list[str]
    variables: frozenset[str] = frozenset()


@dataclass(frozen=True)
class MeltanoSchedule:
    """A schedule of meltano.yml: its job, as a cron expression."""

    name: str
    job: str
    cron: str


@dataclass(frozen=True)
class MeltanoProject:
    """What the orchestration reads of meltano.yml."""

    jobs: set[str]
    schedules: list[MeltanoSchedule]
    # Each plugin's environment variables start with its name, upper case, ``-`` as ``_``
    # (an inheriting plugin's too: TAP_MIXPANEL_TAJO__COHORTS_... starts with its parent's).
    setting_prefixes: tuple[str, ...]


def meltano_project(meltano_yml: Path) -> MeltanoProject:
    """The job names, the schedules and the plugins' setting variable prefixes of meltano.yml."""
    project = yaml.safe_load(meltano_yml.read_text(encoding="utf-8")) or {}
    schedules = [
        MeltanoSchedule(s["name"], s["job"], CRON_OF_INTERVAL.get(s["interval"], s["interval"]))
        for s in project.get("schedules") or []
        if s.get("job")
    ]
    plugins = [p for kind in (project.get("plugins") or {}).values() for p in kind or []]
    prefixes = {plugin["name"].upper().replace("-", "_") + "_" for plugin in plugins}
    return MeltanoProject(
        jobs={job["name"] for job in project.get("jobs") or []},
        schedules=schedules,
        setting_prefixes=tuple(sorted(prefixes)),
    )


def load_tenants(
    path: Path, known_jobs: set[str], environ: Mapping[str, str] | None = None
) -> Tenants:
    """Read the tenants file; ``known_jobs`` are meltano.yml's, ``environ`` fills ``${VAR}``."""
    environ = os.environ if environ is None else environ
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except OSError as exc:
        msg = f"cannot read the tenants file {path}: {exc.strerror}; set TENANTS_FILE to it"
        raise TenantsFileError(msg) from exc
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", -1) + 1
        msg = f"{path}:{line}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the file"
        raise TenantsFileError(msg) from exc
    if not isinstance(root, yaml.MappingNode):
        raise TenantsFileError(f"{path}:1: write the tenants under a top-level key tenants:")
    errors: list[str] = []
    tenants_node = None
    for key, value in root.value:
        if key.value == "tenants" and isinstance(value, yaml.MappingNode):
            tenants_node = value
        else:
            errors.append(f"{path}:{_line(key)}: unknown top-level key {key.value!r}: only tenants")
    if tenants_node is None:
        raise TenantsFileError(f"{path}:1: no tenants: mapping; write each tenant under tenants:")
    reader = _TenantReader(path, known_jobs, environ)
    tenants: dict[str, Tenant] = {}
    for key, value in tenants_node.value:
        tenant = reader.read(key, value)
        if tenant is not None:
            tenants[tenant.name] = tenant
    return Tenants(tenants, errors + reader.errors, frozenset(reader.variables))


def _line(node: yaml.Node) -> int:
    return node.start_mark.line + 1


class _Problem(ValueError):
    def __init__(self, node: yaml.Node, key: str, text: str) -> None:
        super().__init__(text)
        self.node, self.key = node, key


@dataclass
class _TenantReader:
    """Reads one tenant's node at a time; a mistake adds one line to ``errors``."""

    path: Path
    known_jobs: set[str]
    environ: Mapping[str, str]
    errors: list[str] = field(default_factory=list)
    variables: set[str] = field(default_factory=set)

    def read(self, key: yaml.Node, node: yaml.Node) -> Tenant | None:
        name = str(key.value)
        try:
            return self._tenant(key, name, node)
        except _Problem as problem:
            self.errors.append(
                f"{self.path}:{_line(problem.node)}: tenant {name}: key {problem.key}: {problem}; "
                "fix it (the other tenants still run)"
            )
            return None

    def _tenant(self, key: yaml.Node, name: str, node: yaml.Node) -> Tenant:
        if not TENANT_NAME.fullmatch(name):
            text = "a tenant name is lowercase letters, digits and _ (at most 40), a letter first"
            raise _Problem(key, "(name)", text)
        if not isinstance(node, yaml.MappingNode):
            raise _Problem(node, "(tenant)", "expected a mapping of env, mapping and jobs")
        fields = {str(k.value): (k, v) for k, v in node.value}
        unknown = [name for name in fields if name not in TENANT_KEYS]
        if unknown:  # the first in the file, so the line named is the same at every load
            raise _Problem(
                fields[unknown[0]][0], unknown[0], f"unknown key, known: {', '.join(TENANT_KEYS)}"
            )
        for needed in ("mapping", "jobs"):
            if needed not in fields:
                raise _Problem(node, needed, "missing")
        environment = DEFAULT_ENVIRONMENT
        if "environment" in fields:
            environment = self._scalar(fields["environment"][1], "environment")
        return Tenant(
            name=name,
            env=self._env(fields["env"][1]) if "env" in fields else {},
            mapping=self._mapping(fields["mapping"][1]),
            jobs=self._jobs(fields["jobs"][1]),
            environment=environment,
        )

    def _scalar(self, node: yaml.Node, key: str) -> str:
        if not isinstance(node, yaml.ScalarNode) or node.value == "":
            raise _Problem(node, key, "expected a value")

        def expand(match: re.Match[str]) -> str:
            self.variables.add(match[1])
            if match[1] not in self.environ:
                raise _Problem(node, key, f"${{{match[1]}}} is not set in the environment")
            return self.environ[match[1]]

        return VARIABLE.sub(expand, str(node.value))

    def _env(self, node: yaml.Node) -> dict[str, str]:
        if not isinstance(node, yaml.MappingNode):
            raise _Problem(node, "env", "expected a mapping of environment variables")
        env: dict[str, str] = {}
        for key, value in node.value:
            name = str(key.value)
            if not ENV_NAME.fullmatch(name):
                raise _Problem(key, f"env.{name}", "not an environment variable name")
            if name in RESERVED_ENV:
                raise _Problem(key, f"env.{name}", "set by the orchestration for each run")
            env[name] = self._scalar(value, f"env.{name}")
        return env

    def _mapping(self, node: yaml.Node) -> Path:
        mapping = Path(self._scalar(node, "mapping"))
        mapping = mapping if mapping.is_absolute() else self.path.parent / mapping
        if not mapping.is_file():
            raise _Problem(node, "mapping", f"no mapping file {mapping}")
        return mapping.resolve()

    def _jobs(self, node: yaml.Node) -> tuple[str, ...]:
        if not isinstance(node, yaml.SequenceNode) or not node.value:
            raise _Problem(node, "jobs", "expected a list of meltano.yml job names, main first")
        jobs = tuple(self._scalar(item, "jobs") for item in node.value)
        for item, job in zip(node.value, jobs, strict=True):
            if job not in self.known_jobs:
                known = ", ".join(sorted(self.known_jobs))
                raise _Problem(item, "jobs", f"no job {job!r} in meltano.yml (it has: {known})")
        if len(set(jobs)) != len(jobs):
            raise _Problem(node, "jobs", "a job is named twice")
        return jobs
