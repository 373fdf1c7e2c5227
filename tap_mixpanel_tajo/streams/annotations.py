"""The ``annotations`` stream: the project's annotations, read whole (as the peers have it).

Mixpanel's documented Annotations API is an App API (``GET /api/app/projects/{project_id}/
annotations``, service account auth): not the Query API, so it takes nothing from the query
budget. A refusal (no ``project_id``, or credentials the App API does not take, such as the
project API secret) ends this stream with one warning; the other streams carry on.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from singer_sdk import typing as th

from tap_mixpanel_tajo.client import APP_API_REFUSED, MixpanelError, RefusedError
from tap_mixpanel_tajo.streams.base import MixpanelStream

if TYPE_CHECKING:
    from singer_sdk.helpers.types import Context


class AnnotationsStream(MixpanelStream):
    """Every annotation of the project (a full table each run)."""

    # Chosen by name (Meltano's select, or a catalog): a run that selects everything calls
    # only the APIs it always did.
    selected_by_default = False

    name = "annotations"
    primary_keys = ("id",)
    replication_key = None

    schema = th.PropertiesList(
        th.Property("id", th.IntegerType, required=True, description="The annotation's id."),
        th.Property("date", th.StringType, description="The date it marks, as Mixpanel gives it."),
        th.Property("description", th.StringType, description="Its text."),
        th.Property("project_id", th.IntegerType, description="The project."),
        th.Property("user", th.ObjectType(), description="Who created it (id, names)."),
        th.Property("tags", th.ArrayType(th.ObjectType()), description="Its tags."),
    ).to_dict()

    def get_records(self, context: Context | None) -> Iterable[dict[str, Any]]:  # noqa: ARG002
        """List the annotations; a refused App API ends the stream with one warning."""
        client = self.mixpanel_tap.client
        what = "annotations list"
        try:
            url = client.app_url("annotations")
            body = client.request_json("GET", url, what=what, refused=APP_API_REFUSED)
        except RefusedError as exc:
            self.logger.warning(
                "annotations: skipped, %s; the annotations API needs a service account "
                "(service_account_username / service_account_secret) and project_id",
                exc,
            )
            return
        results = body.get("results", body.get("annotations")) if isinstance(body, dict) else body
        if not isinstance(results, list) or not all(isinstance(item, dict) for item in results):
            msg = f"{what}: Mixpanel answered without a list of annotations"
            raise MixpanelError(msg)
        for item in results:
            yield {
                "id": item.get("id"),
                "date": item.get("date"),
                "description": item.get("description"),
                "project_id": item.get("project_id"),
                "user": item.get("user"),
                "tags": item.get("tags") or [],
            }
        self.logger.info("annotations: %d annotations", len(results))
