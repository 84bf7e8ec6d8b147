"""The client layer every part of torc uses to talk to a torc server.

``make_api()`` returns a ``TorcApi``: the generated API classes (``torc.openapi_client``, one per
OpenAPI tag, e.g. ``api.workflows``, ``api.jobs``) on one client that retries what is safe to retry
and checks the server's API version on first use, plus pagination and bulk helpers. Code outside
``torc.api`` talks to the server only through this and the generated client, never raw HTTP.
"""

from torc.client.api import TorcApi, make_api
from torc.client.config import DEFAULT_API_URL, ClientSettings, ConfigWarning, load_client_settings
from torc.client.errors import (
    TorcConfigError,
    TorcConnectionError,
    TorcError,
    TorcVersionError,
    TorcVersionWarning,
    describe_error,
)
from torc.client.transport import NO_RETRIES, REPEATABLE_OPERATIONS, RetryPolicy, TorcApiClient
from torc.openapi_client.exceptions import ApiException

__all__ = [
    "DEFAULT_API_URL",
    "NO_RETRIES",
    "REPEATABLE_OPERATIONS",
    "ApiException",
    "ClientSettings",
    "ConfigWarning",
    "RetryPolicy",
    "TorcApi",
    "TorcApiClient",
    "TorcConfigError",
    "TorcConnectionError",
    "TorcError",
    "TorcVersionError",
    "TorcVersionWarning",
    "describe_error",
    "load_client_settings",
    "make_api",
]
