"""Engage's paging: a session opened by page 0, pages until a short one, one restart.

``POST /api/query/engage`` answers page 0 with a ``session_id``; later pages repeat the query
with that id and ``page=N``. A session can expire mid-query, so a later page that still fails
after the client's retries restarts the whole query from page 0, once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from tap_mixpanel_tajo.http_errors import MixpanelError

if TYPE_CHECKING:
    from tap_mixpanel_tajo.client import MixpanelClient

#: Engage answers pages of this many profiles unless its response says otherwise.
ENGAGE_PAGE_SIZE = 1000


def engage_pages(
    client: MixpanelClient,
    form: dict[str, Any] | None,
    *,
    what: str,
    on_restart: Callable[[], None] | None,
) -> Iterator[dict[str, Any]]:
    """Each response page of one Engage query (see :meth:`MixpanelClient.iter_engage`)."""
    base = {key: value for key, value in (form or {}).items() if value is not None}
    url = client.query_url("engage")
    restarted = False
    while True:
        session = _Session(client, url, base, what)
        try:
            yield from session.pages()
            return
        except MixpanelError as exc:
            if session.page == 0 or restarted:
                raise
            restarted = True
            client.logger.warning(
                "%s page %d failed (%s); restarting the query from page 0 once",
                what,
                session.page,
                exc,
            )
            if on_restart is not None:
                on_restart()


class _Session:
    """One Engage session, and the page it is on (the one that failed, if one does)."""

    def __init__(self, client: MixpanelClient, url: str, base: dict[str, Any], what: str) -> None:
        self.client = client
        self.url = url
        self.base = base
        self.what = what
        self.page = 0

    def pages(self) -> Iterator[dict[str, Any]]:
        """The pages of this session, from page 0 to the first short page."""
        session_id = None
        while True:
            page, what = self.page, self.what
            data = {**self.base, "session_id": session_id, "page": page} if page else self.base
            body = self.client.request_json("POST", self.url, data=data, what=f"{what} page {page}")
            results = body.get("results") if isinstance(body, dict) else None
            if not isinstance(results, list):
                msg = f"{what} page {page}: Mixpanel answered without a results list"
                raise MixpanelError(msg)
            yield body
            page_size = body.get("page_size")
            if not isinstance(page_size, int) or page_size <= 0:
                page_size = ENGAGE_PAGE_SIZE
            session_id = body.get("session_id")
            if len(results) < page_size or not session_id:
                return
            self.page += 1
