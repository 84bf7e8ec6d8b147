"""Every error the server returns is JSON with a human message, never HTML and never a traceback.

The payload keeps upstream torc's ``default_error_response`` fields (``error``, ``errorMessage``,
``errorNum``, ``code``) and adds flask-smorest's ``status``, ``message`` and, for validation
errors, ``errors`` (field name → messages).
"""

import logging
from http import HTTPStatus

import marshmallow as ma
import peewee as pw
from flask_smorest import abort
from werkzeug.exceptions import HTTPException

logger = logging.getLogger(__name__)


class DefaultErrorResponse(ma.Schema):
    """Error payload of every 4xx/5xx answer."""

    code = ma.fields.Integer(metadata={"description": "HTTP status code"})
    status = ma.fields.String(metadata={"description": "HTTP status name"})
    message = ma.fields.String(metadata={"description": "What went wrong, for a person"})
    errors = ma.fields.Dict(metadata={"description": "Field name → list of messages (validation errors)"})
    error = ma.fields.Dict(required=True, metadata={"description": "Upstream-compatible copy: {message, errors}"})
    errorMessage = ma.fields.String(metadata={"description": "Upstream-compatible copy of message"})
    errorNum = ma.fields.Integer(metadata={"description": "Upstream-compatible copy of code"})


def error_payload(code: int, status: str, message: str, errors: dict | None = None) -> dict:
    payload = {
        "code": code,
        "status": status,
        "message": message,
        "error": {"message": message},
        "errorMessage": message,
        "errorNum": code,
    }
    if errors:
        payload["errors"] = errors
        payload["error"]["errors"] = errors
    return payload


def _summarize(errors) -> str:
    """One line out of webargs' nested ``{location: {field: [messages]}}``."""
    parts = []

    def walk(prefix, value):
        if isinstance(value, dict):
            for key, sub in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), sub)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            parts.append(f"{prefix}: {' '.join(value)}")
        elif isinstance(value, list):
            for index, sub in enumerate(value):
                walk(f"{prefix}[{index}]", sub)
        else:
            parts.append(f"{prefix}: {value}")

    walk("", errors)
    return "; ".join(parts)


def handle_http_exception(error: HTTPException):
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message")
    if not message:
        if errors:
            message = "invalid request: " + _summarize(errors)
        else:
            message = error.description or error.name
    headers = dict(data.get("headers") or {})
    if getattr(error, "valid_methods", None):  # 405: say which methods the path has (RFC 9110)
        headers["Allow"] = ", ".join(error.valid_methods)
    return error_payload(error.code, error.name, message, errors), error.code, headers


def handle_unexpected(error: Exception):
    """A bug or an unreachable database: log the traceback, answer 500 JSON (or 503)."""
    if isinstance(error, HTTPException):
        return handle_http_exception(error)
    if isinstance(error, pw.OperationalError) and "locked" in str(error).lower():
        return error_payload(503, "Service Unavailable", f"database busy, retry: {error}"), 503
    if isinstance(error, pw.IntegrityError):
        return error_payload(409, "Conflict", f"conflicts with existing data: {error}"), 409
    logger.exception("unhandled error")
    return error_payload(500, HTTPStatus.INTERNAL_SERVER_ERROR.phrase, f"internal error: {type(error).__name__}: {error}"), 500


def handle_engine_error(error):
    """Engine rules say no: 404 (unknown), 409 (wrong state), 422 (invalid request)."""
    code = error.http_status
    return error_payload(code, HTTPStatus(code).phrase, str(error)), code


def not_found(kind: str, ident) -> None:
    abort(404, message=f"{kind} {ident} not found")


def unprocessable(message: str, field: str | None = None) -> None:
    if field:
        abort(422, message=f"{field}: {message}", errors={"json": {field: [message]}})
    abort(422, message=message)


def conflict(message: str) -> None:
    abort(409, message=message)
