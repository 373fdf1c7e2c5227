"""What every sink shares (the base), and the sinks of no Brevo resource: checkpoints, unrouted."""
