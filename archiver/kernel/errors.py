"""Errors a user can act on. The CLI prints ``str(error)`` on one line and exits non-zero."""


class ArchiverError(Exception):
    """Something went wrong that the user can fix or retry; the message says what and how."""

    exit_code = 1


class UsageError(ArchiverError):
    """Bad arguments: an unrecognised URL, an unknown site, a bad option value."""

    exit_code = 2


class NotFound(ArchiverError):
    """The post, user, researcher, ... does not exist upstream."""


class FetchError(ArchiverError):
    """The network or the remote API failed after retries, or answered with something unusable."""


class LockedError(ArchiverError):
    """Another archiver run holds the database lock."""

    exit_code = 75


class PartialFailure(ArchiverError):
    """Some parts of a batch failed; the others were done (the message names the failed ones)."""

    exit_code = 3
