"""Mixpanel lookup tables: kept in the ledger, used to enrich profiles and events."""
