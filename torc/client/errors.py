"""Errors of the client layer, and one-line descriptions of any error a client call can raise.

HTTP error answers stay the generated client's ``ApiException`` (and subclasses such as
``NotFoundException``): callers catch those by status. The client layer adds errors for what the
generated client cannot know: an incompatible server and a server that stayed unreachable.
"""

import json

from pydantic import ValidationError

from torc.openapi_client.exceptions import ApiException


class TorcError(Exception):
    """Base of the errors raised by ``torc.client`` itself."""


class TorcVersionError(TorcError):
    """The server speaks an HTTP API of another major version than this client."""


class TorcConfigError(TorcError):
    """A configuration file or environment variable has a value the client cannot use."""


class TorcConnectionError(TorcError):
    """The server could not be reached (or the connection broke) and retrying did not help."""


class TorcVersionWarning(UserWarning):
    """The server speaks a newer minor API version: it may offer things this client ignores."""


def server_message(exc: ApiException) -> str | None:
    """The ``message`` of a torc server's JSON error body, if the body is one."""
    try:
        payload = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return None
    if not isinstance(payload, dict):
        return None
    message = payload.get("message") or payload.get("errorMessage")
    return str(message) if message else None


def describe_error(exc: BaseException) -> str:
    """One readable line for a person (CLI output, logs) about a failed client call.

    ``ApiException`` → ``"HTTP 422 Unprocessable Entity: name: Shorter than minimum length 1."``
    using the server's JSON ``message``; errors of this layer → their message; client-side argument
    validation (pydantic) → the first problem.
    """
    if isinstance(exc, ApiException):
        status = f"HTTP {exc.status}" if exc.status else "request failed"
        reason = f" {exc.reason}" if exc.reason and exc.status else ""
        detail = server_message(exc) or (exc.body or "").strip() or (exc.reason if not exc.status else "")
        line = f"{status}{reason}: {detail}" if detail else f"{status}{reason}"
    elif isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "argument"
        extra = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        line = f"invalid {where}: {first.get('msg')}{extra}"
    elif isinstance(exc, TorcError):
        line = str(exc)
    else:
        line = f"{type(exc).__name__}: {exc}"
    return " ".join(line.split())
