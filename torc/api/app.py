"""The Flask application: blueprints, JSON errors, per-request database connections.

``create_app()`` without a database builds the app for OpenAPI emission only (no connection is
opened, no background thread); the server passes the opened database and the lost-worker sweep
interval.
"""

import re

from apispec.ext.marshmallow import MarshmallowPlugin, resolver as default_resolver
from flask import Flask
from flask_smorest import Api

from torc.api import errors
from torc.api.base import Int32Converter, NoNulStringConverter
from torc.api.resources import ALL_BLUEPRINTS
from torc.api_version import API_VERSION
from torc.db.connection import database_proxy, is_sqlite
from torc.engine import workers
from torc.engine.errors import EngineError


def schema_name(schema) -> str:
    """Component names in upstream's snake_case: ``JobModel`` → ``job_model``."""
    name = default_resolver(schema)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class TorcApi(Api):
    ERROR_SCHEMA = errors.DefaultErrorResponse

    def handle_http_exception(self, error):
        return errors.handle_http_exception(error)


def create_app(database=None, lost_worker_check_seconds: float = 0) -> Flask:
    app = Flask("torc")
    app.url_map.converters.update(int=Int32Converter, string=NoNulStringConverter, default=NoNulStringConverter)
    app.config.update(
        API_TITLE="torc",
        API_VERSION=API_VERSION,
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/torc-service",
        OPENAPI_JSON_PATH="openapi.json",
        JSON_SORT_KEYS=False,
        API_SPEC_OPTIONS={
            "info": {
                "description": "REST API of torc, a workflow orchestrator for HPC users.",
                "license": {"name": "BSD 3-Clause"},
            },
        },
    )
    api = TorcApi(app, spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)})
    for blueprint in ALL_BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_error_handler(EngineError, errors.handle_engine_error)
    app.register_error_handler(Exception, errors.handle_unexpected)

    if database is not None:

        @app.before_request
        def _connect():
            database_proxy.connect(reuse_if_open=True)

        @app.teardown_request
        def _close(_exc):
            # PostgreSQL: hand the connection back to the pool. SQLite: keep this thread's
            # connection open; closing the last connection to a WAL database checkpoints and
            # syncs the file, which made every request cost ~15 ms.
            if not is_sqlite() and not database_proxy.is_closed():
                database_proxy.close()

        workers.start_sweeper(lost_worker_check_seconds)

    app.extensions["torc_api"] = api
    return app
