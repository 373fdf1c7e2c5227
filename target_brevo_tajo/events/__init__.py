"""Brevo events: the sink, the exactly-once writer, its Brevo calls, calls in doubt settled."""
