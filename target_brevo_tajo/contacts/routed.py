"""A stream routed to Brevo contacts: each row a contact, typed, sent only when it changed.

A row's ``id_field`` names the contact by email or ``EXT_ID`` (see :class:`Route`); its
``fields`` become typed attributes like ``property_mapping``'s. The contacts ledger keeps each
contact's hash, under its ``EXT_ID`` or under ``email:<address>``, so an unchanged row costs no
call. Its rows are marked ``route:<stream>``: a Mixpanel full refresh never deletes them.
"""

from __future__ import annotations

from typing import Any

from mixpanel_brevo_mapping import Route
from target_brevo_tajo.contacts.attributes import (
    ConversionError,
    normalise_email,
    normalise_phone,
    to_brevo_value,
)
from target_brevo_tajo.contacts.ledger import ROUTED_MARK
from target_brevo_tajo.contacts.rows import SMS, ContactRow
from target_brevo_tajo.contacts.sink import ContactsSink
from target_brevo_tajo.contacts.writer import EXT_ID, ContactWriter
from target_brevo_tajo.ledger.ids import id_problem
from target_brevo_tajo.sinks.routed import RoutedSink

EMAIL_KEY_PREFIX = "email:"


def contact_key(route: Route, value: Any) -> tuple[str, str | None]:
    """The contact's ledger key, and why ``value`` names no contact (else None).

    The key is the ``EXT_ID``, or ``email:<address>``; the reason names the field.
    """
    if value is None:
        return "", f"no {route.id_field}: a route to contacts needs it"
    id_type, identifier = route.identifier(value)
    if id_type == "email":
        try:
            identifier = f"{EMAIL_KEY_PREFIX}{normalise_email(identifier)}"
        except ConversionError as exc:
            return "", f"{route.id_field}: {exc}"
    return identifier, id_problem(route.id_field, identifier)


def routed_rows(
    writer: ContactWriter, stream: str, route: Route, records: dict[str, dict[str, Any]]
) -> list[ContactRow]:
    """Typed rows of the stream's records (by ledger key), the attributes created as needed."""
    targets = route.attributes()
    samples: dict[str, Any] = {EXT_ID: "id", **{t: "" for t in targets.values() if t != SMS}}
    for record in records.values():
        for field, target in targets.items():
            value = record.get(field)
            # A typed value (number, boolean) wins over text, as for profiles.
            if target != SMS and value not in (None, "") and isinstance(samples[target], str):
                samples[target] = value
    writer.attributes.ensure(samples)
    rows = []
    for key, record in records.items():
        email = None if not key.startswith(EMAIL_KEY_PREFIX) else key[len(EMAIL_KEY_PREFIX) :]
        row = ContactRow(
            distinct_id=key,
            email=email,
            attributes={} if email else {EXT_ID: key},
            record=record,
            full_refresh_id=f"{ROUTED_MARK}{stream}",
        )
        for field, target in targets.items():
            _set_attribute(writer, row, target, record.get(field))
        rows.append(row)
    return rows


def _set_attribute(writer: ContactWriter, row: ContactRow, target: str, value: Any) -> None:
    """One typed attribute of the row; a value Brevo would refuse is left out with its reason."""
    if value is None or value == "":
        return
    try:
        if target == SMS:
            row.attributes[SMS] = normalise_phone(value, None)
            return
        attribute = writer.attributes.get(target)
        if attribute is None:
            msg = f"the account has no attribute {target} (create_missing_attributes is off)"
            raise ConversionError("attribute missing", msg)
        row.attributes[target] = to_brevo_value(value, attribute)
    except ConversionError as exc:
        row.rejected.append((target, exc))


class RoutedContactsSink(RoutedSink, ContactsSink):
    """A stream's rows as Brevo contacts, through the contacts writer (ledger hash, imports)."""

    def take(self, record: dict, context: dict) -> None:
        """Keep the row under its contact (a later row of the same contact wins)."""
        self._report.received += 1
        key, problem = contact_key(self.route, self.field_value(record, self.route.id_field))
        if problem:
            self._report.rejected += 1
            self.writers.report.reject(self.stream_name, problem, record)
            return
        if key in context["profiles"]:
            self._report.deduplicated += 1
        context["profiles"][key] = record

    def process_batch(self, context: dict) -> None:
        """Import the batch's new and changed contacts; returns once Brevo has them."""
        rows = routed_rows(self.contacts, self.stream_name, self.route, context["profiles"])
        for row in rows:
            for target, error in row.rejected:
                self._report.values_rejected[f"{target}: {error.kind}"] += 1
                self.writers.report.reject(
                    self.stream_name, f"{target} left out: {error}", row.record
                )
        self.contacts.write_rows(rows)
