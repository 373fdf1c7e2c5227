"""The SDK's standard target tests.

The standard inputs are streams this target does not route to Brevo (``test_camelcase``, ...):
they exercise the Singer protocol handling and must be counted as unrouted, never crash.
"""

from __future__ import annotations

from singer_sdk.testing import get_target_test_class

from target_brevo_tajo.target import TargetBrevoTajo
from tests.conftest import MAPPING_FILE

SAMPLE_CONFIG = {
    "api_key": "xkeysib-standard-tests",
    "base_url": "http://127.0.0.1:9/v3",  # nothing may be sent: no standard stream is routed
    "mapping_file": str(MAPPING_FILE),
    "ledger_url": "sqlite://",
}

TestTargetBrevoTajo = get_target_test_class(
    target_class=TargetBrevoTajo,
    config=SAMPLE_CONFIG,
)
