"""Profiles gone from Mixpanel, found at a complete full refresh, handled by ``deletion_policy``.

A profile missing from one page of an interrupted export is not gone, so nothing happens unless
a ``sync_checkpoints`` record confirms that the full refresh whose id the records carried was
read to the end. Policies: ``keep`` (count only), ``unlist`` (remove from the lists this product
manages), ``delete`` (delete the Brevo contact: GDPR deletions made in Mixpanel reach Brevo).
"""

from __future__ import annotations

from target_brevo_tajo.brevo import BrevoClient
from target_brevo_tajo.contacts.ledger import ContactLedger, SyncedContact
from target_brevo_tajo.contacts.writer import ContactWriter
from target_brevo_tajo.lists.api import BrevoLists
from target_brevo_tajo.report import SyncReport
from target_brevo_tajo.settings import Settings


class DeletionWriter:
    """Applies the deletion policy to the contacts a confirmed full refresh no longer listed."""

    def __init__(
        self,
        *,
        client: BrevoClient,
        lists: BrevoLists,
        contacts: ContactWriter,
        ledger: ContactLedger,
        settings: Settings,
        report: SyncReport,
    ) -> None:
        self._client = client
        self._lists = lists
        self._contacts = contacts
        self._ledger = ledger
        self._settings = settings
        self._run_report = report
        self._report = report.contacts

    def apply(self, confirmed: set[str]) -> None:
        """Act on the latest full refresh that this run received and the tap confirmed.

        Refresh ids are UTC timestamps in one text form, so the latest sorts last.
        """
        done = confirmed & self._contacts.full_refresh_ids
        if not done:
            return
        gone = self._ledger.contacts_missing_from(max(done))
        policy = self._settings.deletion_policy
        self._report.deletion_policy = policy
        self._report.gone_from_mixpanel += len(gone)
        if not gone:
            return
        if policy == "unlist":
            self._unlist(gone)
        elif policy == "delete":
            self._delete(gone)

    def _unlist(self, gone: list[SyncedContact]) -> None:
        ids = [contact.distinct_id for contact in gone]
        for list_id in self._contacts.list_ids():
            self._lists.remove(list_id, ids, on_removed=self._count_unlisted)
        self._ledger.forget_contacts(ids)

    def _count_unlisted(self, ids: list[str]) -> None:
        self._report.unlisted += len(ids)

    def _delete(self, gone: list[SyncedContact]) -> None:
        deleted = []
        for contact in gone:
            if self._settings.dry_run:  # counted as deleted, nothing is
                deleted.append(contact.distinct_id)
                continue
            response = self._client.request(
                "DELETE", f"/contacts/{contact.distinct_id}", params={"identifierType": "ext_id"}
            )
            if response.status_code in (200, 204, 404):  # 404: already gone from Brevo
                deleted.append(contact.distinct_id)
            else:
                self._run_report.reject(
                    "profiles",
                    f"could not delete contact (HTTP {response.status_code}): "
                    f"{response.text[:200]}",
                    {"distinct_id": contact.distinct_id},
                )
        self._report.deleted += len(deleted)
        self._ledger.forget_contacts(deleted)
