"""Local, stateful stand-in for the Mixpanel and Brevo APIs (demo, end-to-end tests, benchmarks).

``from mixpanel_brevo_sandbox.server import SandboxServer``; ``SandboxServer().start().url``
serves Mixpanel under ``/mixpanel``, Brevo under ``/brevo/v3`` and the admin API under
``/_sandbox``.
It is a test double: it never replaces the real APIs in documentation.
"""
