"""Profiles gone from Mixpanel, found at a complete full refresh, handled by ``deletion_policy``.

A profile missing from one page of an interrupted export is not gone, so nothing happens unless
a ``sync_checkpoints`` record confirms that the full refresh whose id the records carried was
read to the end. Policies: ``keep`` (count only), ``unlist`` (remove from the lists this product
manages), ``delete`` (delete the Brevo contact: GDPR deletions made in Mixpanel reach Brevo).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from target_brevo_tajo.ledger import SyncedContact
    from target_brevo_tajo.services import Services

LIST_CALL_MAX = 150


def completed_full_refresh(services: Services, confirmed: set[str]) -> str | None:
    """The latest refresh whose records this run received and whose completion the tap confirmed.

    Refresh ids are UTC timestamps in one text form, so the latest sorts last.
    """
    done = confirmed & services.full_refresh_ids
    return max(done) if done else None


def apply_deletion_policy(services: Services, refresh_id: str) -> None:
    """Count, unlist or delete the synced contacts that the full refresh did not list."""
    gone = services.ledger.contacts_missing_from(refresh_id)
    report = services.report.contacts
    report.deletion_policy = services.settings.deletion_policy
    report.gone_from_mixpanel += len(gone)
    if not gone or services.settings.dry_run:
        return
    if services.settings.deletion_policy == "unlist":
        _unlist(services, gone)
    elif services.settings.deletion_policy == "delete":
        _delete(services, gone)


def _unlist(services: Services, gone: list[SyncedContact]) -> None:
    ids = [contact.distinct_id for contact in gone]
    for list_id in services.contact_list_ids():
        for start in range(0, len(ids), LIST_CALL_MAX):
            chunk = ids[start : start + LIST_CALL_MAX]
            response = services.client.request(
                "POST", f"/contacts/lists/{list_id}/contacts/remove", json={"extIds": chunk}
            )
            # 400 "Contact already in list and/or does not exist": already done.
            if response.status_code in (200, 201, 204, 400):
                services.report.contacts.unlisted += len(chunk)
    services.ledger.forget_contacts(ids)


def _delete(services: Services, gone: list[SyncedContact]) -> None:
    deleted = []
    for contact in gone:
        response = services.client.request(
            "DELETE", f"/contacts/{contact.distinct_id}", params={"identifierType": "ext_id"}
        )
        if response.status_code in (200, 204, 404):  # 404: already gone from Brevo
            deleted.append(contact.distinct_id)
        else:
            services.report.reject(
                "profiles",
                f"could not delete contact (HTTP {response.status_code}): {response.text[:200]}",
                {"distinct_id": contact.distinct_id},
            )
    services.report.contacts.deleted += len(deleted)
    services.ledger.forget_contacts(deleted)
