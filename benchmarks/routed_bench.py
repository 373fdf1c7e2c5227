"""A stream routed to Brevo events against Brevo's bound (issue 22, goal 5).

The target reads a shop's ``orders`` stream, routed to events by the demo's route
(``mappings/mixpanel-to-brevo.sandbox.yml``), and sends it to the sandbox's Brevo exactly as
``ratios.target_vs_bound`` sends the tap's events: same stalled answer, same calls in flight, the
shipped mapping otherwise. ``bench_pipeline.py`` sets its share of the bound beside theirs.
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import ratios
from ratios import DAYS, MAPPING_FILE
from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage, SchemaMessage

STREAM = "orders"
# The demo's route of its shop orders (docs/routing.md), each order one event, sent once.
ROUTE = """
routes:
  orders:
    to: events
    event: order_completed
    id_field: customer_email
    key: order_id
    time: created_at
    fields: {total: amount, currency: currency}
"""
SCHEMA = {
    "type": "object",
    "properties": {
        "order_id": {"type": "string"},
        "customer_email": {"type": "string"},
        "created_at": {"type": "string", "format": "date-time"},
        "total": {"type": "number"},
        "currency": {"type": "string"},
    },
}
CUSTOMERS = 5000  # distinct buyers the orders cycle through
_CURRENCIES = ("EUR", "USD", "GBP")


def orders_input_file(path: Path, count: int) -> int:
    """SCHEMA and ``count`` order RECORDs over the benchmark's 2 days; returns the rows written."""
    writer = MsgSpecWriter()
    start = datetime(*DAYS[0].timetuple()[:3], tzinfo=timezone.utc)
    step = 2 * 86_400 / max(count, 1)
    extracted = datetime.now(timezone.utc)
    with path.open("wb") as out:
        out.write(writer.format_message(SchemaMessage(STREAM, SCHEMA, key_properties=["order_id"])))
        for index in range(count):
            created = start + timedelta(seconds=int(index * step))
            row = {
                "order_id": f"ORD-{index:09d}",
                "customer_email": f"buyer{index % CUSTOMERS}@example.com",
                "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "total": round(5 + index % 200 * 0.75, 2),
                "currency": _CURRENCIES[index % len(_CURRENCIES)],
            }
            message = RecordMessage(STREAM, row, time_extracted=extracted)
            out.write(writer.format_message(message))
    return count


def routed_vs_bound(count: int, latency: float, in_flight: int) -> ratios.TargetVsBound:
    """``count`` orders routed to events, sent as ``ratios.target_vs_bound`` sends the tap's."""
    with tempfile.TemporaryDirectory(prefix="bench-routed-") as name:
        mapping = Path(name) / "mapping.yml"
        mapping.write_text(MAPPING_FILE.read_text() + ROUTE)
        return ratios.target_vs_bound(
            count, latency, in_flight, write_input=orders_input_file, mapping_file=mapping
        )
