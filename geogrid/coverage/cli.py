"""The ``geogrid coverage`` commands: blind spots, penetration, visits, leakage, gaps.

Every command loads the store once, computes the whole coverage report with
the options given and writes the layers it names to OUT, whose extension
picks the format (.geojson, .gpkg, .csv or .xlsx); the parameters are
recorded in the output and the export in the audit log.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from geogrid.errors import GeogridError, InvalidInput
from geogrid.progress import progress_bar

console = Console(stderr=False)
err_console = Console(stderr=True)

AREA_LAYERS = {
    "village": "villages",
    "grid": "grids",
    "town": "towns",
    "branch": "branches",
    "hex": "hexes",
}


class _CoverageGroup(click.Group):
    """Turns domain errors into one clear line and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GeogridError as exc:
            err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
            sys.exit(2)


@click.group(cls=_CoverageGroup)
def coverage() -> None:
    """Coverage and blind spots: where the bank does not reach, and what it is worth.

    Each command writes a report to OUT; the extension picks the format:
    .geojson, .gpkg, .csv or .xlsx. Several layers go to several GeoJSON or
    CSV files (out-<layer>.csv), or into one GeoPackage or workbook.
    """


def _options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options every coverage command shares."""
    options = [
        click.argument("out", type=click.Path(dir_okay=False, path_type=Path)),
        click.option(
            "--days",
            default=180,
            show_default=True,
            type=int,
            help="Households with no visit in this many days count as unvisited.",
        ),
        click.option(
            "--resolution",
            default=8,
            show_default=True,
            type=int,
            help="H3 resolution of the hexagonal layer, 0-15 (8: about 0.74 km²).",
        ),
        click.option(
            "--alpha",
            default=0.05,
            show_default=True,
            type=float,
            help="Significance level of the cold-spot test.",
        ),
        click.option(
            "--permutations",
            default=9999,
            show_default=True,
            type=int,
            help="Permutations of the cold-spot test.",
        ),
        click.option(
            "--seed",
            default=7,
            show_default=True,
            type=int,
            help="Seed of the permutations.",
        ),
        click.option(
            "--fdr/--no-fdr",
            default=True,
            show_default=True,
            help="Control the false discovery rate over all tested areas.",
        ),
        click.option(
            "--min-households",
            default=5,
            show_default=True,
            type=int,
            help="Smaller areas are not tested for cold spots or flagged for leakage.",
        ),
        click.option(
            "--working-age",
            default="18-60",
            show_default=True,
            help="Youngest and oldest working age, as FROM-TO.",
        ),
        click.option(
            "--leakage-share",
            default=0.5,
            show_default=True,
            type=float,
            help="Share of balances elsewhere above which a customer household leaks.",
        ),
        click.option(
            "--unvisited-share",
            default=0.9,
            show_default=True,
            type=float,
            help="Share of unvisited households from which an area is flagged.",
        ),
        click.option(
            "--blind-spot-share",
            default=0.5,
            show_default=True,
            type=float,
            help="Areas below this share of the reference penetration are blind spots.",
        ),
        click.option(
            "--reference-penetration",
            type=float,
            help="Penetration areas are measured against [default: all households'].",
        ),
        click.option(
            "--distance-scale-m",
            default=5000.0,
            show_default=True,
            type=float,
            help="Distance from a branch at which an area's opportunity halves.",
        ),
        click.option(
            "--balance-weight",
            default=0.5,
            show_default=True,
            type=float,
            help="Weight of other-bank balances in the opportunity score, 0-1.",
        ),
        click.option(
            "--rank-by",
            default="village",
            show_default=True,
            type=click.Choice(["village", "hex", "grid"]),
            help="Areas ranked as blind spots.",
        ),
        click.option(
            "--as-of",
            type=click.DateTime(formats=["%Y-%m-%d"]),
            help="Report date, YYYY-MM-DD [default: today].",
        ),
        click.option(
            "--grid",
            "grid_ids",
            multiple=True,
            type=int,
            help="Only this grid (id; repeat for more; a first-level grid stands "
            "for its second-level grids).",
        ),
        click.option("--branch", help="Only the grids of the branch with this code."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _run(layers: list[str], options: dict[str, Any]) -> None:
    """Load, compute, write the layers and audit the export."""
    from geogrid.coverage.inputs import load_inputs
    from geogrid.coverage.output import output_paths, record_export, write_layers
    from geogrid.coverage.params import CoverageParameters
    from geogrid.coverage.report import coverage_report
    from geogrid.settings import load_config
    from geogrid.store.db import connect

    out: Path = options.pop("out")
    grid_ids = list(options.pop("grid_ids")) or None
    branch = options.pop("branch")
    as_of = options.pop("as_of")
    working_age = _working_age(options.pop("working_age"))
    params = CoverageParameters(**options)
    output_paths(out, layers)  # a wrong extension fails before the work

    engine = connect(load_config())
    with _progress("coverage") as step:
        step("loading the store", 0.0)
        inputs = load_inputs(
            engine,
            grid_ids=grid_ids,
            branch=branch,
            as_of=as_of.date() if isinstance(as_of, dt.datetime) else None,
            working_age=working_age,
        )
        report = coverage_report(
            inputs, params, progress=lambda name, done: step(name, 0.3 + 0.6 * done)
        )
        step("writing", 0.92)
        chosen = report.layers(layers)
        paths = write_layers(chosen, out, report.parameters)
        record_export(engine, paths, chosen, report.parameters, actor="cli")

    table = Table("layer", "rows", title=f"Coverage as of {inputs.as_of}")
    for name, gdf in chosen.items():
        table.add_row(name, f"{len(gdf):,}")
    console.print(table)
    for path in paths:
        console.print(f"Wrote {path}", highlight=False, soft_wrap=True)


def _working_age(text: str) -> tuple[int, int]:
    parts = text.split("-")
    try:
        youngest, oldest = (int(p) for p in parts)
    except ValueError:
        raise InvalidInput(
            "Option --working-age must be two whole ages as FROM-TO, such as "
            f"18-60; received {text!r}.",
            parameter="working_age",
            received=text,
        ) from None
    return youngest, oldest


def _progress(title: str) -> Any:
    """The shared progress bar, on this CLI's stderr console."""
    return progress_bar(title, err_console)


# -- commands ------------------------------------------------------------------------


@coverage.command()
@_options
def report(**options: Any) -> None:
    """Write every coverage layer to OUT (best as .gpkg or .xlsx).

    Layers: blind_spots, cold_spots, village_cold_spots, villages, grids,
    towns, branches, hexes, uncovered_households, unvisited_households,
    unvisited_villages, leakage_villages, leaking_households,
    ungridded_areas and ungridded_households.
    """
    from geogrid.coverage.report import LAYERS

    _run(list(LAYERS), options)


@coverage.command(name="blind-spots")
@_options
def blind_spots(**options: Any) -> None:
    """Rank blind-spot areas by opportunity, each with its grid and manager."""
    _run(["blind_spots"], options)


@coverage.command()
@_options
@click.option(
    "--by",
    "unit",
    default="village",
    show_default=True,
    type=click.Choice(list(AREA_LAYERS)),
    help="Areas to add up by.",
)
def penetration(unit: str, **options: Any) -> None:
    """Penetration per area: customer households over households, and working age."""
    _run([AREA_LAYERS[unit]], options)


@coverage.command()
@_options
@click.option(
    "--by",
    "unit",
    default="household",
    show_default=True,
    type=click.Choice(["household", *AREA_LAYERS]),
    help="List households, or count them per area.",
)
def uncovered(unit: str, **options: Any) -> None:
    """Households where nobody is a customer: the list, or counts per area."""
    _run(
        ["uncovered_households" if unit == "household" else AREA_LAYERS[unit]], options
    )


@coverage.command()
@_options
def unvisited(**options: Any) -> None:
    """Households with no visit in --days days, and villages where most are."""
    _run(["unvisited_households", "unvisited_villages"], options)


@coverage.command()
@_options
def ungridded(**options: Any) -> None:
    """Land and households of the county that lie in no second-level grid."""
    _run(["ungridded_areas", "ungridded_households"], options)


@coverage.command(name="cold-spots")
@_options
@click.option(
    "--on",
    "unit",
    default="hex",
    show_default=True,
    type=click.Choice(["hex", "village"]),
    help="Areas tested: H3 cells or villages.",
)
@click.option(
    "--all-areas",
    is_flag=True,
    help="Write every area with its test, not only the cold spots.",
)
def cold_spots(unit: str, all_areas: bool, **options: Any) -> None:
    """Areas whose low penetration is significant given their neighbours (Gi*)."""
    if all_areas:
        layer = AREA_LAYERS[unit]
    else:
        layer = "cold_spots" if unit == "hex" else "village_cold_spots"
    _run([layer], options)


@coverage.command()
@_options
def leakage(**options: Any) -> None:
    """Villages and customer households whose money sits mainly at other banks."""
    _run(["leakage_villages", "leaking_households"], options)
