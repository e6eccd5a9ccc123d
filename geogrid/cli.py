"""The ``geogrid`` command line: database, demo county, imports, exports, server."""

from __future__ import annotations

import logging
import math
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from geogrid.errors import GeogridError
from geogrid.progress import progress_bar
from geogrid.settings import load_config

console = Console(stderr=False)
err_console = Console(stderr=True)

CRS_HELP = "Coordinate system: wgs84, cgcs2000, gcj02, bd09 or EPSG:n."


def _engine(migrate: bool = True) -> Any:
    from geogrid.store.db import connect

    return connect(load_config(), migrate_schema=migrate)


def _progress(title: str) -> Any:
    """The shared progress bar, on this CLI's stderr console."""
    return progress_bar(title, err_console)


class _Group(click.Group):
    """Turns domain errors into one clear line and exit status 2."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except GeogridError as exc:
            err_console.print(f"[red]error:[/red] {exc.message}", highlight=False)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("-v", "--verbose", is_flag=True, help="Log debug details.")
@click.version_option(package_name="geogrid")
def main(verbose: bool) -> None:
    """geogrid: grid marketing management for rural commercial banks."""
    level = "DEBUG" if verbose else load_config().log_level
    logging.basicConfig(
        level=level,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)


# -- db --------------------------------------------------------------------------


@main.group(cls=_Group)
def db() -> None:
    """The database: a managed local PostGIS cluster, or GEOGRID_DATABASE_URL."""


def _cluster() -> Any:
    from geogrid.store.cluster import managed_cluster

    config = load_config()
    if config.database_url:
        raise click.UsageError(
            "GEOGRID_DATABASE_URL is set, so geogrid uses that server and manages "
            "no cluster of its own; unset it to use the managed cluster."
        )
    return managed_cluster(config.managed_db_dir)


@db.command()
def start() -> None:
    """Start the managed PostGIS cluster (creating it on first use) and migrate."""
    cluster = _cluster()
    cluster.start()
    _engine(migrate=True)
    console.print(f"Database running: {cluster.url}")


@db.command()
def stop() -> None:
    """Stop the managed PostGIS cluster."""
    _cluster().stop()
    console.print("Database stopped.")


@db.command()
def status() -> None:
    """Say where the database is and whether it runs."""
    config = load_config()
    if config.database_url:
        from sqlalchemy import text

        from geogrid.store.db import engine_for

        with engine_for(config.database_url).connect() as conn:
            version = conn.execute(text("SELECT postgis_full_version()")).scalar()
        console.print(f"Configured server {config.database_url}: up ({version})")
        return
    cluster = _cluster()
    state = "running" if cluster.is_running() else "stopped"
    console.print(f"Managed cluster in {cluster.pgdata}: {state}")
    if state == "running":
        console.print(f"URL: {cluster.url}")


@db.command()
def migrate() -> None:
    """Apply Alembic migrations to the database."""
    _engine(migrate=True)
    console.print("Schema is up to date.")


@db.command(name="refresh-summaries")
@click.option(
    "--check", is_flag=True, help="Only report households whose figures are stale."
)
def refresh_summaries(check: bool) -> None:
    """Recompute the per-household figures (people, customers, money elsewhere)
    from the people; needed only after other tools wrote to the person table."""
    from geogrid.store.summary import refresh_household_summary, summary_mismatches

    engine = _engine()
    if check:
        with engine.connect() as conn:
            stale = summary_mismatches(conn)
        if stale:
            console.print(
                f"Stale figures on households {', '.join(map(str, stale))}"
                f"{' and more' if len(stale) == 20 else ''}; run "
                "`geogrid db refresh-summaries`."
            )
            sys.exit(1)
        console.print("Every household's figures match its people.")
        return
    with _progress("summaries") as step, engine.begin() as conn:
        step("recomputing", 0.1)
        changed = refresh_household_summary(conn)
    console.print(f"{changed:,} households' figures updated.")


@db.command()
def url() -> None:
    """Print the SQLAlchemy URL of the database (starting the cluster if needed)."""
    from geogrid.store.db import ensure_database

    console.print(ensure_database(load_config()), highlight=False, soft_wrap=True)


# -- demo ------------------------------------------------------------------------


@main.command()
@click.option(
    "--households",
    default=150_000,
    show_default=True,
    type=click.IntRange(min=100),
    help="Number of households in the demo county.",
)
@click.option("--seed", default=7, show_default=True, help="Random seed.")
@click.option(
    "--boundaries-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("data/boundaries"),
    show_default=True,
    help="Where to write the demo boundaries as GeoJSON, Shapefile and GeoPackage.",
)
@click.option(
    "--replace",
    is_flag=True,
    help="Delete the bank's own data when the store holds some (refused without).",
)
def demo(households: int, seed: int, boundaries_dir: Path, replace: bool) -> None:
    """Build the synthetic demo county (replaces what the store holds)."""
    from geogrid.demo.load import build_demo

    engine = _engine()
    with _progress("demo county") as step:
        summary = build_demo(
            engine,
            households=households,
            seed=seed,
            boundaries_dir=boundaries_dir,
            progress=step,
            replace=replace,
        )
    table = Table(title="Demo county 青溪县", show_header=False)
    for key, value in summary.items():
        table.add_row(key, f"{value:,}" if isinstance(value, int) else str(value))
    console.print(table)


# -- import ----------------------------------------------------------------------


@main.group(name="import", cls=_Group)
def import_() -> None:
    """Import boundaries and households; every row is stored or rejected."""


def _print_report(report: Any) -> None:
    for line in report.lines():
        console.print(line, highlight=False, soft_wrap=True)


@import_.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--level",
    required=True,
    type=click.Choice(["county", "town", "village"]),
    help="Administrative level of the features.",
)
@click.option("--crs", required=True, help=CRS_HELP)
@click.option("--code", help="Code for a file holding one unnamed geometry.")
@click.option("--name", help="Name for a file holding one unnamed geometry.")
def boundaries(
    file: Path, level: str, crs: str, code: str | None, name: str | None
) -> None:
    """Import county, town or village polygons (GeoJSON, Shapefile, GeoPackage)."""
    from geogrid.ingest import import_boundaries

    report = import_boundaries(
        _engine(), file, level=level, crs=crs, code=code, name=name, actor="cli"
    )
    _print_report(report)


@import_.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--crs", default="wgs84", show_default=True, help=CRS_HELP)
@click.option("--sheet", help="Worksheet of an XLSX file (default: the first).")
def households(file: Path, crs: str, sheet: str | None) -> None:
    """Import households and their members from CSV (UTF-8 or GBK) or XLSX."""
    from geogrid.ingest import import_households

    with _progress(file.name) as step:
        report = import_households(
            _engine(), file, crs=crs, sheet=sheet, actor="cli", progress=step
        )
    _print_report(report)


@import_.command()
@click.argument("batch", type=int)
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def rejects(batch: int, file: Path) -> None:
    """Write the rejected rows of import BATCH to FILE (.csv or .xlsx) to fix."""
    from geogrid.ingest import rejects_frame

    frame = rejects_frame(_engine(), batch)
    if file.suffix.lower() == ".xlsx":
        frame.to_excel(file, index=False)
    else:
        frame.to_csv(file, index=False, encoding="utf-8-sig")
    console.print(f"Wrote {len(frame):,} rejected rows of import #{batch} to {file}")


@import_.command(name="list")
def list_batches() -> None:
    """List recent imports with their counts."""
    from sqlalchemy import select

    from geogrid.store.models import ImportBatch

    with _engine().connect() as conn:
        rows = conn.execute(
            select(ImportBatch).order_by(ImportBatch.id.desc()).limit(30)
        ).all()
    table = Table("#", "kind", "file", "status", "rows", "stored", "same", "rejected")
    for (b,) in rows:
        table.add_row(
            str(b.id),
            b.kind,
            Path(b.source).name,
            b.status,
            f"{b.rows_total:,}",
            f"{b.rows_stored:,}",
            f"{b.rows_unchanged:,}",
            f"{b.rows_rejected:,}",
        )
    console.print(table)


# -- export ----------------------------------------------------------------------


@main.command()
@click.argument("layer")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--crs", default="wgs84", show_default=True, help=CRS_HELP)
@click.option(
    "--unmasked",
    is_flag=True,
    help="Write full ID and phone numbers (audited). Masked by default.",
)
def export(layer: str, file: Path, crs: str, unmasked: bool) -> None:
    """Export LAYER to FILE; the extension picks the format.

    Layers: county, towns, villages, branches, grids, roads, households, people.
    Formats: .geojson, .gpkg, .shp, .csv, .xlsx.
    """
    from geogrid.export import export_layer

    with _progress(f"export {layer}") as step:
        count = export_layer(
            _engine(),
            layer,
            file,
            crs=crs,
            unmasked=unmasked,
            actor="cli",
            progress=step,
        )
    console.print(f"Wrote {count:,} {layer} to {file} ({crs}).")


# -- serve -----------------------------------------------------------------------


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8750, show_default=True, type=int)
@click.option("--threads", default=8, show_default=True, type=int)
def serve(host: str, port: int, threads: int) -> None:
    """Serve the map viewer with a production WSGI server (waitress)."""
    import waitress

    from web.app import create_app

    _engine()
    app = create_app()
    console.print(f"geogrid viewer on http://{host}:{port}/  (Ctrl+C stops it)")
    waitress.serve(app, host=host, port=port, threads=threads)


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8750, show_default=True, type=int)
@click.option(
    "--households",
    default=150_000,
    show_default=True,
    type=click.IntRange(min=100),
    help="Households of the demo county, when it is built.",
)
@click.option("--rebuild", is_flag=True, help="Rebuild the demo county first.")
@click.pass_context
def up(
    ctx: click.Context, host: str, port: int, households: int, rebuild: bool
) -> None:
    """Start the database, build the demo county if the store is empty, and serve."""
    from sqlalchemy import text

    engine = _engine()
    with engine.connect() as conn:
        counties = conn.execute(
            text("SELECT count(*) FROM admin_unit WHERE level = 'county'")
        ).scalar_one()
    if rebuild or counties == 0:
        ctx.invoke(
            demo, households=households, seed=7, boundaries_dir=Path("data/boundaries")
        )
    ctx.invoke(serve, host=host, port=port, threads=8)


# -- visits ----------------------------------------------------------------------


@main.group(cls=_Group)
def visits() -> None:
    """Visit lists with reasons, and day or week routes along the roads."""


def _visit_filter_options(func: Any) -> Any:
    options = [
        click.option("--grid", "grids", multiple=True, help="Grid code; repeatable."),
        click.option(
            "--status", type=click.Choice(["customer", "potential"]), help="Who."
        ),
        click.option(
            "--not-visited", "not_visited", type=int, help="Not visited in N days."
        ),
        click.option(
            "--lacking",
            type=click.Choice(
                ["deposit", "loan", "mobile_banking", "pos", "payment", "credit_card"]
            ),
            help="Lacking this product.",
        ),
        click.option("--other-bank", is_flag=True, help="With money at other banks."),
        click.option("--label", "labels", multiple=True, help="Label; repeatable."),
        click.option(
            "--campaign",
            type=click.Path(exists=True, dir_okay=False, path_type=Path),
            help="CSV/XLSX whose 户号/household_no column is a campaign list.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _visit_filter(
    grids: tuple[str, ...],
    status: str | None,
    not_visited: int | None,
    lacking: str | None,
    other_bank: bool,
    labels: tuple[str, ...],
    campaign: Path | None,
) -> Any:
    from geogrid.ingest.columns import pick_column
    from geogrid.ingest.readers import read_table
    from geogrid.visits import VisitFilter

    households: tuple[str, ...] = ()
    if campaign is not None:
        table = read_table(campaign)
        column = pick_column(table.columns, ["household_no", "户号", "户编号"])
        if column is None:
            raise click.BadParameter(f"{campaign.name} has no 户号/household_no column")
        households = tuple(table[column])
    return VisitFilter(
        grids=grids,
        status=status,
        not_visited_days=not_visited,
        lacking_product=lacking,
        other_bank=other_bank,
        labels=labels,
        campaign=households,
    )


@visits.command(name="list")
@_visit_filter_options
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path))
def visits_list(output: Path | None, **filters: Any) -> None:
    """List households to visit, each with the reasons it is on the list."""
    from geogrid.export import write_frame
    from geogrid.visits import visit_list

    households = visit_list(_engine(), _visit_filter(**filters))
    columns = ["household_no", "grid", "address", "reason", "priority"]
    for row in households[columns].head(30).itertuples(index=False):
        console.print(" | ".join(map(str, row)), highlight=False, soft_wrap=True)
    console.print(f"{len(households):,} households.")
    if output:
        table = households.drop(columns=["products", "labels", "last_visit", "id"])
        write_frame(table, output)
        console.print(f"Wrote {output}.")


@visits.command(name="plan")
@_visit_filter_options
@click.option(
    "--start", default="branch", show_default=True, help="'branch' or LON,LAT (WGS84)."
)
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="The day.")
@click.option("--max-visits", default=12, show_default=True, type=int)
@click.option(
    "--days",
    default=1,
    show_default=True,
    type=int,
    help="More than 1: spread over this many working days.",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the plan: .gpx, .kml or .xlsx.",
)
@click.option(
    "--crs",
    default="wgs84",
    show_default=True,
    help="Coordinates of the output (gcj02 for AMap navigation).",
)
def visits_plan(
    start: str,
    day: Any,
    max_visits: int,
    days: int,
    output: Path | None,
    crs: str,
    **filters: Any,
) -> None:
    """Plan the route through the visit list: a day, or a week of days."""
    from geogrid.routes import write_route
    from geogrid.visits import plan_day, plan_days, start_point, visit_list

    engine = _engine()
    wanted = _visit_filter(**filters)
    households = visit_list(engine, wanted)
    grid = wanted.grids[0] if wanted.grids else None
    if start == "branch":
        origin = start_point(engine, "branch", grid or households["grid"].iloc[0])
    else:
        lon, lat = (float(x) for x in start.split(","))
        origin = (lon, lat)
    date = day.date() if day else None
    with _progress("route") as step:
        step("solving", 0.2)
        if days > 1:
            plan: Any = plan_days(
                engine,
                households,
                origin,
                first_day=date,
                days=days,
                quota_per_day=max_visits,
            )
            console.print(plan.summary().to_string())
        else:
            plan = plan_day(
                engine, households, origin, date=date, max_visits=max_visits
            )
    if days == 1:
        for stop in plan.stops:
            console.print(
                f"{stop.sequence:>2}. {stop.arrival:%H:%M} {stop.id} "
                f"{stop.stop.label or ''}",
                highlight=False,
            )
        console.print(
            f"{len(plan.stops)} visits, {plan.total_distance_m / 1000:.1f} km, "
            f"{plan.travel_model}; nearest-neighbour order would be "
            f"{plan.baseline.distance_m / 1000:.1f} km."
        )
    console.print(f"{len(plan.unscheduled):,} households not scheduled.")
    if output:
        write_route(plan, output, crs=crs)
        console.print(f"Wrote {output}.")


@visits.command(name="check")
@click.argument("output", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--days", default=30, show_default=True, help="How many days back.")
@click.option("--staff", help="Only the visits of this user name.")
@click.option(
    "--as",
    "username",
    help="See what this user sees (their grids); default: the whole county.",
)
def visits_check(
    output: Path, days: int, staff: str | None, username: str | None
) -> None:
    """Check where recent visits were recorded against the households' locations.

    Writes one row per visit (CSV, XLSX, or points in GeoJSON, GeoPackage,
    Shapefile) with its verdict: on_site, away, no_location or
    household_unlocated; prints the count per member of staff. Audited.
    """
    from geogrid.auth import HEAD_OFFICE, User, user_by_name
    from geogrid.visit_log import write_visit_checks

    engine = _engine()
    user = (
        user_by_name(engine, username)
        if username
        else User(id=0, username="cli", name="cli", role=HEAD_OFFICE, branch_id=None)
    )
    checks, summary = write_visit_checks(engine, user, output, days=days, staff=staff)
    for row in summary.itertuples(index=False):
        away = float(row.away_share)  # type: ignore[arg-type]
        share = "-" if math.isnan(away) else f"{away:.0%}"
        console.print(
            f"{row.staff}: {row.visits} visits, {row.on_site} on site, {row.away} "
            f"away ({share}), {row.no_location} without a location",
            highlight=False,
        )
    console.print(f"Wrote {len(checks):,} visits to {output}.")


# -- users -----------------------------------------------------------------------


@main.group(cls=_Group)
def users() -> None:
    """Viewer users: list them, set a password."""


@users.command(name="list")
@click.option("--role", help="Only this role (head_office, branch_head, ...).")
def users_list(role: str | None) -> None:
    """User names, names, roles and branches (no passwords, no phones)."""
    from sqlalchemy import text

    with _engine().connect() as conn:
        rows = conn.execute(
            text(
                "SELECT s.username, s.name, s.role, b.code FROM staff s "
                "LEFT JOIN branch b ON b.id = s.branch_id "
                "WHERE s.username IS NOT NULL "
                "AND (CAST(:r AS text) IS NULL OR s.role = :r) "
                "ORDER BY s.role, s.username"
            ),
            {"r": role},
        ).all()
    for username, name, user_role, branch in rows:
        console.print(
            f"{username:<16} {user_role:<16} {branch or '-':<5} {name}",
            highlight=False,
        )
    console.print(f"{len(rows):,} users.")


@users.command(name="set-password")
@click.argument("username")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the new password from standard input (for scripts).",
)
def users_set_password(username: str, password_stdin: bool) -> None:
    """Set USERNAME's password (asked twice, not shown); the change is audited."""
    import getpass

    from geogrid.auth import set_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt(
            "New password", hide_input=True, confirmation_prompt=True
        )
    set_password(_engine(), username, password, actor=getpass.getuser())
    console.print(f"Password of {username} changed.")


def _register_subcommands() -> None:
    from geogrid.coverage.cli import coverage
    from geogrid.geocode.cli import geocode
    from geogrid.grids.cli import grids

    main.add_command(grids)
    main.add_command(geocode)
    main.add_command(coverage)


_register_subcommands()

if __name__ == "__main__":
    main()
