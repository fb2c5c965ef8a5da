"""Runtime errors.

    TarsError
    ├── BusError               the broker could not be reached or refused an operation
    ├── RequestError
    │   ├── RequestTimeout     no reply within the timeout
    │   └── RequestCancelled   the requester shut down or cancelled
    └── ConfigError            a setting has a bad value (message names the setting)
"""

from __future__ import annotations


class TarsError(Exception):
    """Base of every error the runtime raises."""


class BusError(TarsError):
    """The broker could not be reached or refused an operation."""


class RequestError(TarsError):
    """A request/response exchange did not complete."""


class RequestTimeout(RequestError, TimeoutError):
    """No reply arrived within the timeout."""


class RequestCancelled(RequestError):
    """The request was cancelled (shutdown or explicit cancel)."""


class ConfigError(TarsError):
    """A setting has a bad value; the message names the setting."""
