"""One progress bar for every command: fed with (step name, fraction done)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn


@contextmanager
def progress_bar(
    title: str, console: Console | None = None
) -> Iterator[Callable[[str, float], None]]:
    """A transient progress bar on stderr; yields ``update(step, done)``."""
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console or Console(stderr=True), transient=True
    ) as bar:
        task = bar.add_task(title, total=1.0)

        def update(step: str, done: float) -> None:
            bar.update(task, completed=done, description=f"{title}: {step}")

        yield update
