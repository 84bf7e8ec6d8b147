"""Engine errors; the API turns them into HTTP answers (404, 409, 422)."""


class EngineError(Exception):
    http_status = 422


class NotFound(EngineError):
    http_status = 404


class Conflict(EngineError):
    """The request is valid but the job or workflow is not in a state that allows it."""

    http_status = 409


class Invalid(EngineError):
    http_status = 422
