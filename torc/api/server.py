"""Serving the app with gunicorn.

Why gunicorn: pre-forked worker processes use both cores of a login node for the JSON and SQL
work (the GIL limits one process), its ``gthread`` workers keep many idle long-poll claims open
cheaply, and it shuts down gracefully on SIGTERM (in-flight requests finish). waitress is a single
process and cannot use more than one core.

We bind the listening socket ourselves before gunicorn starts so that ``--port 0`` can print the
port the kernel picked (``TORC_SERVER_PORT=<port>``, the first line on stdout) and hand the socket
to gunicorn as ``fd://``.

Requests that never reach Flask (a malformed request line, oversized headers) are answered by
gunicorn itself; :func:`write_json_error` makes those answers the same JSON as every other error
instead of gunicorn's HTML page.
"""

import json
import socket
import sys

import gunicorn.util
from gunicorn.app.base import BaseApplication

from torc.api.errors import error_payload
from torc.db.connection import describe, open_database


class TorcServer(BaseApplication):
    def __init__(self, database: str, options: dict, lost_worker_check_seconds: float):
        self.database = database
        self.options = options
        self.lost_worker_check_seconds = lost_worker_check_seconds
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from torc.api.app import create_app

        # Each worker process opens its own connections (after the fork).
        database = open_database(self.database, max_connections=self.options["threads"] + 4)
        return create_app(database, lost_worker_check_seconds=self.lost_worker_check_seconds)


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """Replacement for ``gunicorn.util.write_error``: the server's JSON error body, not HTML."""
    body = json.dumps(error_payload(status_int, reason, mesg or reason)).encode("utf-8")
    head = (
        f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    gunicorn.util.write_nonblock(sock, head.encode("latin-1") + body)


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(1024)
    sock.set_inheritable(True)
    return sock


def serve(host: str, port: int, database: str, workers: int, threads: int, log_level: str, access_log: bool, lost_worker_check_seconds: float) -> None:
    # Create or verify the schema once, before forking, so workers never race to create tables.
    open_database(database).close()
    sock = listen(host, port)
    print(f"TORC_SERVER_PORT={sock.getsockname()[1]}", flush=True)
    print(f"torc-server: serving {describe(database)} on http://{host}:{sock.getsockname()[1]}/torc-service/v1", file=sys.stderr, flush=True)
    options = {
        "bind": [f"fd://{sock.fileno()}"],
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        # Long-poll claims hold a request open for up to a minute; never kill a worker for that.
        "timeout": 300,
        "graceful_timeout": 30,
        "keepalive": 75,
        "loglevel": log_level,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "proc_name": "torc-server",
        "control_socket_disable": True,
        # No limit on the request line (gunicorn's default is 4094 bytes, then a 414): list filters
        # and long names make long URLs, and request bodies (100,000-job bulk creations) are not
        # limited either.
        "limit_request_line": 0,
    }
    # gunicorn's own error answers (malformed request line, headers too large) as JSON. The worker
    # processes inherit this when gunicorn forks them.
    gunicorn.util.write_error = write_json_error
    TorcServer(database, options, lost_worker_check_seconds).run()
