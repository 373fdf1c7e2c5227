"""The error of a Brevo call a user must act on, shared by the API client and the token fetcher."""


class BrevoError(Exception):
    """An error the user must act on; ``str()`` is one line that says what to do."""
