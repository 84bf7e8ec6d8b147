"""``torc-server``: run the torc HTTP server."""

import os

import click

from torc.db.connection import DEFAULT_SQLITE_PATH, DatabaseError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli():
    """The torc server: a REST API over the workflow database."""


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all).")
@click.option("-p", "--port", default=8080, show_default=True, type=click.IntRange(0, 65535), help="Port; 0 picks a free one.")
@click.option(
    "-d",
    "--database",
    default=lambda: os.environ.get("TORC_DATABASE_URL", DEFAULT_SQLITE_PATH),
    show_default=f"$TORC_DATABASE_URL or {DEFAULT_SQLITE_PATH}",
    help="SQLite file path or postgresql:// URL.",
)
@click.option("-w", "--workers", default=2, show_default=True, type=click.IntRange(1), help="Worker processes.")
@click.option("-t", "--threads", default=32, show_default=True, type=click.IntRange(1), help="Threads per worker process.")
@click.option("--log-level", default="info", show_default=True, type=click.Choice(["debug", "info", "warning", "error"]))
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request.")
@click.option(
    "--lost-worker-check-seconds",
    default=30.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="How often to look for workers whose lease expired and requeue their jobs (0: never).",
)
def run(host, port, database, workers, threads, log_level, access_log, lost_worker_check_seconds):
    """Serve the API at http://HOST:PORT/torc-service/v1."""
    from torc.api.server import serve

    try:
        serve(host, port, database, workers, threads, log_level, access_log, lost_worker_check_seconds)
    except DatabaseError as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


if __name__ == "__main__":
    cli()
