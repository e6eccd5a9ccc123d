"""Locked units: the grid each is held to, and partitions made to respect them."""

from __future__ import annotations

from collections.abc import Mapping

import geopandas as gpd
import numpy as np

from geogrid.grids.design.graph import UnitGraph, grid_pieces


def unit_locks(
    units: gpd.GeoDataFrame, locked: Mapping[str, str], lock_names: list[str]
) -> np.ndarray:
    """Index in ``lock_names`` of the grid each unit is locked to, -1 if free.

    Only whole villages (``part == 0``) can be locked.
    """
    position = {name: i for i, name in enumerate(lock_names)}
    return np.array(
        [
            position[locked[code]] if part == 0 and code in locked else -1
            for code, part in zip(units["village_code"], units["part"], strict=True)
        ]
    )


def force_locks(
    graph: UnitGraph,
    labels: np.ndarray,
    lock: np.ndarray,
    workload: np.ndarray,
    targets: np.ndarray,
) -> np.ndarray:
    """Labels with every locked unit in its grid, grids made whole again.

    Each grid keeps its main piece (the one with most locked units, then most
    workload); the free units of its other pieces join the lightest
    neighbouring grid.
    """
    if (lock < 0).all() or (labels[lock >= 0] == lock[lock >= 0]).all():
        return labels
    labels = labels.copy()
    labels[lock >= 0] = lock[lock >= 0]
    return _reconnect(graph, labels, lock, workload, targets)


def _reconnect(
    graph: UnitGraph,
    labels: np.ndarray,
    lock: np.ndarray,
    workload: np.ndarray,
    targets: np.ndarray,
) -> np.ndarray:
    # keep the main piece of each grid; free units of other pieces are re-homed
    for g in range(len(targets)):
        pieces = grid_pieces(graph, labels, g)
        if len(pieces) <= 1:
            continue
        main = max(pieces, key=lambda p: ((lock[p] == g).sum(), workload[p].sum()))
        for piece in pieces:
            if piece is not main:
                free = piece[lock[piece] < 0]
                labels[free] = -1

    # attach orphans to the lightest neighbouring grid, from the edges inward
    load = np.bincount(labels[labels >= 0], workload[labels >= 0], len(targets))
    orphans = set(np.flatnonzero(labels < 0).tolist())
    while orphans:
        attached = []
        for u in sorted(orphans):
            options = {labels[v] for v in graph.neighbours[u] if labels[v] >= 0}
            if options:
                g = min(options, key=lambda h: load[h] / targets[h])
                labels[u] = g
                load[g] += workload[u]
                attached.append(u)
        orphans -= set(attached)
    return labels
