"""Log-in and sessions: the log-in page, the JSON log-in, idle and absolute expiry."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import generate_csrf

from geogrid.auth import (
    ACCOUNT_MANAGER,
    PLANNER,
    User,
    authenticate,
    demo_password_works,
    load_user,
)
from geogrid.errors import InvalidInput, NotAuthenticated, TooManyAttempts
from web.i18n import translate

bp = Blueprint("auth", __name__)
login_manager = LoginManager()

F = TypeVar("F", bound=Callable[..., Any])

# refresh the idle clock at most this often, to spare a cookie per request
_SEEN_EVERY_S = 30


class SessionUser(UserMixin):  # type: ignore[misc]
    """Flask-Login's view of a geogrid user."""

    def __init__(self, user: User) -> None:
        self.user = user

    def get_id(self) -> str:
        return str(self.user.id)


def init_app(app: Any) -> None:
    """Attach Flask-Login and the session expiry check to ``app``."""
    login_manager.init_app(app)
    login_manager.session_protection = "basic"

    @login_manager.user_loader
    def load(user_id: str) -> SessionUser | None:
        if not user_id.isdigit():
            return None
        user = load_user(current_app.config["ENGINE"], int(user_id))
        return SessionUser(user) if user else None

    app.before_request(_expire_sessions)


def _expire_sessions() -> None:
    """End a session idle for SESSION_IDLE_MINUTES or older than its lifetime."""
    if "_user_id" not in session:
        return
    now = time.time()
    idle_s = current_app.config["SESSION_IDLE_MINUTES"] * 60
    lifetime_s = current_app.permanent_session_lifetime.total_seconds()
    seen = session.get("seen", now)
    if now - seen > idle_s or now - session.get("login_at", now) > lifetime_s:
        logout_user()
        session.clear()
        g.session_expired = True
        return
    if now - seen > _SEEN_EVERY_S:
        session["seen"] = now


def current() -> User:
    """The logged-in user; raise NotAuthenticated (401) when there is none."""
    if current_user.is_authenticated:
        return cast(SessionUser, current_user).user
    if g.get("session_expired"):
        minutes = current_app.config["SESSION_IDLE_MINUTES"]
        raise NotAuthenticated(
            f"Your session expired (after {minutes} minutes without activity, or "
            "at the end of the working day); log in again at /login."
        )
    raise NotAuthenticated(
        "Log in first: open /login, or POST /api/login with username and password."
    )


def page_login_required(view: F) -> F:
    """For HTML pages: send visitors who are not logged in to the log-in page."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_authenticated:
            expired = "1" if g.get("session_expired") else None
            return redirect(url_for("auth.login", next=request.path, expired=expired))
        return view(*args, **kwargs)

    return cast(F, wrapper)


def landing_path(user: User) -> str:
    """The page each role starts on."""
    if user.role == ACCOUNT_MANAGER:
        return "/nearby"
    if user.role == PLANNER:
        return "/blindspots"
    return "/grids"


def _safe_next(target: str | None, user: User) -> str:
    if target and target.startswith("/") and not target.startswith("//"):
        return target
    return landing_path(user)


def _start_session(user: User) -> None:
    session.clear()
    login_user(SessionUser(user))
    session.permanent = True
    session["login_at"] = session["seen"] = time.time()


def _login(username: str, password: str) -> User:
    return authenticate(
        current_app.config["ENGINE"],
        username,
        password,
        throttle=current_app.config["LOGIN_THROTTLE"],
        source=request.remote_addr or "",
    )


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The log-in form; on success, the page asked for or the role's landing page."""
    lang = g.get("lang", "zh")
    message = None
    status = 200
    if request.args.get("expired"):
        message = translate("login.expired", lang)
    if request.method == "POST":
        try:
            user = _login(
                request.form.get("username", ""), request.form.get("password", "")
            )
        except TooManyAttempts as exc:
            message, status = exc.message, exc.status
        except NotAuthenticated:
            message, status = translate("login.wrong", lang), 401
        else:
            _start_session(user)
            return redirect(_safe_next(request.form.get("next"), user))
    body = render_template(
        "login.html",
        demo_hint=_demo_hint(),
        message=message,
        next=request.values.get("next", ""),
        username=request.form.get("username", ""),
    )
    return body, status


def _demo_hint() -> bool:
    """Whether to list the demo users (checked once every five minutes)."""
    now = time.time()
    checked = current_app.extensions.get("geogrid_demo_hint")
    if checked is None or now - checked[0] > 300:
        checked = (now, demo_password_works(current_app.config["ENGINE"]))
        current_app.extensions["geogrid_demo_hint"] = checked
    return bool(checked[1])


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """End the session and return to the log-in page."""
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))


@bp.post("/api/login")
def api_login() -> ResponseReturnValue:
    """JSON log-in: ``{"username": ..., "password": ...}``.

    Exempt from the CSRF token (a client has none before logging in): it reads
    only ``application/json`` bodies, which a cross-site form cannot send.
    """
    body = request.get_json(silent=True) if request.is_json else None
    if not isinstance(body, dict) or not {"username", "password"} <= body.keys():
        raise InvalidInput(
            'The body must be a JSON object {"username": ..., "password": ...}; '
            "send it with Content-Type: application/json."
        )
    user = _login(str(body["username"]), str(body["password"]))
    _start_session(user)
    return {"user": user_dict(user), "csrf_token": generate_csrf()}


@bp.post("/api/logout")
def api_logout() -> ResponseReturnValue:
    """End the session."""
    current()
    logout_user()
    session.clear()
    return {"logged_out": True}


@bp.get("/api/csrf")
def api_csrf() -> ResponseReturnValue:
    """A CSRF token for the X-CSRFToken header of POST requests."""
    return {"csrf_token": generate_csrf()}


def user_dict(user: User) -> dict[str, Any]:
    """The public view of a user: no password hash, no phone."""
    return {
        "username": user.username,
        "name": user.name,
        "role": user.role,
        "branch_id": user.branch_id,
        "edits_grids": user.edits_grids,
        "sees_people": user.sees_people,
        "landing": landing_path(user),
    }
