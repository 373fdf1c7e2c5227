"""What every sink shares: the run's writers, and poison records turned into rejects.

A record that fails its stream's schema, lacks a key property or carries an unreadable date-time
would make the SDK stop the run at that record, and every rerun would stop at it again. Here it
is rejected with its reason, and the run goes on.
"""

from __future__ import annotations

import abc
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol, cast

import fastjsonschema
from singer_sdk.exceptions import InvalidRecord
from singer_sdk.helpers._typing import get_datelike_property_type
from singer_sdk.helpers.conform import DatetimeErrorTreatmentEnum
from singer_sdk.sinks import BatchSink
from singer_sdk.sinks.core import BaseJSONSchemaValidator

if TYPE_CHECKING:
    from target_brevo_tajo.wiring import Writers

# Where a record carries its schema problem from validation to ``process_record``.
SCHEMA_PROBLEM = "__schema_problem__"


class _WiredTarget(Protocol):
    writers: Writers


class _RejectingValidator(BaseJSONSchemaValidator):
    """Marks an invalid record with its first problem instead of ending the run.

    The schema is compiled once (fastjsonschema: about 20 times faster than the SDK's
    interpreted check, which dominated the target's CPU). A schema it cannot compile is checked
    by the SDK's validator instead.
    """

    def __init__(self, schema: dict[str, Any], fallback: BaseJSONSchemaValidator) -> None:
        super().__init__(schema)
        try:
            # Formats are not checked, as the SDK's own validator does not by default: a
            # date-time the SDK cannot parse becomes null and its writer rejects it.
            self._compiled: Any = fastjsonschema.compile(_without_formats(schema))
        except fastjsonschema.JsonSchemaDefinitionException:
            self._compiled = None
        self._fallback = fallback

    def validate(self, record: dict[str, Any]) -> None:
        """Mark the record with the first schema problem found, if any."""
        try:
            if self._compiled is not None:
                self._compiled(record)
            else:
                self._fallback.validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            record[SCHEMA_PROBLEM] = exc.message
        except InvalidRecord as exc:
            record[SCHEMA_PROBLEM] = exc.error_message


def _without_formats(schema: Any) -> Any:
    """The schema with every ``format`` keyword removed (a property named "format" stays)."""
    if isinstance(schema, dict):
        return {
            key: _without_formats(value)
            for key, value in schema.items()
            if not (key == "format" and isinstance(value, str))
        }
    if isinstance(schema, list):
        return [_without_formats(item) for item in schema]
    return schema


class BrevoSink(BatchSink):
    """A sink that hands its records to the writers the target built for this run."""

    def __init__(self, target: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(target, *args, **kwargs)
        self.writers = cast(_WiredTarget, target).writers

    def get_validator(self) -> BaseJSONSchemaValidator | None:
        """A compiled validator (``validate_records``) that reports instead of raising."""
        fallback = super().get_validator()
        return _RejectingValidator(self.schema, fallback) if fallback is not None else None

    @property
    def datetime_error_treatment(self) -> DatetimeErrorTreatmentEnum:
        """An unreadable date-time becomes null, and the writer rejects what needs one."""
        return DatetimeErrorTreatmentEnum.NULL

    def _parse_timestamps_in_record(
        self, record: dict, schema: dict, treatment: DatetimeErrorTreatmentEnum
    ) -> None:
        """A date-time given as a number (an epoch) is rejected with its reason, never parsed.

        Seconds or milliseconds cannot be told apart for sure, and the SDK's parser would end
        the run on it with a traceback.
        """
        for key in self._datelike_keys:
            value = record.get(key)
            if value is not None and not isinstance(value, str):
                record[SCHEMA_PROBLEM] = (
                    f"{key} is {value!r}, not an RFC 3339 date-time: send it as text such as "
                    "2026-11-20T10:00:00Z"
                )
                record[key] = None
        super()._parse_timestamps_in_record(record, schema, treatment)

    @cached_property
    def _datelike_keys(self) -> list[str]:
        properties = self.schema.get("properties") or {}
        return [key for key, spec in properties.items() if get_datelike_property_type(spec)]

    def preprocess_record(self, record: dict, context: dict) -> dict:  # noqa: ARG002
        """A missing key property becomes null, for the writer to reject with a reason."""
        for key in self.key_properties:
            record.setdefault(key, None)
        return record

    def process_record(self, record: dict, context: dict) -> None:
        """Reject a record that failed its schema; hand the others to :meth:`take`."""
        problem = record.pop(SCHEMA_PROBLEM, None)
        if problem is not None:
            self.count_rejected()
            self.writers.report.reject(self.stream_name, f"schema: {problem}", record)
            return
        self.take(record, context)

    def count_rejected(self) -> None:
        """Count a record its writer never sees (rejected whole), so the report adds up."""

    @abc.abstractmethod
    def take(self, record: dict, context: dict) -> None:
        """Keep one valid record for the batch."""
