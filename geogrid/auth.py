"""Users of geogrid: who they are, how their password is checked, what role they hold.

Passwords are stored as werkzeug hashes (scrypt). Failed log-ins are counted
per user name and per source address by a `LoginThrottle`; past the limit,
`authenticate` refuses for the rest of the window without checking the
password. Every log-in, successful or not, goes to the audit log (the user
name tried, never the password).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, Row, text
from werkzeug.security import check_password_hash, generate_password_hash

from geogrid import audit
from geogrid.errors import (
    InvalidInput,
    NotAuthenticated,
    NotFound,
    TooManyAttempts,
)

log = logging.getLogger(__name__)

HEAD_OFFICE = "head_office"
BRANCH_HEAD = "branch_head"
ACCOUNT_MANAGER = "account_manager"
PLANNER = "planner"

MIN_PASSWORD_LENGTH = 8

# compared against when the user name is unknown, so both cases take as long
_DUMMY_HASH = generate_password_hash("geogrid-no-such-user")


@dataclass(frozen=True)
class User:
    """A logged-in member of staff.

    Attributes
    ----------
    id
        ``staff.id``.
    username
        Log-in name (``ho_01``, ``am_b01_01`` ...).
    name
        Display name.
    role
        head_office, branch_head, account_manager or planner.
    branch_id
        The branch of a branch head or account manager; None for head office
        and planners.
    """

    id: int
    username: str
    name: str
    role: str
    branch_id: int | None

    @property
    def edits_grids(self) -> bool:
        """Head office and branch heads may change grids; the others only look."""
        return self.role in (HEAD_OFFICE, BRANCH_HEAD)

    @property
    def sees_people(self) -> bool:
        """Planners see no personal details: no names, ID or phone numbers."""
        return self.role != PLANNER


_USER_SQL = (
    "SELECT id, username, name, role, branch_id, password_hash FROM staff "
    "WHERE {where} AND active"
)


def _user(row: Row[Any]) -> User:
    branch_id = row.branch_id
    return User(
        id=int(row.id),
        username=str(row.username),
        name=str(row.name),
        role=str(row.role),
        branch_id=None if branch_id is None else int(branch_id),
    )


def load_user(engine: Engine, user_id: int) -> User | None:
    """The active member of staff with this id, or None."""
    with engine.connect() as conn:
        row = conn.execute(
            text(_USER_SQL.format(where="id = :id")), {"id": user_id}
        ).first()
    return None if row is None else _user(row)


def user_by_name(engine: Engine, username: str) -> User:
    """The active member of staff with this user name.

    Raises NotFound (naming the command that lists them) when there is none.
    """
    with engine.connect() as conn:
        row = conn.execute(
            text(_USER_SQL.format(where="username = :u")), {"u": username}
        ).first()
    if row is None:
        raise NotFound(
            f"No active member of staff is called {username!r}; "
            "`geogrid users list` shows who there is."
        )
    return _user(row)


class LoginThrottle:
    """Counts failed log-ins per key in a sliding window (thread-safe, in memory).

    Parameters
    ----------
    max_failures
        Failures allowed per user name within ``window_s``.
    max_failures_per_source
        Failures allowed per source address (several users may share one
        address behind a proxy, so this limit is higher).
    window_s
        Length of the window, in seconds.
    clock
        Returns the current time in seconds; tests pass their own.
    """

    def __init__(
        self,
        max_failures: int = 5,
        max_failures_per_source: int = 20,
        window_s: float = 900.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_failures_per_source = max_failures_per_source
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window_s:
            times.popleft()
        return times

    def check(self, username: str, source: str) -> None:
        """Raise `TooManyAttempts` when either key used up its failures."""
        now = self.clock()
        limits = (
            (f"user:{username.lower()}", self.max_failures, "user name"),
            (f"source:{source}", self.max_failures_per_source, "address"),
        )
        with self._lock:
            for key, limit, what in limits:
                times = self._recent(key, now)
                if len(times) >= limit:
                    wait_s = max(1, int(self.window_s - (now - times[0])) + 1)
                    raise TooManyAttempts(
                        f"Too many failed log-ins for this {what} ({len(times)} in "
                        f"{self.window_s / 60:.0f} minutes); wait {wait_s // 60 + 1} "
                        "minutes and try again, or ask head office to reset the "
                        "password.",
                        retry_after_s=wait_s,
                    )

    def failed(self, username: str, source: str) -> None:
        """Count one failed log-in."""
        now = self.clock()
        with self._lock:
            for key in (f"user:{username.lower()}", f"source:{source}"):
                self._recent(key, now).append(now)

    def succeeded(self, username: str) -> None:
        """Forget the user name's failures after a successful log-in."""
        with self._lock:
            self._failures.pop(f"user:{username.lower()}", None)


def authenticate(
    engine: Engine,
    username: str,
    password: str,
    *,
    throttle: LoginThrottle | None = None,
    source: str = "",
) -> User:
    """The user with this user name and password; raise when they do not match.

    Raises
    ------
    TooManyAttempts
        When the throttle counted too many failures for the name or address.
    NotAuthenticated
        When the user name is unknown or inactive, or the password is wrong
        (one message for all three, so names cannot be probed).
    """
    username = (username or "").strip()
    if throttle is not None:
        throttle.check(username, source)

    with engine.connect() as conn:
        row = conn.execute(
            text(_USER_SQL.format(where="username = :u")), {"u": username}
        ).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    matches = check_password_hash(stored, password or "") and row is not None

    with engine.begin() as conn:
        audit.record(
            conn,
            "login" if matches else "login_failed",
            actor=username[:50] or None,
            object_type="staff",
            source=source,
        )
    if not matches or row is None:
        if throttle is not None:
            throttle.failed(username, source)
        log.info("Refused a log-in (wrong user name or password)")
        raise NotAuthenticated(
            "The user name or password is wrong. Check both (passwords are "
            "case-sensitive) and try again."
        )
    if throttle is not None:
        throttle.succeeded(username)
    return _user(row)


def demo_password_works(engine: Engine, username: str = "ho_01") -> bool:
    """True when ``username`` logs in with the demo county's published password.

    The log-in page then lists the demo users; a real bank's store, where no
    one has that password, never shows them.
    """
    from geogrid.demo.load import DEMO_PASSWORD

    with engine.connect() as conn:
        stored = conn.execute(
            text("SELECT password_hash FROM staff WHERE username = :u AND active"),
            {"u": username},
        ).scalar()
    return isinstance(stored, str) and check_password_hash(stored, DEMO_PASSWORD)


def set_password(engine: Engine, username: str, password: str, *, actor: str) -> None:
    """Store a new password hash for ``username``; the change is audited."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"A password needs at least {MIN_PASSWORD_LENGTH} characters; the one "
            f"given has {len(password)}. Choose a longer one."
        )
    with engine.begin() as conn:
        updated = conn.execute(
            text("UPDATE staff SET password_hash = :h WHERE username = :u"),
            {"h": generate_password_hash(password), "u": username},
        ).rowcount
        if not updated:
            raise NotFound(f"No staff member with user name {username!r}.")
        audit.record(
            conn, "set_password", actor=actor, object_type="staff", object_id=username
        )
