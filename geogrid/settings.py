"""Settings in one place: defaults, overridden by ``GEOGRID_`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from geogrid.errors import InvalidInput

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Setting:
    """One documented setting: its default and what it is for."""

    default: str
    help: str


SETTINGS: dict[str, Setting] = {
    "DATABASE_URL": Setting(
        "",
        "SQLAlchemy URL of an existing PostGIS database. Empty: geogrid runs its "
        "own private cluster in DATA_DIR/pg.",
    ),
    "DATA_DIR": Setting(
        str(PROJECT_ROOT / "var"),
        "Folder for the managed database cluster, generated maps and exports.",
    ),
    "SECRET_KEY": Setting(
        "",
        "Flask session secret. Must come from the environment in production; a "
        "random key is made per process when empty.",
    ),
    "TILE_URL": Setting(
        "",
        "Base-map tile URL template, e.g. an intranet tile server. Empty: plain "
        "background, no tiles.",
    ),
    "TILE_CRS": Setting(
        "wgs84",
        "Coordinate system of the base tiles: wgs84 or gcj02 (AMap, Tencent).",
    ),
    "TILE_ATTRIBUTION": Setting("", "Attribution shown for the base tiles."),
    "BANK_NAME": Setting(
        "", "The bank's name, shown before the viewer's title (e.g. 青溪县农商银行)."
    ),
    "LOG_LEVEL": Setting("INFO", "Logging level for the CLI and the server."),
    "SESSION_HOURS": Setting(
        "8", "A viewer session ends this many hours after log-in (1 to 24)."
    ),
    "SESSION_IDLE_MINUTES": Setting(
        "30", "A viewer session ends after this many minutes without a request."
    ),
}


@dataclass(frozen=True)
class Config:
    """Resolved settings for one process."""

    database_url: str = ""
    data_dir: Path = field(default_factory=lambda: PROJECT_ROOT / "var")
    secret_key: str = ""
    tile_url: str = ""
    tile_crs: str = "wgs84"
    tile_attribution: str = ""
    bank_name: str = ""
    log_level: str = "INFO"
    session_hours: str = "8"
    session_idle_minutes: str = "30"

    @property
    def managed_db_dir(self) -> Path:
        """Folder of the private PostGIS cluster."""
        return self.data_dir / "pg"

    def session_limits(self) -> tuple[float, float]:
        """(hours after log-in, idle minutes) a viewer session lasts, checked."""
        limits = []
        for name, raw, low, high in (
            ("SESSION_HOURS", self.session_hours, 0.1, 24.0),
            ("SESSION_IDLE_MINUTES", self.session_idle_minutes, 1.0, 24 * 60.0),
        ):
            try:
                value = float(raw)
            except ValueError:
                value = float("nan")
            if not low <= value <= high:
                raise InvalidInput(
                    f"GEOGRID_{name} must be a number from {low:g} to {high:g}; "
                    f"received {raw!r}. Fix the environment variable.",
                    setting=name,
                )
            limits.append(value)
        return limits[0], limits[1]


def load_config(environ: dict[str, str] | None = None) -> Config:
    """Build the configuration from defaults and ``GEOGRID_*`` variables."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Config):
        key = f.name.upper()
        raw = env.get(f"GEOGRID_{key}", SETTINGS[key].default)
        values[f.name] = Path(raw) if f.name == "data_dir" else raw
    return Config(**values)  # type: ignore[arg-type]
