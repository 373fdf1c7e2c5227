"""The e2e tests' Meltano system folder: one per pytest process, sharing the installed plugins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestration.runs import linked_sys_dir
from tests.conftest import ROOT


@pytest.fixture(scope="session", autouse=True)
def meltano_sys_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Meltano writes each plugin's config and catalog under ``.meltano/run/<plugin>/``.

    Under pytest-xdist, two `meltano run`s of one plugin at once would overwrite (and delete)
    each other's files, and share one system database: each worker gets a folder of its own
    (its own ``meltano.db``), linking the project's installed plugin venvs (no reinstall).
    """
    sys_dir = linked_sys_dir(tmp_path_factory.mktemp("meltano-sys-dir"), ROOT / ".meltano")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MELTANO_SYS_DIR_ROOT", str(sys_dir))
        patch.delenv("MELTANO_DATABASE_URI", raising=False)
        yield
