"""Settings in one place: defaults, overridden by ``GEOGRID_`` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

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
    "LOG_LEVEL": Setting("INFO", "Logging level for the CLI and the server."),
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
    log_level: str = "INFO"

    @property
    def managed_db_dir(self) -> Path:
        """Folder of the private PostGIS cluster."""
        return self.data_dir / "pg"


def load_config(environ: dict[str, str] | None = None) -> Config:
    """Build the configuration from defaults and ``GEOGRID_*`` variables."""
    env = os.environ if environ is None else environ
    values: dict[str, object] = {}
    for f in fields(Config):
        key = f.name.upper()
        raw = env.get(f"GEOGRID_{key}", SETTINGS[key].default)
        values[f.name] = Path(raw) if f.name == "data_dir" else raw
    return Config(**values)  # type: ignore[arg-type]
