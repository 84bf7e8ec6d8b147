"""The ``torc`` command: global options, error handling, and the table of its subcommands.

Adding a command or group is one line in :data:`COMMANDS`: ``"name": "module.path:attribute"``
(a ``click.Command`` or ``click.Group``). Modules are imported only when their command runs (or
for ``torc --help``), so one command's heavy imports do not slow down the others. Errors of every
subcommand become one line on stderr and exit code 1 (see ``torc.cli.errors``).
"""

import importlib
import logging
import sys
import warnings

import click

from torc.cli.context import CliState
from torc.client import DEFAULT_API_URL, TorcConfigError, load_client_settings
from torc.client.config import FORMATS, LOG_LEVELS
from torc.runner import PER_JOB_LOGGER

#: Subcommands of ``torc``: name → "module:attribute". Add yours here.
COMMANDS: dict[str, str] = {
    "workflows": "torc.cli.workflows:workflows",
    "jobs": "torc.cli.jobs:jobs",
    "results": "torc.cli.records:results",
    "events": "torc.cli.records:events",
    "files": "torc.cli.records:files",
    "user-data": "torc.cli.records:user_data",
    "run": "torc.cli.run:run",
    "reports": "torc.cli.reports:reports",
    "plot-resources": "torc.cli.reports:plot_resources",
    "slurm": "torc.cli.slurm:slurm",
    "submit": "torc.cli.submit:submit",
    "submit-slurm": "torc.cli.submit:submit_slurm",
    "hpc": "torc.cli.hpc:hpc",
    "remote": "torc.cli.remote:remote",
}


class TorcGroup(click.Group):
    """A group whose subcommands are imported on demand and whose failures are one line."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None and name in COMMANDS:
            module_name, attribute = COMMANDS[name].split(":")
            command = getattr(importlib.import_module(module_name), attribute)
        return command

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except BrokenPipeError:
            raise  # output piped into e.g. `head`: click exits quietly
        except Exception as exc:
            from torc.cli.errors import as_click_exception  # imports torc.spec: only when needed

            state = ctx.find_object(CliState)
            raise as_click_exception(exc, state.url if state else None) from None


class _CurrentStderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (click's test runner swaps it per call)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == PER_JOB_LOGGER and not logging.getLogger("torc").isEnabledFor(logging.DEBUG):
            return False
        return super().filter(record)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_logging(level: str) -> None:
    """Log records of torc (client retries, ...) to stderr at ``level``; set up once per process."""
    logger = logging.getLogger("torc")
    logger.setLevel(level.upper())
    if not any(isinstance(handler, _CurrentStderrHandler) for handler in logger.handlers):
        handler = _CurrentStderrHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)


def _warning_as_one_line(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings (e.g. a newer server) as ``Warning: ...`` instead of Python's file:line form."""
    click.echo(f"Warning: {message}", err=True)


@click.group(cls=TorcGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--url",
    metavar="URL",
    help=f"URL of the torc server's API, including /torc-service/v1 [env TORC_API_URL; config client.api_url; default {DEFAULT_API_URL}].",
)
@click.option(
    "-f",
    "--format",
    "output_format",
    type=click.Choice(FORMATS),
    help="Output: aligned tables for people, or JSON for scripts [config client.format; default table].",
)
@click.option(
    "--skip-version-check",
    is_flag=True,
    default=None,
    help="Do not compare the server's API version with this client's [env TORC_SKIP_VERSION_CHECK=1; config client.skip_version_check].",
)
@click.option(
    "--retry-seconds",
    type=click.FloatRange(min=0),
    help="How long to keep retrying an unreachable or busy server; 0: no retries [env TORC_RETRY_SECONDS; config client.retry_seconds; default 60].",
)
@click.option(
    "--log-level",
    type=click.Choice(LOG_LEVELS),
    help="Log messages shown on stderr [config client.log_level; default warning].",
)
@click.version_option(package_name="torc")
@click.pass_context
def cli(ctx: click.Context, url, output_format, skip_version_check, retry_seconds, log_level):
    """torc: run workflows of many jobs on HPC systems, coordinated by a torc server.

    Settings come from /etc/torc/config.toml, ~/.config/torc/config.toml, ./torc.toml and
    $TORC_CONFIG ([client] table), then the environment, then these options (see docs/cli.md).
    """
    warnings.showwarning = _warning_as_one_line
    try:
        settings = load_client_settings({
            "api_url": url, "format": output_format, "skip_version_check": skip_version_check,
            "retry_seconds": retry_seconds, "log_level": log_level,
        })
    except TorcConfigError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(settings.log_level)
    state = CliState(
        url=settings.api_url, output_format=settings.format,
        skip_version_check=settings.skip_version_check, retry_seconds=settings.retry_seconds,
    )
    ctx.obj = state
    ctx.call_on_close(state.close)


if __name__ == "__main__":
    cli()
