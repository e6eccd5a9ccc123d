"""The VROOM problem of a route: jobs and vehicles in, the order of visits out."""

from __future__ import annotations

import datetime as dt
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import vroom

from geogrid.routes.network import TravelMatrix
from geogrid.routes.time_windows import DAY_S, Window

# a travel time standing in for "no path", longer than any working day
_NO_PATH_S = 10 * DAY_S


@dataclass(frozen=True)
class Job:
    position: int
    row: int
    service_s: float
    windows: list[Window]
    priority: int


@dataclass(frozen=True)
class Vehicle:
    window: Window
    max_tasks: int | None


def vroom_routes(
    matrix: TravelMatrix,
    jobs: Sequence[Job],
    vehicles: Sequence[Vehicle],
    exploration_level: int,
    time_limit_s: float | None = None,
) -> list[list[int]]:
    """The positions of the stops each vehicle visits, in order."""
    if not jobs:
        return [[] for _ in vehicles]

    # VROOM works in whole seconds; rounding up keeps its routes feasible
    rows = [0, 1, *(job.row for job in jobs)]
    durations = matrix.time_s[np.ix_(rows, rows)]
    durations = np.where(np.isfinite(durations), np.ceil(durations), _NO_PATH_S)
    problem = vroom.Input()
    problem.set_durations_matrix("car", durations.astype(np.int64))
    for k, vehicle in enumerate(vehicles):
        max_tasks = vehicle.max_tasks if vehicle.max_tasks is not None else len(jobs)
        problem.add_vehicle(
            vroom.Vehicle(
                k,
                start=0,
                end=1,
                time_window=vroom.TimeWindow(*vehicle.window),
                max_tasks=max_tasks,
            )
        )
    problem.add_job(
        [
            vroom.Job(
                k,
                location=2 + k,
                default_service=math.ceil(job.service_s),
                priority=job.priority,
                time_windows=[vroom.TimeWindow(s, e) for s, e in job.windows],
            )
            for k, job in enumerate(jobs)
        ]
    )
    solution = problem.solve(
        exploration_level=exploration_level,
        nb_threads=min(2, os.cpu_count() or 1),
        timeout=None if time_limit_s is None else dt.timedelta(seconds=time_limit_s),
    )

    routes = solution.routes
    visits = routes[routes["type"] == "job"]
    return [
        [jobs[int(k)].position for k in visits.loc[visits["vehicle_id"] == v, "id"]]
        for v in range(len(vehicles))
    ]
