"""Brevo contacts: the profiles sink, the writer of changed contacts, typed attributes."""
