"""The target caps glibc's malloc arenas before its call workers start (flat memory)."""

from __future__ import annotations

import platform

import pytest

from target_brevo_tajo import malloc_arenas
from target_brevo_tajo.malloc_arenas import limit_malloc_arenas
from target_brevo_tajo.target import TargetBrevoTajo
from tests.conftest import MAPPING_FILE

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")


@glibc
def test_on_glibc_the_arenas_are_capped(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    assert limit_malloc_arenas() is True


def test_an_arena_limit_the_user_set_is_left_as_it_is(monkeypatch):
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")

    assert limit_malloc_arenas() is False


def test_without_glibcs_mallopt_nothing_happens(monkeypatch):
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)

    class NoMallopt:  # musl, macOS: the C library has no mallopt
        def __init__(self, name: str) -> None:
            pass

    monkeypatch.setattr(malloc_arenas.ctypes, "CDLL", NoMallopt)

    assert limit_malloc_arenas() is False


def test_the_target_caps_them_before_it_builds_its_writers(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr("target_brevo_tajo.target.limit_malloc_arenas", lambda: calls.append(1))
    config = {
        "api_key": "key",
        "mapping_file": str(MAPPING_FILE),
        "ledger_url": f"sqlite:///{tmp_path / 'ledger.sqlite'}",
        "dry_run": True,
    }
    TargetBrevoTajo(config=config, parse_env_config=False)

    assert calls == [1]
