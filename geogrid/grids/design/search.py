"""Refinement: a local search moving boundary units between neighbouring grids.

No move leaves the grid a unit departs from in pieces. The search minimises
the sum over grids of ``d**2 + OVERLOAD_PENALTY * max(0, |d| -
TARGET_DEVIATION)**2 + COMPACTNESS_WEIGHT * (1 - Polsby-Popper)``, where
``d`` is the grid's ``ratio_to_mean - 1`` and perimeters are tracked exactly
through shared border lengths: a greedy descent, simulated annealing
(seeded), and a last descent from the best state seen. Each start begins
from its own bisection (`geogrid.grids.design.bisection`) and the best refined
start is kept.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from geogrid.grids.design.bisection import initial_partition
from geogrid.grids.design.graph import UnitGraph
from geogrid.grids.design.locks import force_locks

# deviation from the mean grid workload the search treats as acceptable
TARGET_DEVIATION = 0.05

# weight of (1 - Polsby-Popper) against the squared workload deviation
COMPACTNESS_WEIGHT = 0.2

# beyond TARGET_DEVIATION, each squared unit of deviation costs this much more
OVERLOAD_PENALTY = 1000.0

# the search's effort: designs of fewer than START_BUDGET_UNITS / 2 units are
# started several times over, and the best result is kept
MAX_PASSES = 60
ANNEAL_STEPS_PER_UNIT = 100
ANNEAL_MIN_STEPS = 2_000
ANNEAL_MAX_STEPS = 1_500_000
START_BUDGET_UNITS = 640
MAX_STARTS = 16


def best_of_starts(
    graph: UnitGraph,
    workload: np.ndarray,
    xy: np.ndarray,
    targets: np.ndarray,
    lock: np.ndarray,
    rng: np.random.Generator,
    starts: int,
) -> np.ndarray:
    """Labels of the best of ``starts`` refined partitions.

    Each start draws its own bisection (`initial_partition`), puts locked
    units in their grids and refines with the local search; the one of
    lowest cost is kept.
    """
    # every start has its own random stream; the best refined one is kept
    best_labels, best_cost = np.zeros(0, dtype=int), math.inf
    for stream in rng.spawn(starts):
        labels = initial_partition(graph, workload, xy, len(targets), lock, stream)
        labels = force_locks(graph, labels, lock, workload, targets)
        labels, cost = _refine(graph, labels, workload, targets, lock, stream)
        if cost < best_cost:
            best_labels, best_cost = labels, cost
    return best_labels


def _refine(
    graph: UnitGraph,
    labels: np.ndarray,
    workload: np.ndarray,
    targets: np.ndarray,
    lock: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, float]:
    search = _LocalSearch(graph, labels, workload, targets, COMPACTNESS_WEIGHT)
    movable = np.flatnonzero(lock < 0)
    if len(movable) == 0 or len(targets) == 1:
        return labels, sum(search.costs)

    # greedy descent, annealing from there, then descent from the best seen
    search.descend(movable, rng)
    steps = ANNEAL_STEPS_PER_UNIT * len(movable)
    search.anneal(movable, rng, min(max(steps, ANNEAL_MIN_STEPS), ANNEAL_MAX_STEPS))
    search.descend(movable, rng)
    return np.array(search.labels), sum(search.costs)


class _LocalSearch:
    """Grid totals kept up to date while single units change grid.

    The cost of a grid is ``d**2 + OVERLOAD_PENALTY * max(0, |d| - target)**2
    + lam * (1 - Polsby-Popper)`` with ``d = ratio_to_mean - 1``; grid
    perimeters follow from unit perimeters less twice the shared borders.
    """

    def __init__(
        self,
        graph: UnitGraph,
        labels: np.ndarray,
        workload: np.ndarray,
        targets: np.ndarray,
        compactness_weight: float,
    ) -> None:
        self.graph = graph
        self.labels: list[int] = labels.tolist()
        self.work: list[float] = workload.tolist()
        self.targets: list[float] = targets.tolist()
        self.lam = compactness_weight
        k = len(targets)
        self.load = [0.0] * k
        self.area = [0.0] * k
        self.perimeter = [0.0] * k
        self.size = [0] * k
        for u, g in enumerate(self.labels):
            self.load[g] += self.work[u]
            self.area[g] += graph.area_m2[u]
            self.perimeter[g] += graph.perimeter_m[u]
            self.size[g] += 1
            for v, s in zip(graph.neighbours[u], graph.shared_m[u], strict=True):
                if self.labels[v] == g:
                    self.perimeter[g] -= s
        self.costs = [
            self.cost(g, self.load[g], self.area[g], self.perimeter[g])
            for g in range(k)
        ]

    def cost(self, g: int, load: float, area: float, perimeter: float) -> float:
        deviation = load / self.targets[g] - 1.0
        excess = max(0.0, abs(deviation) - TARGET_DEVIATION)
        pp = 4.0 * math.pi * area / perimeter**2 if perimeter > 0 else 0.0
        return (
            deviation * deviation
            + OVERLOAD_PENALTY * excess * excess
            + self.lam * (1.0 - pp)
        )

    def descend(self, movable: np.ndarray, rng: np.random.Generator) -> None:
        for _ in range(MAX_PASSES):
            moved = 0
            for u in rng.permutation(movable).tolist():
                moved += self._best_move(u)
            if moved == 0:
                break

    def anneal(self, movable: np.ndarray, rng: np.random.Generator, steps: int) -> None:
        temperature = self._start_temperature(movable, rng)
        if temperature <= 0 or steps <= 0:
            return
        cooling = (1e-3) ** (1.0 / steps)
        picks = movable[rng.integers(len(movable), size=steps)].tolist()
        sides = rng.integers(1 << 30, size=steps).tolist()
        dice = rng.random(steps).tolist()

        best_total = sum(self.costs)
        best = self._snapshot()
        check_every = max(len(movable), 100)
        for step in range(steps):
            temperature *= cooling
            move = self._random_move(picks[step], sides[step])
            if move is None:
                continue
            delta, u, a, b, a_state, b_state = move
            if delta > 0 and dice[step] >= math.exp(-delta / temperature):
                continue
            if self._stays_connected(u, a):
                self._apply(u, a, b, a_state, b_state)
            if step % check_every == 0 and sum(self.costs) < best_total:
                best_total, best = sum(self.costs), self._snapshot()

        if sum(self.costs) > best_total:
            self._restore(best)

    def _start_temperature(
        self, movable: np.ndarray, rng: np.random.Generator
    ) -> float:
        worse = []
        picks = movable[rng.integers(len(movable), size=200)].tolist()
        for u, side in zip(
            picks, rng.integers(1 << 30, size=200).tolist(), strict=True
        ):
            move = self._random_move(u, side)
            if move is not None and move[0] > 0:
                worse.append(move[0])
        return float(np.median(worse)) if worse else 0.0

    def _border(self, u: int) -> dict[int, float]:
        border: dict[int, float] = {}
        labels = self.labels
        for v, s in zip(self.graph.neighbours[u], self.graph.shared_m[u], strict=True):
            g = labels[v]
            border[g] = border.get(g, 0.0) + s
        return border

    def _delta(
        self, u: int, a: int, b: int, border: dict[int, float]
    ) -> tuple[float, tuple[float, float, float], tuple[float, float, float]]:
        w_u, area_u = self.work[u], self.graph.area_m2[u]
        p_u = self.graph.perimeter_m[u]
        a_state = (
            self.load[a] - w_u,
            self.area[a] - area_u,
            self.perimeter[a] - p_u + 2.0 * border.get(a, 0.0),
        )
        b_state = (
            self.load[b] + w_u,
            self.area[b] + area_u,
            self.perimeter[b] + p_u - 2.0 * border[b],
        )
        delta = (
            self.cost(a, *a_state)
            + self.cost(b, *b_state)
            - self.costs[a]
            - self.costs[b]
        )
        return delta, a_state, b_state

    def _random_move(self, u: int, side: int) -> tuple[Any, ...] | None:
        a = self.labels[u]
        if self.size[a] <= 1:
            return None
        border = self._border(u)
        options = [g for g in border if g != a]
        if not options:
            return None
        b = options[side % len(options)]
        delta, a_state, b_state = self._delta(u, a, b, border)
        return delta, u, a, b, a_state, b_state

    def _best_move(self, u: int) -> int:
        a = self.labels[u]
        if self.size[a] <= 1:
            return 0
        border = self._border(u)
        best: tuple[Any, ...] | None = None
        for b in border:
            if b == a:
                continue
            delta, a_state, b_state = self._delta(u, a, b, border)
            if delta < -1e-12 and (best is None or delta < best[0]):
                best = (delta, b, a_state, b_state)
        if best is None or not self._stays_connected(u, a):
            return 0
        self._apply(u, a, best[1], best[2], best[3])
        return 1

    def _apply(
        self,
        u: int,
        a: int,
        b: int,
        a_state: tuple[float, float, float],
        b_state: tuple[float, float, float],
    ) -> None:
        self.labels[u] = b
        self.load[a], self.area[a], self.perimeter[a] = a_state
        self.load[b], self.area[b], self.perimeter[b] = b_state
        self.costs[a] = self.cost(a, *a_state)
        self.costs[b] = self.cost(b, *b_state)
        self.size[a] -= 1
        self.size[b] += 1

    def _snapshot(self) -> tuple[list[Any], ...]:
        return (
            self.labels[:],
            self.load[:],
            self.area[:],
            self.perimeter[:],
            self.size[:],
            self.costs[:],
        )

    def _restore(self, snapshot: tuple[list[Any], ...]) -> None:
        labels, load, area, perimeter, size, costs = snapshot
        self.labels, self.load, self.area = labels, load, area
        self.perimeter, self.size, self.costs = perimeter, size, costs

    def _stays_connected(self, u: int, a: int) -> bool:
        labels, neighbours = self.labels, self.graph.neighbours
        ends = {v for v in neighbours[u] if labels[v] == a}
        if len(ends) <= 1:
            return True
        start = ends.pop()
        seen = {u, start}
        frontier = [start]
        while frontier and ends:
            w = frontier.pop()
            for v in neighbours[w]:
                if v not in seen and labels[v] == a:
                    seen.add(v)
                    ends.discard(v)
                    frontier.append(v)
        return not ends
