"""Flask application factory: log-in, pages, JSON API, errors in one JSON shape."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, Response, jsonify, render_template, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from geogrid.auth import LoginThrottle
from geogrid.errors import GeogridError
from geogrid.settings import Config, load_config
from geogrid.store.db import connect

log = logging.getLogger(__name__)

csrf = CSRFProtect()

DEFAULTS: dict[str, Any] = {
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "geogrid_session",
    # the token lives as long as the session: a map left open stays usable
    "WTF_CSRF_TIME_LIMIT": None,
    "WTF_CSRF_HEADERS": ["X-CSRFToken"],
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_WINDOW_S": 900,
}


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app; ``test_config`` overrides settings (e.g. ENGINE, TESTING)."""
    app = Flask(__name__, static_folder="static", static_url_path="/static")
    config = load_config()
    # a session ends GEOGRID_SESSION_HOURS after log-in (8), or after
    # GEOGRID_SESSION_IDLE_MINUTES without a request (30)
    hours, idle_minutes = config.session_limits()
    app.config.update(
        DEFAULTS,
        SECRET_KEY=config.secret_key or secrets.token_hex(32),
        GEOGRID=config,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=hours),
        SESSION_IDLE_MINUTES=idle_minutes,
    )
    if test_config:
        app.config.update(test_config)
    if "ENGINE" not in app.config:
        app.config["ENGINE"] = connect(config)
    app.config.setdefault(
        "LOGIN_THROTTLE",
        LoginThrottle(
            max_failures=app.config["LOGIN_MAX_FAILURES"],
            window_s=app.config["LOGIN_WINDOW_S"],
        ),
    )
    app.json.ensure_ascii = False  # type: ignore[attr-defined]

    from web import api, auth, i18n, pages, routes

    csrf.init_app(app)
    auth.init_app(app)
    i18n.init_app(app)
    app.register_blueprint(auth.bp)
    csrf.exempt(auth.api_login)
    app.register_blueprint(api.bp)
    app.register_blueprint(routes.bp)
    app.register_blueprint(pages.bp)
    _register_errors(app)
    _add_security_headers(app, app.config["GEOGRID"])
    _log_timing(app)
    return app


def error_body(code: str, message: str, **details: Any) -> dict[str, Any]:
    """The one JSON error shape of the API."""
    return {"error": {"code": code, "message": message, **details}}


def _wants_page() -> bool:
    """A browser opening a page (not the API) gets the error as a page."""
    # best_match, not best: werkzeug orders Chromium's header (which ends in
    # "application/signed-exchange;v=b3;q=0.7") with that type first
    accepted = request.accept_mimetypes.best_match(["application/json", "text/html"])
    return not request.path.startswith("/api/") and accepted == "text/html"


def _error(status: int, body: dict[str, Any]) -> tuple[Response, int]:
    if _wants_page():
        html = render_template(
            "error.html",
            status=status,
            code=body["error"]["code"],
            message=body["error"]["message"],
            user=None,
        )
        return Response(html, mimetype="text/html"), status
    return jsonify(body), status


def _register_errors(app: Flask) -> None:
    @app.errorhandler(GeogridError)
    def domain_error(exc: GeogridError) -> tuple[Response, int]:
        response, status = _error(exc.status, exc.to_dict())
        if "retry_after_s" in exc.details:
            response.headers["Retry-After"] = str(exc.details["retry_after_s"])
        return response, status

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[Response, int]:
        reason = exc.description.rstrip(".")
        message = (
            f"This request was refused: {reason[:1].lower()}{reason[1:]}. Send the "
            "token from the page's csrf-token meta tag (or GET /api/csrf) in the "
            "X-CSRFToken header; reload the page if it was open across a log-in."
        )
        return _error(400, error_body("csrf_failed", message))

    @app.errorhandler(RequestEntityTooLarge)
    def too_large(exc: RequestEntityTooLarge) -> tuple[Response, int]:
        limit_mb = (app.config["MAX_CONTENT_LENGTH"] or 0) / 1024 / 1024
        message = (
            f"The request body is larger than the {limit_mb:.0f} MB the server "
            "accepts; send a smaller file or a simpler shape."
        )
        return _error(413, error_body("body_too_large", message))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        code = (exc.name or "error").lower().replace(" ", "_")
        message = exc.description or exc.name
        if exc.code == 404:
            message = (
                f"No page or API endpoint at {request.path}; GET /api/openapi.json "
                "lists the endpoints."
            )
        elif exc.code == 405:
            message = (
                f"{request.method} is not allowed on {request.path}; GET "
                "/api/openapi.json lists the methods of each endpoint."
            )
        return _error(exc.code or 500, error_body(code, message))

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> tuple[Response, int]:
        log.error(
            "Unhandled error on %s %s", request.method, request.path, exc_info=exc
        )
        message = "The server failed; the error was logged. Try again or tell support."
        return _error(500, error_body("internal_error", message))


def tile_origin(tile_url: str) -> str:
    """The origin base tiles load from, as a CSP source (``{s}`` as a wildcard)."""
    parts = urlsplit(tile_url)
    host = parts.netloc
    if "{" in host and "." in host:  # {s}.tile.osm.org, t{s}.tianditu.gov.cn
        host = "*." + host.split(".", 1)[1]
    return f"{parts.scheme}://{host}" if parts.scheme and host else ""


def _add_security_headers(app: Flask, config: Config) -> None:
    tiles = tile_origin(config.tile_url)
    policy = "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src 'self' data: blob: {tiles}".strip(),
            "connect-src 'self'",
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.path.startswith("/api/"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _log_timing(app: Flask) -> None:
    @app.before_request
    def start_clock() -> None:
        request.environ["geogrid.started"] = time.perf_counter()

    @app.after_request
    def log_slow(response: Response) -> Response:
        started = request.environ.get("geogrid.started")
        if started is not None:
            elapsed_ms = (time.perf_counter() - started) * 1000
            response.headers["Server-Timing"] = f"app;dur={elapsed_ms:.1f}"
            if elapsed_ms > 2000:
                log.warning(
                    "Served %s %s in %.0f ms", request.method, request.path, elapsed_ms
                )
        return response
