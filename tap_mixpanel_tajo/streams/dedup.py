"""Exact duplicates within one export window, kept in memory that does not grow in objects.

Mixpanel's raw export is not de-duplicated. A window holds every key it emitted, so a window
of a million events holds a million keys: as a ``set`` of ``bytes`` that is ~80 bytes and one
Python object per key. Here a key is a 10-byte digest, kept inside one of 32,768 ``bytes``
buckets picked by its first 15 bits: the bucket holds the digest's last 9 bytes, end to end.
That is ~9 bytes per key and a fixed number of objects (docs/performance.md: peak RSS).
"""

from __future__ import annotations

import hashlib
from typing import Any

DIGEST_SIZE = 10
_BUCKET_BITS = 15
_STORED = DIGEST_SIZE - 1  # the first byte is the bucket's (with 7 bits of the second)


def dedup_key(record: dict[str, Any]) -> bytes:
    """Mixpanel's dedup key (event, distinct_id, ``$insert_id``) as a 10-byte BLAKE2b digest.

    Mixpanel's compaction treats events with the same name, distinct_id and ``$insert_id`` on
    the same day as one. Two different keys of a window share a digest with odds of about
    n²/2⁸¹: 4e-13 for a million events (with a 64-bit hash: 3e-8), far below any other way
    to lose an event.
    """
    text = f"{record['event']}\x1f{record['distinct_id']}\x1f{record['insert_id']}"
    return hashlib.blake2b(text.encode(), digest_size=DIGEST_SIZE).digest()


class DigestSet:
    """A set of 10-byte digests: the same answers as a ``set[bytes]``, ~9 bytes per digest."""

    __slots__ = ("_buckets",)

    def __init__(self) -> None:
        self._buckets = [b""] * (1 << _BUCKET_BITS)

    def add(self, digest: bytes) -> bool:
        """Add ``digest``; False if it was already in the set."""
        buckets = self._buckets
        index = (digest[0] << 8 | digest[1]) >> (16 - _BUCKET_BITS)
        stored = digest[1:]
        bucket = buckets[index]
        at = bucket.find(stored)
        while at >= 0:
            if not at % _STORED:
                return False
            at = bucket.find(stored, at + 1)  # a match across two stored digests
        buckets[index] = bucket + stored
        return True


class WindowDedup:
    """Drops exact re-ingested duplicates within one window, and replays after a refetch.

    Before the first refetch a key seen twice is a duplicate. After a refetch, keys already
    emitted by an earlier attempt are replays (dropped silently); a key seen twice within the
    same attempt is still a duplicate.
    """

    def __init__(self) -> None:
        self.emitted = DigestSet()
        self.attempt: DigestSet | None = None
        self.duplicates = 0
        self.replayed = 0
        self.restarts = 0

    def restart(self) -> None:
        """A refetch of the window begins."""
        self.restarts += 1
        self.attempt = DigestSet()

    def fresh(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The records to emit, in order: :meth:`admit` of each one's :func:`dedup_key`."""
        if self.attempt is not None:
            admit = self.admit
            return [record for record in records if admit(dedup_key(record))]
        add = self.emitted.add  # before any refetch, as admit does, in one pass
        kept = [record for record in records if add(dedup_key(record))]
        self.duplicates += len(records) - len(kept)
        return kept

    def admit(self, key: bytes) -> bool:
        """True for a key to emit; False for a duplicate or a replay (counted)."""
        if self.attempt is not None:
            if not self.attempt.add(key):
                self.duplicates += 1
                return False
            if not self.emitted.add(key):
                self.replayed += 1
                return False
            return True
        if not self.emitted.add(key):
            self.duplicates += 1
            return False
        return True
