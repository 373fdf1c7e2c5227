"""Brevo lists: cohorts mirrored into lists (the cohort sinks, the list writer, the list calls)."""
