"""Villages planted with problems: blind spots, leakage, unvisited villages.

The pockets are chosen here; `people` and `activity` make them show (few
customers, deposits at other banks, no visits).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geogrid.demo._arrays import Bools, Ints, stream
from geogrid.demo.geography import Geography

# how many pockets of how many villages, and how many unvisited villages
BLIND_SPOT_POCKETS = 3
LEAKAGE_POCKETS = 2
VILLAGES_PER_POCKET = 5
UNVISITED_VILLAGES = 6


@dataclass
class Planted:
    """Indices of the villages planted with each problem, in ascending order."""

    blind_spot: Ints
    high: Ints
    leakage: Ints
    unvisited: Ints


def plant_villages(seed: int, geo: Geography) -> Planted:
    """Pockets of blind spots and of leakage, well-served and unvisited villages."""
    rng = stream(seed, "planted")
    villages, towns = geo.villages, geo.towns
    rural_town = np.array([towns.kind[t] != "街道" for t in villages.town])
    seat_distance = np.hypot(*(villages.seed_xy - towns.seat_xy[villages.town]).T)
    eligible = ~villages.is_community & rural_town & (seat_distance > 1500)

    taken = np.zeros(len(eligible), dtype=bool)
    blind = _pockets(rng, geo, eligible, taken, BLIND_SPOT_POCKETS)
    leakage = _pockets(rng, geo, eligible, taken, LEAKAGE_POCKETS)

    # the seat of every town and its closest neighbour are served best
    high = []
    for t in range(len(towns.code)):
        members = np.flatnonzero((villages.town == t) & ~taken)
        nearest = members[np.argsort(seat_distance[members])[:2]]
        high += nearest.tolist()

    # the remotest village of the remotest towns is never visited
    remote = np.full(len(towns.code), -1)
    for t in range(len(towns.code)):
        members = np.flatnonzero((villages.town == t) & eligible & ~taken)
        if len(members):
            remote[t] = members[np.argmax(seat_distance[members])]
    remote = remote[remote >= 0]
    unvisited = remote[np.argsort(-seat_distance[remote])[:UNVISITED_VILLAGES]]
    return Planted(blind, np.array(sorted(high)), leakage, np.sort(unvisited))


def _pockets(
    rng: np.random.Generator,
    geo: Geography,
    eligible: Bools,
    taken: Bools,
    n_pockets: int,
) -> Ints:
    """Contiguous groups of villages grown from centres far from one another."""
    xy = geo.villages.seed_xy
    chosen: list[int] = []
    for _ in range(n_pockets):
        free = np.flatnonzero(eligible & ~taken)
        if np.any(taken):
            gap = np.hypot(*(xy[free, None, :] - xy[None, taken, :]).transpose(2, 0, 1))
            free = free[np.argsort(-gap.min(axis=1))[:5]]
        centre = int(rng.choice(free))
        pocket = _grow_pocket(geo, centre, eligible & ~taken, VILLAGES_PER_POCKET)
        taken[pocket] = True
        chosen += pocket
    return np.array(sorted(chosen), dtype=np.int64)


def _grow_pocket(geo: Geography, centre: int, allowed: Bools, size: int) -> list[int]:
    xy = geo.villages.seed_xy
    pocket = [centre]
    while len(pocket) < size:
        border = {n for v in pocket for n in geo.adjacency[v] if allowed[n]} - set(
            pocket
        )
        if not border:
            break
        options = sorted(border)
        distance = [np.hypot(*(xy[n] - xy[centre])) for n in options]
        pocket.append(options[int(np.argmin(distance))])
    return pocket
