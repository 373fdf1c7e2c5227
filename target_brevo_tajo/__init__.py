"""target-brevo-tajo: Singer to Brevo."""
