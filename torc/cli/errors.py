"""Turning any failure of a command into one readable line on stderr and a non-zero exit code.

Users of a CLI should never see a traceback for a bad spec, a server answer or a network problem:
the line says what went wrong and where (file/job/field, the server's message, the URL). Only an
unexpected error (a bug) is labelled as such; ``--log-level debug`` logs its traceback.
"""

import logging

import click
from pydantic import ValidationError

from torc.client import ApiException, TorcConnectionError, TorcError, describe_error
from torc.client.errors import server_message
from torc.remote import RemoteError
from torc.spec import SpecError
from torc.workflow_ops import WorkflowOpsError

logger = logging.getLogger("torc.cli")

#: Exit code of every runtime failure (click itself uses 2 for usage errors).
FAILURE_EXIT_CODE = 1


class CommandFailed(click.ClickException):
    """A failure already described in one line; printed as ``Error: <line>``."""

    exit_code = FAILURE_EXIT_CODE


def describe(exc: BaseException, url: str | None) -> str:
    """One line about ``exc`` for a person at the terminal."""
    if isinstance(exc, (SpecError, WorkflowOpsError, RemoteError)):
        return str(exc)
    if isinstance(exc, ApiException) and exc.status == 404:
        # The server says what is missing ("workflow 7 not found"), which is all a user needs.
        return server_message(exc) or describe_error(exc)
    if isinstance(exc, TorcConnectionError):
        return f"cannot reach the torc server at {url} (check --url or TORC_API_URL): {exc}"
    if isinstance(exc, (ApiException, TorcError, ValidationError)):
        return describe_error(exc)
    if isinstance(exc, OSError):
        return f"{exc.strerror or exc}: {exc.filename}" if exc.filename else str(exc)
    return f"unexpected error ({describe_error(exc)}); rerun with --log-level debug for details"


def as_click_exception(exc: BaseException, url: str | None) -> CommandFailed:
    logger.debug("command failed", exc_info=exc)
    return CommandFailed(describe(exc, url))
