"""Run the target as ``python -m target_brevo_tajo``."""

from target_brevo_tajo.target import TargetBrevoTajo

TargetBrevoTajo.cli()
