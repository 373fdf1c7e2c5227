"""The demo project's lookup tables, kept as the CSV files a user uploads to Mixpanel.

``Plans`` is keyed by the profiles' ``plan`` and downloads through the App API. ``Accounts`` is
keyed by the ``company_id`` group key and its download is refused (403), as Mixpanel refuses
the App API to an account without access: its source, ``lookup_csv/accounts.csv``, is what the
sandbox environment's ``lookup_table_sources`` points at.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CSV_DIR = Path(__file__).resolve().parent / "lookup_csv"


@dataclass
class LookupTable:
    """One lookup table: ``id`` is the documented API's uuid, ``data_group_id`` the App API's."""

    id: str
    name: str
    data_group_id: int
    path: Path
    created_at: str
    refused: bool = False

    def csv_lines(self) -> list[bytes]:
        """The CSV as uploaded, in lines (joined again, they are the file)."""
        return self.path.read_bytes().splitlines(keepends=True)


def demo_tables() -> list[LookupTable]:
    """The demo project's tables, in the order Mixpanel lists them."""
    return [
        LookupTable(
            "6f1c2a4e-2d0b-4c55-9b7e-1d2f3a4b5c6d",
            "Plans",
            4231,
            CSV_DIR / "plans.csv",
            "2025-10-02T08:15:00",
        ),
        LookupTable(
            "55b4fb2b-e8de-466c-930f-8b36640b9b5e",
            "Accounts",
            -8644926364725811123,
            CSV_DIR / "accounts.csv",
            "2025-10-09T14:40:00",
            refused=True,
        ),
    ]
