"""``geogrid grids``: list, check, edit, version and exchange grids from the shell."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import shapely
from rich.console import Console
from rich.table import Table

from geogrid.settings import load_config

console = Console(soft_wrap=True)


def _engine() -> Any:
    from geogrid.store.db import connect

    return connect(load_config())


def _table(frame: Any, title: str | None = None) -> Table:
    table = Table(*[str(c) for c in frame.columns], title=title)
    for row in frame.itertuples(index=False):
        table.add_row(*["" if v is None else str(v) for v in row])
    return table


@click.group()
def grids() -> None:
    """Second-level grids: checks, edits with preview, history, the four fixed."""


@grids.command(name="list")
@click.option("--branch", help="Only this branch's grids (branch code).")
def list_grids(branch: str | None) -> None:
    """List grids with their posts, liaison officers and households."""
    from geogrid.grids.io import grids_frame

    frame = grids_frame(_engine()).drop(columns="geometry")
    if branch:
        frame = frame[frame["branch"] == branch]
    columns = ["code", "name", "level", "branch", "post_a", "post_b", "liaison_n"]
    console.print(_table(frame[[*columns, "households"]]))


@grids.command()
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the violations to a CSV or XLSX file.",
)
def check(output: Path | None) -> None:
    """Verify tiling, one grid per household and the four fixed; list violations.

    Exits with status 1 when any rule is broken.
    """
    from geogrid.grids.check import check_grids

    problems = check_grids(_engine())
    if output:
        if output.suffix.lower() == ".xlsx":
            problems.to_excel(output, index=False)
        else:
            problems.to_csv(output, index=False, encoding="utf-8-sig")
    if problems.empty:
        console.print("All grid rules hold.")
        return
    console.print(f"{len(problems)} violations:")
    for row in problems.itertuples(index=False):
        where = " ".join(str(x) for x in (row.branch, row.grid) if x)
        console.print(
            f"  {row.rule}: {where or 'store'} ({row.count:,}) {row.detail}",
            highlight=False,
        )
    raise SystemExit(1)


@grids.command()
def assign() -> None:
    """Recompute every household's grid by the border rule."""
    from geogrid.grids.assign import reassign_households

    with _engine().begin() as conn:
        changed = reassign_households(conn)
    console.print(f"{changed:,} households changed grid.")


def _show_preview(preview: Any) -> None:
    console.print(
        f"[bold]{preview.operation}[/bold] on "
        f"{', '.join(preview.codes[g] for g in preview.changed)} "
        f"({preview.elapsed_ms:.0f} ms)"
    )
    summary = preview.move_summary()
    if summary.empty:
        console.print("No household changes grid.")
    else:
        console.print(_table(summary, title="households moving"))
    console.print(_table(preview.workload, title="workload before and after"))
    if not preview.posts.empty:
        console.print(_table(preview.posts, title="posts affected"))
    if not preview.targets.empty:
        console.print(_table(preview.targets, title="targets affected"))
    if preview.gap_given_to:
        given = ", ".join(
            f"{preview.codes[g]} {a:,.0f} m²" for g, a in preview.gap_given_to.items()
        )
        console.print(f"Area left by the new shape given to: {given}")
    for warning in preview.warnings:
        console.print(f"[yellow]warning:[/yellow] {warning}")


def _maybe_commit(preview: Any, yes: bool, reason: str | None, actor: str) -> None:
    from geogrid.grids.edit import commit_edit

    _show_preview(preview)
    if not yes and not click.confirm("Commit this edit?", default=False):
        console.print("Nothing was changed.")
        return
    if not reason:
        reason = click.prompt("Reason for the change")
    changeset = commit_edit(_engine(), preview, actor=actor, reason=reason or "")
    console.print(f"Committed (changeset {changeset}).")


_commit_options = [
    click.option("--yes", is_flag=True, help="Commit without asking."),
    click.option("--reason", help="Why the grid changes (asked when missing)."),
    click.option("--actor", default="cli", show_default=True, help="Who edits."),
]


def _with_commit_options(func: Any) -> Any:
    for option in reversed(_commit_options):
        func = option(func)
    return func


@grids.command()
@click.argument("villages", nargs=-1, required=True)
@click.option("--to", "to_grid", required=True, help="Code of the receiving grid.")
@_with_commit_options
def move(
    villages: tuple[str, ...], to_grid: str, yes: bool, reason: str | None, actor: str
) -> None:
    """Move whole VILLAGES (12-digit codes) into another grid, after a preview."""
    from geogrid.grids.edit import preview_move_villages

    preview = preview_move_villages(_engine(), list(villages), to_grid)
    _maybe_commit(preview, yes, reason, actor)


@grids.command()
@click.argument("grid")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--crs",
    default="wgs84",
    show_default=True,
    help="Coordinate system of FILE: wgs84, cgcs2000, gcj02, bd09.",
)
@click.option(
    "--refuse-gaps",
    is_flag=True,
    help="Refuse instead of giving left-over area to a neighbour.",
)
@_with_commit_options
def redraw(
    grid: str,
    file: Path,
    crs: str,
    refuse_gaps: bool,
    yes: bool,
    reason: str | None,
    actor: str,
) -> None:
    """Give GRID the polygon drawn in FILE (GeoJSON), after a preview."""
    from geogrid.crs import convert_geometries, parse_crs
    from geogrid.grids.edit import preview_replace_polygon
    from geogrid.ingest.readers import read_gis_file

    drawn = shapely.union_all(read_gis_file(file).geometry.to_numpy())
    source = parse_crs(crs)
    if source != "wgs84":
        drawn = convert_geometries([drawn], source, "wgs84")[0]
    preview = preview_replace_polygon(
        _engine(), grid, drawn, gap_policy="refuse" if refuse_gaps else "give"
    )
    _maybe_commit(preview, yes, reason, actor)


@grids.command()
@click.argument("grid")
@click.argument("version", type=int)
@_with_commit_options
def rollback(
    grid: str, version: int, yes: bool, reason: str | None, actor: str
) -> None:
    """Restore GRID to the shape it had at VERSION, after a preview."""
    from geogrid.grids.edit import preview_rollback

    preview = preview_rollback(_engine(), grid, version)
    _maybe_commit(preview, yes, reason, actor)


@grids.command()
@click.argument("grid")
def history(grid: str) -> None:
    """List the versions of GRID: who, when, why."""
    from geogrid.grids.edit import history as grid_history

    frame = grid_history(_engine(), grid)
    frame["area_km2"] = frame["area_km2"].round(3)
    console.print(_table(frame.drop(columns="changeset"), title=f"history of {grid}"))


@grids.command()
@click.argument("grid")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def profile(grid: str, as_json: bool) -> None:
    """Show GRID's posts, liaison officers, targets and current figures."""
    from geogrid.grids.fixed import grid_profile

    data = grid_profile(_engine(), grid)
    if as_json:
        console.print_json(json.dumps(data, ensure_ascii=False, default=str))
        return
    console.print(
        f"[bold]{data['code']} {data['name']}[/bold] ({data['branch']['name']})"
    )
    for key, value in data["current"].items():
        console.print(f"  {key}: {value:,.2f}" if isinstance(value, float) else value)
    for post in data["posts"]:
        console.print(f"  post {post['post']}: {post['name']} ({post['username']})")
    console.print(f"  liaison officers: {len(data['liaison'])}")
    for target in data["targets"]:
        console.print(
            f"  target {target['metric']}: {target['current']:,.0f} of "
            f"{target['target']:,.0f}"
        )


@grids.command()
@click.argument("grid")
@click.argument("post", type=click.Choice(["A", "B"]))
@click.argument("username")
@click.option("--actor", default="cli", show_default=True)
def post(grid: str, post: str, username: str, actor: str) -> None:
    """Give the A or B POST of GRID to account manager USERNAME."""
    from geogrid.grids.fixed import set_post

    set_post(_engine(), grid, post, username, actor=actor)
    console.print(f"{username} holds the {post} post of {grid}.")


@grids.command()
@click.argument("grid")
@click.argument("name")
@click.option(
    "--kind",
    type=click.Choice(["village_cadre", "coop_member", "property_manager", "other"]),
    required=True,
)
@click.option("--phone")
@click.option("--village", help="Village code the officer serves.")
@click.option("--actor", default="cli", show_default=True)
def liaison(
    grid: str, name: str, kind: str, phone: str | None, village: str | None, actor: str
) -> None:
    """Attach liaison officer NAME to GRID (two to five per grid)."""
    from geogrid.grids.fixed import add_liaison

    add_liaison(
        _engine(),
        grid,
        name=name,
        kind=kind,
        phone=phone,
        village_code=village,
        actor=actor,
    )
    console.print(f"{name} is a liaison officer of {grid}.")


@grids.command()
@click.argument("grid")
@click.argument(
    "metric",
    type=click.Choice(["deposits", "loans", "mobile_banking", "pos", "payments"]),
)
@click.argument("value", type=float)
@click.option("--year", type=int, help="Default: the current year.")
@click.option("--actor", default="cli", show_default=True)
def target(grid: str, metric: str, value: float, year: int | None, actor: str) -> None:
    """Set GRID's yearly target for METRIC to VALUE (yuan or count)."""
    import datetime as dt

    from geogrid.grids.fixed import set_target

    set_target(
        _engine(), grid, year or dt.date.today().year, metric, value, actor=actor
    )
    console.print(f"Target {metric} of {grid} set to {value:,.0f}.")


@grids.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", required=True, help="wgs84, cgcs2000, gcj02, bd09 or EPSG:n.")
@click.option("--reason", required=True, help="Why the grids are replaced.")
@click.option("--actor", default="cli", show_default=True)
def import_(file: Path, crs: str, reason: str, actor: str) -> None:
    """Import grids drawn elsewhere (GeoJSON, Shapefile, GeoPackage); all or nothing."""
    from geogrid.grids.io import import_grids

    result = import_grids(_engine(), file, crs=crs, actor=actor, reason=reason)
    console.print(
        f"Imported {result['grids']:,} grids; {result['households_moved']:,} "
        "households changed grid."
    )


@grids.command()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default="wgs84", show_default=True)
@click.option("--actor", default="cli", show_default=True)
def export(file: Path, crs: str, actor: str) -> None:
    """Export grids with posts, liaison officers and targets (.geojson .gpkg .xlsx)."""
    from geogrid.grids.io import export_grids

    count = export_grids(_engine(), file, crs=crs, actor=actor)
    console.print(f"Wrote {count:,} grids to {file}.")


def _parse_weights(items: tuple[str, ...]) -> dict[str, float] | None:
    weights: dict[str, float] = {}
    for item in items:
        column, _, value = item.partition("=")
        try:
            weights[column.strip()] = float(value)
        except ValueError as exc:
            raise click.BadParameter(
                f"{item!r}: write COLUMN=WEIGHT, e.g. households=1 or potentials=0.5"
            ) from exc
    return weights or None


@grids.command()
@click.option("--branch", required=True, help="Branch code, e.g. B03.")
@click.option(
    "--managers",
    type=click.IntRange(min=1),
    help="Number of grids (default: the branch's current number).",
)
@click.option(
    "--weight",
    "weights",
    multiple=True,
    help="Workload weight COLUMN=W (households, customers, potentials, "
    "area_km2); repeatable. Default households=1.",
)
@click.option(
    "--lock-grid",
    "lock_grids",
    multiple=True,
    help="Grid code whose villages must not move; repeatable.",
)
@click.option(
    "--lock-village",
    "lock_villages",
    multiple=True,
    help="Village code that must not move; repeatable.",
)
@click.option("--seed", default=0, show_default=True)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the proposed grids (.geojson, .gpkg, .xlsx ...).",
)
@click.option("--adopt", is_flag=True, help="Adopt the proposal (needs --reason).")
@click.option("--reason", help="Why the grids are redesigned.")
@click.option("--actor", default="cli", show_default=True)
def generate(
    branch: str,
    managers: int | None,
    weights: tuple[str, ...],
    lock_grids: tuple[str, ...],
    lock_villages: tuple[str, ...],
    seed: int,
    output: Path | None,
    adopt: bool,
    reason: str | None,
    actor: str,
) -> None:
    """Propose balanced, contiguous grids for a branch from whole villages."""
    from geogrid.export import write_frame
    from geogrid.grids.generate import adopt as adopt_proposal
    from geogrid.grids.generate import propose

    engine = _engine()
    proposal = propose(
        engine,
        branch,
        managers,
        weights=_parse_weights(weights),
        lock_grids=lock_grids,
        lock_villages=lock_villages,
        seed=seed,
    )
    console.print(proposal.report())
    columns = [
        "grid",
        "n_villages",
        "households",
        "ratio_to_mean",
        "polsby_popper",
        "contiguous",
    ]
    table = proposal.grids[[c for c in columns if c in proposal.grids]].copy()
    for column in ("ratio_to_mean", "polsby_popper"):
        table[column] = table[column].round(3)
    console.print(_table(table))
    if output:
        write_frame(proposal.grids, output)
        console.print(f"Wrote the proposal to {output}.")
    if adopt:
        if not reason:
            raise click.UsageError("--adopt needs --reason.")
        changeset = adopt_proposal(engine, branch, proposal, actor=actor, reason=reason)
        console.print(f"Adopted (changeset {changeset}).")
