"""``geogrid geocode``: addresses to points from the shell."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from geogrid.settings import load_config

console = Console(soft_wrap=True)


def _engine() -> Any:
    from geogrid.store.db import connect

    return connect(load_config())


@contextmanager
def _bar(title: str) -> Iterator[Any]:
    with Progress(
        "[bold]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(title, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def _print_summary(summary: Any, review: Any) -> None:
    console.print(summary.to_string())
    console.print(f"{len(review):,} addresses to review.")


@click.group(invoke_without_command=False)
def geocode() -> None:
    """Turn addresses into points with the bank's own gazetteer (offline)."""


@geocode.command(name="file")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Result file (.xlsx, .csv, .geojson, .gpkg); default FILE.geocoded.xlsx",
)
@click.option("--column", help="Header of the address column (detected if omitted).")
@click.option("--sheet", help="Worksheet of an XLSX input.")
def geocode_file_cmd(
    file: Path, output: Path | None, column: str | None, sheet: str | None
) -> None:
    """Geocode the addresses of FILE (CSV or XLSX), with a summary and review list."""
    from geogrid.geocode.store import geocode_file

    output = output or file.with_suffix(".geocoded.xlsx")
    with _bar(file.name) as update:
        summary, review = geocode_file(
            _engine(), file, output, column=column, sheet=sheet, progress=update
        )
    _print_summary(summary, review)
    console.print(f"Wrote {output}.")


@geocode.command()
@click.option(
    "--all",
    "all_",
    is_flag=True,
    help="Also re-geocode households placed by earlier runs.",
)
def households(all_: bool) -> None:
    """Geocode households that have an address but no point, and store the points."""
    from geogrid.geocode.store import geocode_households

    with _bar("households") as update:
        summary, review = geocode_households(
            _engine(), only_missing=not all_, progress=update
        )
    _print_summary(summary, review)


@geocode.command()
@click.argument("address")
@click.argument("lon", type=float)
@click.argument("lat", type=float)
@click.option(
    "--crs",
    default="wgs84",
    show_default=True,
    help="Coordinate system of LON LAT (gcj02 for a point picked on AMap).",
)
@click.option("--level", default="door", show_default=True)
@click.option("--actor", default="cli", show_default=True)
def correct(
    address: str, lon: float, lat: float, crs: str, level: str, actor: str
) -> None:
    """Store a manual answer for ADDRESS; it wins over the automatic result."""
    from geogrid.geocode.store import add_correction

    key = add_correction(
        _engine(), address, lon, lat, crs=crs, level=level, actor=actor
    )
    console.print(f"Correction stored for {key}.")


@geocode.command()
@click.argument("address")
def one(address: str) -> None:
    """Geocode a single ADDRESS and print the result."""
    from geogrid.geocode.store import load_geocoder

    result = load_geocoder(_engine()).geocode(address)
    for key, value in result._asdict().items():
        console.print(f"{key}: {value}", highlight=False)
