"""Filling Brevo calls: as many items as fit under a count and a byte cap, in order."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar

Item = TypeVar("Item")


def fill_calls(
    items: Iterable[Item],
    encoded: Callable[[Item], bytes],
    *,
    max_bytes: int,
    max_items: int | None = None,
    envelope_bytes: int = 0,
) -> list[list[Item]]:
    """Split ``items`` into calls whose JSON array (plus envelope) stays under ``max_bytes``.

    An item bigger than the cap alone still gets a call of its own: Brevo is the judge of it.
    """
    calls: list[list[Item]] = []
    current: list[Item] = []
    size = envelope_bytes
    for item in items:
        item_size = len(encoded(item)) + 1  # the separating comma
        too_many = max_items is not None and len(current) >= max_items
        if current and (too_many or size + item_size > max_bytes):
            calls.append(current)
            current, size = [], envelope_bytes
        current.append(item)
        size += item_size
    if current:
        calls.append(current)
    return calls
