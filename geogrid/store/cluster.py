"""A private PostGIS cluster in a project-local folder, run with initdb and pg_ctl.

Used when ``GEOGRID_DATABASE_URL`` is unset, and by the test suite for a
throwaway cluster. It listens on a Unix socket only, never on a TCP port, so it
cannot clash with (or be reached through) another PostgreSQL on the machine.
"""

from __future__ import annotations

import glob
import hashlib
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from geogrid.errors import DatabaseUnavailable

log = logging.getLogger(__name__)

SUPERUSER = "geogrid"
DATABASE = "geogrid"
# longest Unix socket path is 107 bytes; keep well inside it
_MAX_SOCKET_DIR = 80

_SERVER_SETTINGS = {
    "listen_addresses": "''",
    "shared_buffers": "256MB",
    "work_mem": "32MB",
    "maintenance_work_mem": "512MB",
    "max_wal_size": "2GB",
    "synchronous_commit": "off",
    "max_connections": "50",
}


def _pg_bindir() -> Path:
    """Folder of the newest installed PostgreSQL server binaries."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    if on_path:
        return Path(on_path).resolve().parent
    raise DatabaseUnavailable(
        "PostgreSQL server binaries (pg_ctl, initdb) were not found. Install them "
        "with 'sudo apt-get install postgresql postgis', or set "
        "GEOGRID_DATABASE_URL to an existing PostGIS database."
    )


def _runs_as_root() -> bool:
    return os.geteuid() == 0


def _server_user() -> str | None:
    """The account to run the server as (PostgreSQL refuses to run as root)."""
    if not _runs_as_root():
        return None
    try:
        pwd.getpwnam("postgres")
    except KeyError as exc:
        raise DatabaseUnavailable(
            "geogrid runs as root, and PostgreSQL refuses to; no 'postgres' account "
            "exists to run it as. Install the 'postgresql' Debian package, which "
            "creates it, or run geogrid as an ordinary user."
        ) from exc
    return "postgres"


def _make_server_dir(path: Path) -> None:
    path.mkdir(parents=True, exist_ok=True)
    user = _server_user()
    if user:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def _server_can_write(path: Path) -> bool:
    user = _server_user()
    if not user:
        return True
    probe = ["runuser", "-u", user, "--", "test", "-w", str(path)]
    return subprocess.run(probe, check=False).returncode == 0


def managed_cluster(data_dir: Path) -> Cluster:
    """The cluster in ``data_dir``, or under /var/lib/geogrid if that is private.

    PostgreSQL refuses to run as root; as root geogrid runs it as 'postgres',
    which cannot enter a project cloned under a private folder such as /root.
    """
    cluster = Cluster(data_dir)
    if cluster.is_initialised() or not _server_user():
        return cluster
    _make_server_dir(data_dir)
    if _server_can_write(data_dir):
        return cluster
    digest = hashlib.sha1(str(data_dir.resolve()).encode()).hexdigest()[:10]
    fallback = Path("/var/lib/geogrid") / digest
    log.warning(
        "The postgres account cannot reach %s; keeping the database in %s instead",
        data_dir,
        fallback,
    )
    return Cluster(fallback)


@dataclass(frozen=True)
class Cluster:
    """A managed cluster: its data folder and the folder holding its socket."""

    data_dir: Path

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "data"

    @property
    def socket_dir(self) -> Path:
        candidate = self.data_dir / "run"
        if len(str(candidate)) <= _MAX_SOCKET_DIR:
            return candidate
        digest = hashlib.sha1(str(self.data_dir).encode()).hexdigest()[:10]
        return Path(tempfile.gettempdir()) / f"geogrid-{digest}"

    @property
    def logfile(self) -> Path:
        return self.data_dir / "server.log"

    @property
    def url(self) -> str:
        """SQLAlchemy URL reaching the cluster over its socket."""
        return f"postgresql+psycopg://{SUPERUSER}@/{DATABASE}?host={self.socket_dir}"

    def url_for(self, database: str) -> str:
        """URL of another database in the same cluster."""
        return f"postgresql+psycopg://{SUPERUSER}@/{database}?host={self.socket_dir}"

    # -- commands --------------------------------------------------------------

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        user = _server_user()
        cmd = [str(_pg_bindir() / args[0]), *args[1:]]
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    def _prepare_dirs(self) -> None:
        for d in (self.data_dir, self.socket_dir):
            _make_server_dir(d)
        if not _server_can_write(self.data_dir):
            raise DatabaseUnavailable(
                f"The database folder {self.data_dir} is not reachable by the "
                "'postgres' account that runs PostgreSQL (a parent folder is "
                "private, as /root is). Set GEOGRID_DATA_DIR to a folder it can "
                "reach, e.g. /var/lib/geogrid."
            )

    def is_initialised(self) -> bool:
        return (self.pgdata / "PG_VERSION").exists()

    def is_running(self) -> bool:
        if not self.is_initialised():
            return False
        return self._run("pg_ctl", "status", "-D", str(self.pgdata)).returncode == 0

    def init(self) -> None:
        """Create the cluster folder with initdb (trust auth on the socket only)."""
        self._prepare_dirs()
        result = self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        if result.returncode != 0:
            raise DatabaseUnavailable(
                f"initdb failed for {self.pgdata}: {result.stderr.strip()}"
            )
        conf = self.pgdata / "postgresql.conf"
        extra = "".join(f"{k} = {v}\n" for k, v in _SERVER_SETTINGS.items())
        extra += f"unix_socket_directories = '{self.socket_dir}'\n"
        with conf.open("a") as fh:
            fh.write("\n# geogrid managed cluster\n" + extra)
        log.info("Initialised PostGIS cluster in %s", self.pgdata)

    def start(self, extra_options: str = "") -> None:
        """Start the server (initialising it first if needed) and create the db."""
        if not self.is_initialised():
            self.init()
        self._prepare_dirs()
        if self.is_running():
            return
        opts = f"-c unix_socket_directories={self.socket_dir} {extra_options}"
        result = self._run(
            "pg_ctl",
            "start",
            "-w",
            "-t",
            "60",
            "-D",
            str(self.pgdata),
            "-l",
            str(self.logfile),
            "-o",
            opts.strip(),
        )
        if result.returncode != 0:
            tail = ""
            if self.logfile.exists():
                tail = "\n".join(self.logfile.read_text().splitlines()[-10:])
            raise DatabaseUnavailable(
                f"The managed PostGIS cluster in {self.pgdata} did not start: "
                f"{result.stderr.strip()}\n{tail}"
            )
        self._ensure_database(DATABASE)
        log.info("Started PostGIS cluster in %s", self.pgdata)

    def stop(self) -> None:
        """Stop the server if it runs."""
        if self.is_running():
            self._run("pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.pgdata))
            log.info("Stopped PostGIS cluster in %s", self.pgdata)

    def destroy(self) -> None:
        """Stop the server and remove its folders."""
        self.stop()
        shutil.rmtree(self.data_dir, ignore_errors=True)
        shutil.rmtree(self.socket_dir, ignore_errors=True)

    def _ensure_database(self, name: str) -> None:
        import psycopg

        deadline = time.monotonic() + 30
        while True:
            try:
                conn = psycopg.connect(
                    host=str(self.socket_dir),
                    user=SUPERUSER,
                    dbname="postgres",
                    autocommit=True,
                )
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with conn:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')

    def create_database(self, name: str) -> str:
        """Create a database (if missing) and return its URL."""
        self._ensure_database(name)
        return self.url_for(name)
