"""Typed errors, each carrying a message a person can act on.

Every error ShotDesk shows a user derives from :class:`ShotDeskError`. The message says what
happened; the hint says what to do. Neither may ever contain an API key: adapters build their
messages from provider error bodies and status codes, never from the request they sent.

Hierarchy::

    ShotDeskError
    ├── InvalidSpec            bad URL or option (CLI exit 2)
    ├── CaptureError           the capture failed (CLI exit 3)
    │   ├── InvalidRequest     400/422: the provider refused the options
    │   ├── AuthError          401/403: wrong or missing key
    │   ├── PlanRequired       feature above the plan
    │   ├── QuotaExceeded      no retry until the period resets
    │   ├── RateLimited        retry after ``retry_after`` seconds
    │   ├── ProviderUnavailable 5xx after retries, connection refused
    │   ├── CaptureTimeout
    │   ├── BadResponse        not an image / PDF, undecodable, too large
    │   ├── PageLoadError      the page itself failed: DNS, refused, HTTP error status
    │   ├── SelectorNotFound
    │   ├── FormatLimit        e.g. WebP taller than 16,383 px
    │   ├── EngineCrashed      the local engine process died
    │   └── Unsupported        an option the chosen provider cannot honour
    ├── StorageError           disk full, unwritable folder, corrupt index
    └── SecretStoreError       no usable keyring backend
"""

from __future__ import annotations


class ShotDeskError(Exception):
    """Base class: ``message`` is what happened, ``hint`` what to try next."""

    #: Exit status the CLI uses for this error.
    exit_code = 3

    def __init__(self, message: str, *, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} — {self.hint}" if self.hint else self.message


class InvalidSpec(ShotDeskError):
    """A capture option or URL is invalid; ``field`` names the option."""

    exit_code = 2

    def __init__(self, field: str, message: str, *, hint: str = "") -> None:
        super().__init__(message, hint=hint)
        self.field = field


class CaptureError(ShotDeskError):
    """A capture could not be completed."""

    #: Whether retrying the same request later may succeed.
    transient = False


class InvalidRequest(CaptureError):
    pass


class AuthError(CaptureError):
    def __init__(self, message: str = "The provider rejected the API key", *,
                 hint: str = "check your API key in Settings (or `shotdesk key set`)") -> None:
        super().__init__(message, hint=hint)


class PlanRequired(CaptureError):
    pass


class QuotaExceeded(CaptureError):
    pass


class RateLimited(CaptureError):
    transient = True

    def __init__(self, message: str, *, retry_after: float | None = None, hint: str = "") -> None:
        super().__init__(message, hint=hint or "wait a moment and capture again")
        self.retry_after = retry_after


class ProviderUnavailable(CaptureError):
    transient = True


class CaptureTimeout(CaptureError):
    transient = True


class BadResponse(CaptureError):
    pass


class PageLoadError(CaptureError):
    pass


class SelectorNotFound(CaptureError):
    pass


class FormatLimit(CaptureError):
    pass


class EngineCrashed(CaptureError):
    transient = True


class Unsupported(CaptureError):
    """The provider cannot honour an option; CLI exit 2 like any invalid option."""

    exit_code = 2


class Cancelled(CaptureError):
    def __init__(self, message: str = "Capture cancelled") -> None:
        super().__init__(message)


class StorageError(ShotDeskError):
    pass


class SecretStoreError(ShotDeskError):
    pass
