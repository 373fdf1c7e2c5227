"""Brevo companies: Mixpanel groups as companies, their member links, their ledger store."""
