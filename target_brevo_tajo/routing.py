"""Which sink takes a stream with a long-form route: one per Brevo resource a route names."""

from __future__ import annotations

from singer_sdk.sinks import BatchSink

from target_brevo_tajo.companies.routed import RoutedCompaniesSink
from target_brevo_tajo.contacts.routed import RoutedContactsSink
from target_brevo_tajo.events.routed import RoutedEventsSink
from target_brevo_tajo.lists.routed import RoutedListSink

#: The sink of a stream with a long-form route, by the route's ``to``.
ROUTED_SINKS: dict[str, type[BatchSink]] = {
    "events": RoutedEventsSink,
    "contacts": RoutedContactsSink,
    "list": RoutedListSink,
    "companies": RoutedCompaniesSink,
}
