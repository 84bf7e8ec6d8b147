"""The generated ``ApiClient`` plus retries and a server version check, without editing generated code.

Every generated operation runs ``_<operationId>_serialize`` → ``ApiClient.param_serialize`` →
``ApiClient.call_api`` → ``RESTClientObject.request`` (urllib3). ``TorcApiClient`` overrides the two
``ApiClient`` methods:

* ``param_serialize`` notes which operation is being called (from the generated method's name), so
  the retry decision depends on the operationId (``REPEATABLE_OPERATIONS``), not on the HTTP method;
* ``call_api`` checks the server's API version once, then sends the request in a retry loop.

urllib3's own retries are switched off (``Configuration.retries = False``) so that urllib3 raises
the raw error and this loop alone decides, from the error type, whether the request may already
have reached the server.
"""

import logging
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import urllib3

from torc.api_version import API_VERSION
from torc.client.errors import TorcConnectionError, TorcVersionError, TorcVersionWarning
from torc.openapi_client.api.system_api import SystemApi
from torc.openapi_client import rest
from torc.openapi_client.api_client import ApiClient

logger = logging.getLogger("torc.client")

#: Reads: always safe to send again, even if the connection broke after the request was sent.
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

#: Other operations that are safe to send again after the connection broke mid-request: a second
#: copy changes nothing more than the first did, and its answer is one the caller can take as the
#: answer to a single call. Decided per operation, not per HTTP method, because the method says too
#: little: a repeated ``start_job`` (PUT) is a 409 and a repeated DELETE a 404 once the first copy
#: was applied, and a repeated creation or claim would create or claim twice. Every operation not
#: listed here is retried only when the connection failed before the request went out. Add an
#: operation only after checking its server implementation (``tests/client`` checks the names).
REPEATABLE_OPERATIONS = frozenset({
    # PUT of a whole record: the same body leaves the same record.
    "update_workflow",
    "update_workflow_status",
    "update_job",
    "update_file",
    "update_user_data",
    "update_resource_requirements",
    "update_result",
    "update_event",
    "update_compute_node",
    "update_scheduled_compute_node",
    "update_slurm_scheduler",
    "update_local_scheduler",
    # Absolute states: renew a lease, set the canceled flag, recover lost workers once.
    "heartbeat_compute_node",
    "cancel_workflow",
    "sync_workflow_status",
    "reset_workflow_status",
    "reset_job_status",
    "process_changed_job_inputs",
})

#: The connection was never established, so the server saw nothing: always safe to retry.
NOT_SENT_ERRORS = (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
#: The connection broke or timed out after (part of) the request was sent: the server may have acted.
MAYBE_SENT_ERRORS = (urllib3.exceptions.ProtocolError, urllib3.exceptions.ReadTimeoutError)


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff, bounded in total time.

    A request is retried while the time since its first attempt plus the next delay stays within
    ``total_seconds``; ``RetryPolicy(total_seconds=0)`` disables retries.
    """

    total_seconds: float = 60.0
    initial_delay: float = 0.25
    max_delay: float = 10.0
    factor: float = 2.0

    def delays(self):
        delay = self.initial_delay
        while True:
            yield delay
            delay = min(delay * self.factor, self.max_delay)


NO_RETRIES = RetryPolicy(total_seconds=0)


def parse_version(text: str) -> tuple[int, int]:
    """(major, minor) of ``"0.12.0"`` or ``"v0.12.0"``."""
    match = re.match(r"v?(\d+)\.(\d+)", text or "")
    if not match:
        raise ValueError(f"not a semantic version: {text!r}")
    return int(match[1]), int(match[2])


def check_server_version(server_version: str, url: str, client_version: str = API_VERSION) -> None:
    """Raise ``TorcVersionError`` for another major version; warn if the server's minor is newer.

    Minor versions only add to the contract, so an older server minor is fine for what both know
    and a newer one merely offers more than this client uses.
    """
    hint = "use a torc client that matches the server, or set TORC_SKIP_VERSION_CHECK=1 to try anyway"
    try:
        server, client = parse_version(server_version), parse_version(client_version)
    except ValueError as exc:
        raise TorcVersionError(f"torc server at {url} reports an unreadable API version: {exc}; {hint}") from None
    if server[0] != client[0]:
        raise TorcVersionError(
            f"torc server at {url} speaks HTTP API version {server_version}, this client speaks "
            f"{client_version}: different major versions are incompatible; {hint}"
        )
    if server[1] > client[1]:
        warnings.warn(
            f"torc server at {url} speaks HTTP API version {server_version}, newer than this client's "
            f"{client_version}: it works, but features added since are not available here",
            TorcVersionWarning,
            stacklevel=2,
        )


class StreamedBody:
    """An encoded JSON request body sent in chunks, reporting ``on_progress(bytes_sent, total)``
    if given.

    The generated REST client always encodes a body itself, in one piece; a large body (a spec of
    a million jobs is hundreds of MB), encoded by the caller, is sent this way instead, so a
    terminal can show the upload.
    """

    CHUNK = 256 * 1024

    def __init__(self, data: bytes, on_progress: Callable[[int, int], None] | None = None):
        self.data = data
        self.on_progress = on_progress or (lambda sent, total: None)

    def chunks(self):
        """The body from its start (each attempt of a retried request sends it again)."""
        view, total = memoryview(self.data), len(self.data)
        self.on_progress(0, total)
        for start in range(0, total, self.CHUNK):
            yield view[start:start + self.CHUNK]
            self.on_progress(min(start + self.CHUNK, total), total)


class TorcApiClient(ApiClient):
    """The generated ``ApiClient`` with retries (see module doc) and a version check on first use."""

    def __init__(self, configuration, *, retry: RetryPolicy | None = None, check_version: bool = True):
        configuration.retries = False  # before the REST client (urllib3 pool) is built from it
        super().__init__(configuration)
        self.retry = retry or RetryPolicy()
        self._version_ok = not check_version
        self._version_lock = threading.Lock()
        self._local = threading.local()

    def param_serialize(self, method, resource_path, *args, **kwargs):
        # Generated operations build their request in ``_<operationId>_serialize`` and send it with
        # call_api right after, on the same thread: remember the operationId for that call. Should a
        # future generator name things differently, the operation is unknown and only reads are
        # retried after a broken connection (the safe side).
        caller = sys._getframe(1).f_code.co_name
        self._local.operation = caller.removeprefix("_").removesuffix("_serialize")
        return super().param_serialize(method, resource_path, *args, **kwargs)

    def call_api(self, method, url, header_params=None, body=None, post_params=None, _request_timeout=None):
        operation = getattr(self._local, "operation", None)
        self._local.operation = None
        self._ensure_compatible_server()
        repeatable = method.upper() in READ_METHODS or operation in REPEATABLE_OPERATIONS
        started = time.monotonic()
        delays = self.retry.delays()
        attempt = 1
        while True:
            response = error = None
            try:
                if isinstance(body, StreamedBody):
                    response = self._send_streamed(method, url, header_params, body, _request_timeout)
                else:
                    response = super().call_api(method, url, header_params, body, post_params, _request_timeout)
                response.read()  # inside the loop: a body cut short is a broken connection too
            except NOT_SENT_ERRORS as exc:
                error, retry = exc, True
            except MAYBE_SENT_ERRORS as exc:
                error, retry = exc, repeatable
            else:
                # 503 is the server saying it did not do it (the torc server answers 503 only after
                # rolling back a transaction that met a busy database): safe to repeat for any method.
                if response.status != 503:
                    return response
                retry = True
            delay = next(delays)
            if not retry or time.monotonic() - started + delay > self.retry.total_seconds:
                if response is not None:
                    return response  # the generated code turns it into a ServiceException
                raise TorcConnectionError(self._failure(method, url, operation, error, attempt, repeatable, retry)) from error
            problem = f"HTTP 503: {response.data[:200]!r}" if response is not None else _reason(error)
            logger.warning(
                "torc API %s %s (%s) failed: %s; retry %d in %.2f s", method, url, operation, problem, attempt, delay
            )
            time.sleep(delay)
            attempt += 1

    def _send_streamed(self, method, url, header_params, body: StreamedBody, timeout) -> rest.RESTResponse:
        headers = {**(header_params or {}), "Content-Length": str(len(body.data))}
        answer = self.rest_client.pool_manager.request(
            method, url, body=body.chunks(), headers=headers, preload_content=False, timeout=timeout
        )
        return rest.RESTResponse(answer)

    def _failure(self, method, url, operation, error, attempt, repeatable, retried) -> str:
        if retried:
            why = f"gave up after {attempt} attempts in {self.retry.total_seconds:g} s"
        else:
            why = f"not retried: {operation or method} is not safe to repeat and the request may have reached the server"
        return f"cannot complete {method} {url}: {_reason(error)} ({why})"

    def _ensure_compatible_server(self) -> None:
        """Compare the server's ``GET /version`` with ``API_VERSION``, once per client."""
        if self._version_ok or getattr(self._local, "checking_version", False):
            return
        with self._version_lock:  # other threads wait for the one check
            if self._version_ok:
                return
            self._local.checking_version = True  # the check itself goes through call_api
            try:
                reported = SystemApi(self).get_version().version
            finally:
                self._local.checking_version = False
            check_server_version(reported, self.configuration.host)
            self._version_ok = True


def _reason(error: Exception | None) -> str:
    """The innermost useful text of a urllib3 error (``Connection refused``, ``RemoteDisconnected``)."""
    if error is None:
        return "no answer"
    inner = error.args[-1] if isinstance(error, urllib3.exceptions.ProtocolError) and error.args else None
    if isinstance(inner, BaseException):
        return f"connection broken ({type(inner).__name__}: {inner})"
    text = str(error)
    return text.split(": ", 1)[1] if isinstance(error, urllib3.exceptions.NewConnectionError) and ": " in text else text
