"""What every stream routed by a long-form route shares: its route, checked against its SCHEMA.

A route naming a field the stream does not declare would reject every record, or silently send
nothing of that field: the run stops when the SCHEMA arrives, before any record is written. A
SCHEMA that says other fields may come (``additionalProperties`` true or a schema, as a JQL stream
without a declared schema sends before its rows show their fields) cannot rule a field out: its
rows are checked one by one instead (a row without the field is a reject naming it).
"""

from __future__ import annotations

from typing import Any

from mixpanel_brevo_mapping import MappingError, Route, route_field_problems
from target_brevo_tajo.sinks.base import BrevoSink


class RoutedSink(BrevoSink):
    """A sink (mixed in before a resource's sink) whose stream has a long-form route."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        route = self.writers.mapping.route_of(self.stream_name)
        if route is None or self.writers.mapping_file is None:  # never, by get_sink_class
            msg = f"stream {self.stream_name!r} has no long-form route"
            raise MappingError(msg)
        if not self.schema.get("additionalProperties"):
            declared = set((self.schema.get("properties") or {}).keys())
            problems = route_field_problems(self.writers.mapping_file, self.stream_name, declared)
            if problems:
                raise MappingError("\n".join(problems))
        self.route: Route = route

    def field_value(self, record: dict[str, Any], field: str) -> Any:
        """A field's value, None when absent, null or blank text (each a missing value)."""
        value = record.get(field)
        if isinstance(value, str) and not value.strip():
            return None
        return value
