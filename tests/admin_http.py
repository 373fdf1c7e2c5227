"""One HTTP client for the tests' own calls to the sandbox (its admin API and its stand-ins).

``httpx.get`` and its siblings make a client per call, and each client loads the CA bundle
(about 20 ms of CPU): a test polling the sandbox's call log every 20 ms spent most of its time
there. The client keeps its connections alive (the sandbox speaks HTTP/1.1).
"""

from __future__ import annotations

import httpx

http = httpx.Client(timeout=60)
