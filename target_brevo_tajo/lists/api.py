"""Brevo lists, folders and list membership, in Brevo's units.

Membership changes go by ``extIds`` (or Brevo ``ids``) in calls of at most 150; member pages hold
at most 500 contacts, list and folder pages 50 (developers.brevo.com/reference/add-contact-to-list
and Brevo's OpenAPI spec, https://api.brevo.com/v3/swagger_definition_v3.yml). Only Brevo's
answer counts: a 201 names the ``success`` and ``failure`` ids (a failure is "already in the list,
or not a contact" for an add, "not in the list, or not a contact" for a remove); a 400 whose code is
``invalid_parameter`` means every id failed ("Contact already in list and/or does not exist").
Any other answer stops the run: it is not a guess about membership.

Membership calls go :data:`CALLS_IN_FLIGHT` at a time, paced by the client's rate budget: one
at a time, Brevo's round trip (150 ms is usual) held them under the contacts budget of 10 a
second. Their answers are taken in the order the calls were made. Adds may be queued
(:meth:`BrevoLists.start_adding`): a batch's calls go out behind the last batch's, with no gap.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import httpx

from target_brevo_tajo.brevo.client import BrevoClient, BrevoError, CallInDoubt, ok_json
from target_brevo_tajo.brevo.paging import offset_pages

LIST_CALL_MAX = 150
MEMBERS_PAGE = 500
NAMES_PAGE = 50
#: Membership calls awaiting Brevo's answer at once: enough to fill 10 calls a second at 150 ms.
CALLS_IN_FLIGHT = 4

#: The error code of a membership call that changed nothing (every id failed).
NOTHING_CHANGED = "invalid_parameter"

logger = logging.getLogger("target-brevo-tajo")
Done = Callable[[list[Any]], None]
Answered = Callable[[list[Any], httpx.Response], None]
Call = tuple[list[Any], Future[httpx.Response]]  # a call's ids, and its answer to come


class CallsStopped(BrevoError):
    """A membership call not sent because an earlier one failed."""


def _ignore(_ids: list[Any]) -> None:
    """No bookkeeping after a call."""


@dataclass(frozen=True)
class ListedMember:
    """A list member as ``GET /contacts/lists/{id}/contacts`` shows it.

    ``attributes_listed``: the listing carried the contact's attributes, so a missing ``EXT_ID``
    means the contact has none (a listing that leaves attributes out proves nothing).
    """

    brevo_id: int | None
    ext_id: str | None
    attributes_listed: bool


def _answer(response: httpx.Response, chunk: list[Any]) -> tuple[list[Any], list[Any]]:
    """The ids of ``chunk`` Brevo says it changed, and those it says failed.

    An id the answer names in neither is not counted as changed.
    """
    if response.status_code == 400 and _error_code(response) == NOTHING_CHANGED:
        return [], list(chunk)
    contacts = ok_json(response).get("contacts") or {}
    success = {str(x) for x in contacts.get("success") or []}
    return [x for x in chunk if str(x) in success], [x for x in chunk if str(x) not in success]


def _error_code(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("code")) if isinstance(body, dict) else None


class BrevoLists:
    """Finds and creates lists, changes and reads their members; a dry run writes nothing."""

    def __init__(self, client: BrevoClient, *, dry_run: bool) -> None:
        self._client = client
        self._dry_run = dry_run
        self._planned: dict[str, int] = {}  # a dry run's lists to create: 0, -1, -2...
        self._created: set[tuple[str, int]] = set()  # (path, id) made here, Brevo's answer in hand
        self._calls = ThreadPoolExecutor(CALLS_IN_FLIGHT, thread_name_prefix="brevo-list")
        # Takes each batch's answers in call order, while the caller prepares the next batch.
        self._takers = ThreadPoolExecutor(1, thread_name_prefix="brevo-list-answers")
        self._failure: Exception | None = None  # once a membership call failed, none leaves
        # A dry run's membership changes by list (ids added, ids removed): its later reads see them.
        self._changes: dict[int, tuple[set[Any], set[Any]]] = {}

    def find_or_create(self, name: str, folder_name: str) -> int:
        """The id of the list called ``name``, created in folder ``folder_name`` if missing.

        A dry run creates nothing and answers 0 for the first list that does not exist yet, then
        -1, -2...: each list it would create keeps its own members.
        """
        found = self._find_by_name("/contacts/lists", "lists", name)
        if found is not None:
            return found
        if self._dry_run:
            return self._planned.setdefault(name, -len(self._planned))
        folder = self._find_by_name("/contacts/folders", "folders", folder_name)
        if folder is None:
            folder = self._create("/contacts/folders", "folders", {"name": folder_name})
        created = self._create("/contacts/lists", "lists", {"name": name, "folderId": folder})
        logger.info("Created Brevo list %r (id %s)", name, created)
        return created

    def created_here(self, list_id: int) -> bool:
        """Whether this run created the list and Brevo answered: it was empty then."""
        return ("/contacts/lists", list_id) in self._created

    def _create(self, path: str, key: str, body: dict[str, Any]) -> int:
        """Create a list or folder once: after an answer that never came, look before again.

        Nothing documented stops two lists of one name, so a creation is never resent blindly:
        the one Brevo may have made is looked for by name, and created again only when absent.
        """
        try:
            created = int(self._client.call("POST", path, json=body)["id"])
        except CallInDoubt as exc:
            found = self._find_by_name(path, key, body["name"])
            if found is not None:
                logger.warning("POST %s got no answer (%s) but Brevo made it: id %s",
                               path, exc, found)  # fmt: skip
                return found  # made by this call, or by someone else: not known empty
            created = int(self._client.call("POST", path, json=body)["id"])
        self._created.add((path, created))
        return created

    def _find_by_name(self, path: str, key: str, name: str) -> int | None:
        for page in offset_pages(self._client, path, key, limit=NAMES_PAGE):
            for item in page:
                if item.get("name") == name:
                    return int(item["id"])
        return None

    def add(self, list_id: int, ext_ids: list[str], on_added: Done = _ignore) -> list[str]:
        """Add existing contacts by ext_id; returns those Brevo answered as failures."""
        return self.start_adding(list_id, ext_ids, on_added).result()

    def start_adding(
        self, list_id: int, ext_ids: list[str], on_added: Done = _ignore
    ) -> Future[list[str]]:
        """Queue the calls adding ``ext_ids``, behind those queued before; returns at once.

        The future's result: the ids Brevo answered as failures, once every call is answered.
        ``on_added`` gets each call's added ids as soon as Brevo confirmed them, in call order,
        in a thread of its own: the caller prepares its next batch meanwhile.
        """
        failed: list[str] = []
        if self._dry_run:  # taken as added: the dry run's ledger is a private copy
            self.plan_joined([list_id], ext_ids)
            on_added(ext_ids)
            done: Future[list[str]] = Future()
            done.set_result(failed)
            return done

        def answered(chunk: list[Any], response: httpx.Response) -> None:
            added, refused = _answer(response, chunk)
            failed.extend(refused)
            on_added(added)

        calls = self._queue_calls(f"/contacts/lists/{list_id}/contacts/add", "extIds", ext_ids)

        def take() -> list[str]:
            self._take_in_order(calls, answered)
            return failed

        return self._takers.submit(take)

    def remove(
        self, list_id: int, ids: list[Any], on_removed: Done = _ignore, *, by: str = "extIds"
    ) -> int:
        """Remove contacts by ext_id (or Brevo ``by="ids"``); returns how many Brevo removed.

        ``on_removed`` gets each call's ids that are out of the list now: removed, or answered
        as failures (not in the list, or not a contact). A dry run counts them all.
        """
        if self._dry_run:  # taken as removed
            added, removed = self._changes.setdefault(list_id, (set(), set()))
            added.difference_update(ids)
            removed.update(ids)
            on_removed(ids)
            return len(ids)
        count = 0

        def answered(chunk: list[Any], response: httpx.Response) -> None:
            nonlocal count
            taken_out, not_in_list = _answer(response, chunk)
            on_removed(taken_out + not_in_list)
            count += len(taken_out)

        path = f"/contacts/lists/{list_id}/contacts/remove"
        self._take_in_order(self._queue_calls(path, by, ids), answered)
        return count

    def close(self) -> None:
        """No further call starts; the calls and answers under way settle."""
        self._calls.shutdown(wait=True, cancel_futures=True)
        self._takers.shutdown(wait=True, cancel_futures=True)

    def _queue_calls(self, path: str, by: str, ids: list[Any]) -> list[Call]:
        """POST ``ids`` in calls of 150, :data:`CALLS_IN_FLIGHT` workers sending them in order."""
        return [(chunk, self._calls.submit(self._call, path, by, chunk)) for chunk in _chunks(ids)]

    def _call(self, path: str, by: str, chunk: list[Any]) -> httpx.Response:
        """One membership call, unless an earlier one failed: then none leaves."""
        if self._failure is not None:
            raise CallsStopped(f"not sent after an earlier failure: {self._failure}")
        try:
            return self._client.request("POST", path, json={by: chunk}, idempotent=True)
        except Exception as exc:
            self._failure = self._failure or exc
            raise

    def _take_in_order(self, calls: list[Call], answered: Answered) -> None:
        """``answered`` takes each call's answer in call order; the first failure is raised.

        After a failure (a call, or ``answered`` refusing an answer) no further call leaves; the
        calls already made still settle, and those Brevo answered are taken too, so the ledger
        keeps every change Brevo confirmed.
        """
        for index, (chunk, call) in enumerate(calls):
            try:
                answered(chunk, call.result())
            except Exception as exc:
                self._failure = self._failure or exc
                _settle_after_failure(calls[index + 1 :], answered)
                raise

    def plan_joined(self, list_ids: list[int], ext_ids: list[str]) -> None:
        """A dry run's contacts that would join these lists (by a list call or an import)."""
        for list_id in list_ids:
            added, removed = self._changes.setdefault(list_id, (set(), set()))
            added.update(ext_ids)
            removed.difference_update(ext_ids)

    def member_pages(self, list_id: int) -> Iterator[list[ListedMember]]:
        """The list's members page by page, with their ``EXT_ID`` when the listing carries it.

        A dry run reads them as Brevo would hold them after its own changes (its changes, and
        the members it saw, are in memory: a dry run is a plan, not a bulk sync).
        """
        if not self._dry_run:
            yield from self._read_pages(list_id)
            return
        added, removed = self._changes.get(list_id, (set(), set()))
        listed: set[str | None] = set()
        for page in self._read_pages(list_id):
            kept = [m for m in page if m.ext_id not in removed and m.brevo_id not in removed]
            listed.update(m.ext_id for m in kept)
            yield kept
        yield [ListedMember(None, ext_id, True) for ext_id in added if ext_id not in listed]

    def _read_pages(self, list_id: int) -> Iterator[list[ListedMember]]:
        if list_id in self._planned.values():
            return  # a list a dry run would create: Brevo has none yet
        path = f"/contacts/lists/{list_id}/contacts"
        for page in offset_pages(self._client, path, "contacts", limit=MEMBERS_PAGE):
            yield [_listed(contact) for contact in page]


def _listed(contact: dict[str, Any]) -> ListedMember:
    attributes = contact.get("attributes")
    ext_id = (attributes or {}).get("EXT_ID")
    brevo_id = contact.get("id")
    return ListedMember(
        brevo_id=int(brevo_id) if brevo_id is not None else None,
        ext_id=str(ext_id) if ext_id else None,
        attributes_listed=bool(attributes),
    )


def _settle_after_failure(calls: list[Call], answered: Answered) -> None:
    """Stop the calls not sent yet; take the answers of those that were, failures ignored."""
    for _, call in calls:
        call.cancel()
    wait([call for _, call in calls])
    for chunk, call in calls:
        if call.cancelled() or call.exception() is not None:
            continue
        try:
            answered(chunk, call.result())
        except Exception:  # noqa: S112 - the first failure is the one raised
            continue


def _chunks(ids: list[Any]) -> list[list[Any]]:
    return [ids[start : start + LIST_CALL_MAX] for start in range(0, len(ids), LIST_CALL_MAX)]
