"""Flask application factory: pages and JSON API, errors in one JSON shape."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from geogrid.errors import GeogridError
from geogrid.settings import load_config
from geogrid.store.db import connect

log = logging.getLogger(__name__)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides settings (e.g. ENGINE, TESTING)."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    config = load_config()
    app.config.update(
        SECRET_KEY=config.secret_key or secrets.token_hex(32),
        GEOGRID=config,
        MAX_CONTENT_LENGTH=5 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)
    if "ENGINE" not in app.config:
        app.config["ENGINE"] = connect(config)

    from web import views

    app.register_blueprint(views.bp)
    _register_errors(app)
    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(GeogridError)
    def domain_error(exc: GeogridError) -> tuple[Response, int]:
        return jsonify(exc.to_dict()), exc.status

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        body = {
            "error": {
                "code": exc.name.lower().replace(" ", "_"),
                "message": exc.description,
            }
        }
        return jsonify(body), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.error(
            "Unhandled error on %s %s", request.method, request.path, exc_info=exc
        )
        body = {
            "error": {
                "code": "internal_error",
                "message": "The server failed; the error was logged.",
            }
        }
        return jsonify(body), 500
