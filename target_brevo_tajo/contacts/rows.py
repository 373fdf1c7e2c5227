"""One profile as a Brevo contact import row, and what the ledger keeps of it once imported."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from target_brevo_tajo.contacts.attributes import ConversionError
from target_brevo_tajo.contacts.ledger import LeftOutContact, SyncedContact

SMS = "SMS"


@dataclass
class ContactRow:
    """One profile as a Brevo import row."""

    distinct_id: str
    email: str | None
    attributes: dict[str, Any]
    record: dict[str, Any]
    full_refresh_id: str | None
    renamed_from: str | None = None
    encoded: bytes = field(default=b"", repr=False)
    # Values left out that the account may accept later, by attribute: the profile is kept.
    left_out: dict[str, Any] = field(default_factory=dict)
    rejected: list[tuple[str, ConversionError]] = field(default_factory=list)

    @property
    def sms(self) -> str | None:
        """The contact's SMS number, E.164."""
        return self.attributes.get(SMS)

    def import_row(self) -> dict[str, Any]:
        """The row of ``jsonBody``: email when known, EXT_ID always."""
        row: dict[str, Any] = {"attributes": self.attributes}
        if self.email:
            row["email"] = self.email
        return row

    def fingerprint(self, list_ids: list[int]) -> str:
        """Hash of everything a change of which must reach Brevo.

        Values left out count too: once one of them can be sent, the hash differs.
        """
        data: dict[str, Any] = {"row": self.import_row(), "lists": sorted(list_ids)}
        if self.left_out:
            data["left_out"] = self.left_out
        text = json.dumps(data, sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    def left_out_contact(self) -> LeftOutContact:
        """What the ledger keeps to send this contact again: its profile's properties."""
        return LeftOutContact(
            self.distinct_id, self.record.get("properties") or {}, sorted(self.left_out)
        )

    def synced(self, list_ids: list[int]) -> SyncedContact:
        """The ledger row once Brevo imported this contact."""
        return SyncedContact(
            distinct_id=self.distinct_id,
            email=self.email,
            sms=self.sms,
            attributes_hash=self.fingerprint(list_ids),
            last_full_refresh=self.full_refresh_id,
        )
