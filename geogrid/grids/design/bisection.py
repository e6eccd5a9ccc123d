"""Initial partition: recursive bisection of the unit graph along random spanning trees.

In the spirit of the ReCom proposal of GerryChain, each cut is the tree edge
that best splits the workload in proportion to the number of grids on each
side, with a small bonus for compact halves (`CUT_COMPACTNESS_WEIGHT`),
keeping locked units on the side of their grid. Both sides of a tree cut are
connected, so every grid is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from geogrid.grids.design.graph import UnitGraph

# spanning trees drawn per bisection step; weight of (2 - PP of both halves)
# against the cut's workload error in mean grid workloads
TREES_PER_CUT = 8
CUT_COMPACTNESS_WEIGHT = 0.3


def initial_partition(
    graph: UnitGraph,
    workload: np.ndarray,
    xy: np.ndarray,
    k: int,
    lock: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """A first partition into ``k`` connected grids by recursive tree cuts.

    Parameters
    ----------
    graph
        Unit adjacency.
    workload
        Workload of each unit.
    xy
        Unit centroids, used to order locked grids along each piece.
    k
        Number of grids.
    lock
        Grid index each unit is locked to, -1 when free.
    rng
        Source of the random spanning trees.

    Returns
    -------
    numpy.ndarray
        Grid index (0 to ``k - 1``) of each unit.
    """
    labels = np.full(len(workload), -1)
    stack = [(np.arange(len(workload)), np.arange(k))]
    while stack:
        nodes, grids = stack.pop()
        if len(grids) == 1:
            labels[nodes] = grids[0]
            continue

        ordered = _ordered_grids(nodes, grids, xy, lock)
        piece = _piece(graph, nodes, workload, lock, ordered)
        in_first, n_first = _best_cut(piece, rng)
        stack.append((nodes[in_first], ordered[:n_first]))
        stack.append((nodes[~in_first], ordered[n_first:]))
    return labels


def _ordered_grids(
    nodes: np.ndarray, grids: np.ndarray, xy: np.ndarray, lock: np.ndarray
) -> np.ndarray:
    # locked grids in order along the main axis of the nodes, free ones between
    local_xy = xy[nodes] - xy[nodes].mean(axis=0)
    axis = np.linalg.svd(local_xy, full_matrices=False)[2][0]
    positions = {}
    for g in grids.tolist():
        mine = nodes[lock[nodes] == g]
        if len(mine):
            positions[g] = float((xy[mine] @ axis).mean())
    ordered_locked = sorted(positions, key=positions.__getitem__)
    free = [g for g in grids.tolist() if g not in positions]
    half = len(ordered_locked) // 2
    return np.array(ordered_locked[:half] + free + ordered_locked[half:])


@dataclass
class _Piece:
    """The units of one bisection step, numbered locally, with their sums.

    ``lock_rank`` is, for a locked unit, the position of its grid in the
    ordered grid list of the step, and -1 for a free unit.
    """

    work: np.ndarray
    lock_rank: np.ndarray
    perimeter_m: np.ndarray
    area_m2: np.ndarray
    starts: list[int]
    ends: list[int]
    gap_m: np.ndarray
    shared_m: list[float]
    n_grids: int


def _best_cut(piece: _Piece, rng: np.random.Generator) -> tuple[np.ndarray, int]:
    # with locked units the grids are halved in their order; without (or when
    # no halving fits the unit counts) any count on either side may do
    flexible = not (piece.lock_rank >= 0).any()
    best_score, best_side, best_grids = math.inf, np.zeros(0, dtype=bool), 1
    while True:
        for _ in range(TREES_PER_CUT):
            order, parent = _random_tree(len(piece.work), piece, rng)
            score, side, n_grids = _cut_tree(piece, order, parent, flexible)
            if score < best_score:
                best_score, best_side, best_grids = score, side, n_grids
        if best_score < math.inf or flexible:
            return best_side, best_grids
        flexible = True


def _piece(
    graph: UnitGraph,
    nodes: np.ndarray,
    workload: np.ndarray,
    lock: np.ndarray,
    ordered: np.ndarray,
) -> _Piece:
    position = np.full(len(graph.neighbours), -1)
    position[nodes] = np.arange(len(nodes))
    u, v = position[graph.edge_u], position[graph.edge_v]
    inside = (u >= 0) & (v >= 0)
    rank_of = {g: i for i, g in enumerate(ordered.tolist())}
    return _Piece(
        work=workload[nodes],
        lock_rank=np.array([rank_of.get(g, -1) for g in lock[nodes].tolist()]),
        perimeter_m=np.asarray(graph.perimeter_m)[nodes],
        area_m2=np.asarray(graph.area_m2)[nodes],
        starts=u[inside].tolist(),
        ends=v[inside].tolist(),
        gap_m=graph.edge_gap_m[inside],
        shared_m=graph.edge_shared_m[inside].tolist(),
        n_grids=len(ordered),
    )


def _random_tree(
    m: int, piece: _Piece, rng: np.random.Generator
) -> tuple[list[int], list[int]]:
    # minimum spanning tree of jittered centroid gaps (Kruskal), then BFS
    starts, ends = piece.starts, piece.ends
    root_of = list(range(m))

    def find(x: int) -> int:
        while root_of[x] != x:
            root_of[x] = root_of[root_of[x]]
            x = root_of[x]
        return x

    tree: list[list[int]] = [[] for _ in range(m)]
    joined = 0
    jittered = piece.gap_m * rng.uniform(1.0, 2.0, len(piece.gap_m))
    for i in np.argsort(jittered).tolist():
        a, b = find(starts[i]), find(ends[i])
        if a != b:
            root_of[a] = b
            tree[starts[i]].append(ends[i])
            tree[ends[i]].append(starts[i])
            joined += 1
            if joined == m - 1:
                break

    root = int(rng.integers(m))
    order, parent = [root], [-1] * m
    for u in order:
        for v in tree[u]:
            if v != parent[u]:
                parent[v] = u
                order.append(v)
    return order, parent


def _cut_tree(
    piece: _Piece, order: list[int], parent: list[int], flexible: bool
) -> tuple[float, np.ndarray, int]:
    m, g = len(order), piece.n_grids
    b_work, b_n, b_l1, b_l2, b_area, b_perimeter, b_cut = _subtree_sums(
        piece, order, parent
    )
    total = float(piece.work.sum())
    unit_work = max(total / g, 1e-12)
    if flexible:
        err, below_first, g_below = _flexible_errors(b_work, b_n, m, g, total)
    else:
        err, below_first, g_below = _halved_errors(piece, b_work, b_n, b_l1, b_l2)
    err = err / unit_work
    err[order[0]] = math.inf

    # among nearly balanced cuts, prefer compact halves
    rest_area = float(piece.area_m2.sum()) - b_area
    rest_perimeter = b_perimeter[order[0]] - b_perimeter + 2.0 * b_cut
    with np.errstate(divide="ignore", invalid="ignore"):
        pp_below = 4.0 * math.pi * b_area / b_perimeter**2
        pp_rest = 4.0 * math.pi * rest_area / rest_perimeter**2
    err += CUT_COMPACTNESS_WEIGHT * np.nan_to_num(2.0 - pp_below - pp_rest)

    # the units of the chosen subtree, and the side the first grids get
    cut = int(np.argmin(err))
    inside = [False] * m
    inside[cut] = True
    for v in order:
        if parent[v] >= 0 and inside[parent[v]]:
            inside[v] = True
    side = np.array(inside)
    if below_first[cut]:
        return float(err[cut]), side, int(g_below[cut])
    return float(err[cut]), ~side, g - int(g_below[cut])


def _flexible_errors(
    b_work: np.ndarray, b_n: np.ndarray, m: int, g: int, total: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the subtree takes the grid count nearest its workload share that leaves
    # at least one unit per grid on both sides, and a third of the grids or
    # more on each side so the bisection stays shallow
    least = max(1, g // 3)
    lower = np.maximum(least, g - (m - b_n))
    upper = np.minimum(b_n, g - least)
    ideal = np.rint(b_work / max(total, 1e-12) * g)
    g_below = np.clip(ideal, lower, np.maximum(lower, upper)).astype(int)
    err = np.abs(b_work - total * g_below / g)
    err[lower > upper] = math.inf
    return err, np.ones(len(b_work), dtype=bool), g_below


def _halved_errors(
    piece: _Piece,
    b_work: np.ndarray,
    b_n: np.ndarray,
    b_l1: np.ndarray,
    b_l2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # the subtree takes either the first half of the ordered grids or the
    # second, and should hold all the locked units of that half and no other
    m, g = len(b_work), piece.n_grids
    n_first, n_second = g // 2, g - g // 2
    total = float(piece.work.sum())
    l1_total = float(((piece.lock_rank >= 0) & (piece.lock_rank < n_first)).sum())
    l2_total = float((piece.lock_rank >= n_first).sum())

    penalty = 10.0 * total
    err_first = np.abs(b_work - total * n_first / g)
    err_first += penalty * ((b_l1 < l1_total) | (b_l2 > 0))
    err_first[(b_n < n_first) | (m - b_n < n_second)] = math.inf
    err_second = np.abs(b_work - total * n_second / g)
    err_second += penalty * ((b_l2 < l2_total) | (b_l1 > 0))
    err_second[(b_n < n_second) | (m - b_n < n_first)] = math.inf

    below_first = err_first <= err_second
    err = np.where(below_first, err_first, err_second)
    g_below = np.where(below_first, n_first, n_second)
    return err, below_first, g_below


def _subtree_sums(
    piece: _Piece, order: list[int], parent: list[int]
) -> tuple[np.ndarray, ...]:
    m = len(order)

    # each border is inside a subtree when the meeting point of its two ends
    # (their lowest common ancestor) is; borders hang on that ancestor
    inner = [0.0] * m
    touching = [0.0] * m
    meeting = _common_ancestors(order, parent, piece.starts, piece.ends)
    edges = zip(piece.starts, piece.ends, piece.shared_m, meeting, strict=True)
    for a, b, s, c in edges:
        touching[a] += s
        touching[b] += s
        inner[c] += s

    # sums over each subtree, children before parents
    n_first = piece.n_grids // 2
    rank = piece.lock_rank
    sums = [
        piece.work.tolist(),
        [1.0] * m,
        ((rank >= 0) & (rank < n_first)).astype(float).tolist(),
        (rank >= n_first).astype(float).tolist(),
        piece.area_m2.tolist(),
        piece.perimeter_m.tolist(),
        touching,
        inner,
    ]
    for v in reversed(order[1:]):
        p = parent[v]
        for column in sums:
            column[p] += column[v]
    work, n, l1, l2, area, perimeter, touch, inside = (np.array(c) for c in sums)

    # perimeter of the subtree, and its border with the rest
    cut = touch - 2.0 * inside
    return work, n, l1, l2, area, perimeter - 2.0 * inside, cut


def _common_ancestors(
    order: list[int], parent: list[int], starts: list[int], ends: list[int]
) -> list[int]:
    # Tarjan's offline lowest common ancestors: one depth-first pass over the
    # tree, merging each finished subtree into its parent's set
    m = len(order)
    children: list[list[int]] = [[] for _ in range(m)]
    for v in order[1:]:
        children[parent[v]].append(v)
    asked: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for i, (a, b) in enumerate(zip(starts, ends, strict=True)):
        asked[a].append((b, i))
        asked[b].append((a, i))

    group, top = list(range(m)), list(range(m))
    done = [False] * m
    answer = [0] * len(starts)

    def find(x: int) -> int:
        while group[x] != x:
            group[x] = group[group[x]]
            x = group[x]
        return x

    stack, next_child = [order[0]], [0] * m
    while stack:
        u = stack[-1]
        if next_child[u] < len(children[u]):
            stack.append(children[u][next_child[u]])
            next_child[u] += 1
            continue
        stack.pop()
        done[u] = True
        for w, i in asked[u]:
            if done[w]:
                answer[i] = top[find(w)]
        if parent[u] >= 0:
            root = find(parent[u])
            group[find(u)] = root
            top[root] = parent[u]
    return answer
