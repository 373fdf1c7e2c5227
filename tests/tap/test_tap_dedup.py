"""A window's dedup: the answers of a set of digests, in ~9 bytes per digest."""

from __future__ import annotations

import hashlib
import random
import tracemalloc

from tap_mixpanel_tajo.streams.dedup import DIGEST_SIZE, DigestSet, WindowDedup, dedup_key


def digests(count: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [rng.randbytes(DIGEST_SIZE) for _ in range(count)]


def test_a_digest_set_answers_as_a_set_does():
    keys = digests(20_000)
    stream = keys + keys[::3] + digests(5_000, seed=2) + keys[::7]
    reference: set[bytes] = set()
    seen = DigestSet()
    for key in stream:
        assert seen.add(key) == (key not in reference)
        reference.add(key)


def test_a_digest_found_across_two_stored_ones_is_not_in_the_set():
    """Digests sit end to end in a bucket: bytes that span two of them are no digest."""
    first = b"\0" * 4 + b"x" * 6
    second = b"\0" * 2 + b"y" * 8
    spanning = b"\0" * 3 + b"x" * 6 + b"\0"  # same bucket (first 15 bits), other digest
    assert spanning[1:] in first[1:] + second[1:]  # kept end to end, they hold its bytes
    seen = DigestSet()
    assert seen.add(first)
    assert seen.add(second)
    assert seen.add(spanning)
    assert not seen.add(spanning)


def test_a_digest_set_holds_about_nine_bytes_per_digest():
    keys = digests(200_000)
    tracemalloc.start()
    try:
        seen = DigestSet()
        for key in keys:
            seen.add(key)
        held, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert held < len(keys) * (DIGEST_SIZE - 1) + 32_768 * 64  # digests, one object a bucket


def test_the_key_is_the_event_its_distinct_id_and_its_insert_id():
    record = {"event": "A", "distinct_id": "u1", "insert_id": "1", "time": "t1"}
    assert dedup_key(record) == dedup_key({**record, "time": "t2", "properties": {"x": 1}})
    for field in ("event", "distinct_id", "insert_id"):
        assert dedup_key(record) != dedup_key({**record, field: "other"})
    assert dedup_key(record) == hashlib.blake2b(b"A\x1fu1\x1f1", digest_size=10).digest()


def test_after_a_refetch_what_was_emitted_is_a_replay_and_a_repeat_is_a_duplicate():
    a, b, c = digests(3)
    dedup = WindowDedup()
    assert [dedup.admit(key) for key in (a, b, a)] == [True, True, False]
    dedup.restart()
    assert [dedup.admit(key) for key in (a, b, c, c)] == [False, False, True, False]
    assert (dedup.duplicates, dedup.replayed, dedup.restarts) == (2, 2, 1)
