"""Brevo's offset paging, written once: ``limit`` and ``offset`` until a short page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from target_brevo_tajo.brevo.client import BrevoClient


def offset_pages(
    client: BrevoClient,
    path: str,
    key: str,
    *,
    limit: int,
    params: dict[str, Any] | None = None,
) -> Iterator[list[dict[str, Any]]]:
    """Each page's items under ``key`` (``lists``, ``contacts``...), first to last."""
    offset = 0
    while True:
        query = {**(params or {}), "limit": limit, "offset": offset}
        page = client.call("GET", path, params=query).get(key) or []
        yield page
        if len(page) < limit:
            return
        offset += limit
