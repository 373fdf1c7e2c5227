"""Many customers on Dagster: one job per tenant and Meltano job, from ``TENANTS_FILE``.

``dagster job execute -m orchestration -j all_tenants`` and ``dagster dev -m orchestration`` load
``defs`` (docs/tenants.md). It is built on first use, not on import: the tenants file's parser
(:mod:`orchestration.tenants`) imports without Dagster and without reading the file.
"""

from __future__ import annotations

import os
from functools import cache
from typing import Any


@cache
def _definitions() -> Any:
    from orchestration.definitions import build_definitions  # noqa: PLC0415 - Dagster on use
    from orchestration.runs import Settings  # noqa: PLC0415

    return build_definitions(os.environ.get("TENANTS_FILE"), Settings.from_env())


def __getattr__(name: str) -> Any:
    if name == "defs":
        return _definitions()
    raise AttributeError(name)


def __dir__() -> list[str]:
    return ["defs"]
