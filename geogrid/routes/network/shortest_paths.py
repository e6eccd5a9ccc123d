"""Shortest paths on the road graph: directed arcs, Dijkstra, path lengths and arcs."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from geogrid.errors import InvalidInput
from geogrid.routes.network._types import Bools, Floats, Ints

# dijkstra returns one row of every node per source: cap a batch's entries
_BATCH_ENTRIES = 4_000_000
# the smallest travel time of an arc, so that no arc of the graph weighs zero
_MIN_ARC_S = 1e-6


@dataclass
class Arcs:
    """Directed arcs of a graph, each a stretch of one edge."""

    tail: Ints
    head: Ints
    time_s: Floats
    length_m: Floats
    edge: Ints
    from_m: Floats
    to_m: Floats

    def select(self, mask: Bools | Ints) -> Arcs:
        """The arcs a boolean mask or an index picks."""
        return Arcs(*(getattr(self, f)[mask] for f in _ARC_FIELDS))

    @staticmethod
    def concat(parts: Sequence[Arcs]) -> Arcs:
        """The arcs of several parts, one after the other."""
        return Arcs(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _ARC_FIELDS)
        )


_ARC_FIELDS = ("tail", "head", "time_s", "length_m", "edge", "from_m", "to_m")


@dataclass
class Graph:
    """A CSR graph of the quickest arc between each pair of nodes."""

    arcs: Arcs
    n_nodes: int
    csr: csr_matrix = field(init=False)
    key: Ints = field(init=False)

    def __post_init__(self) -> None:
        # keep the quickest arc of each (tail, head) pair
        arcs = self.arcs
        key = arcs.tail * self.n_nodes + arcs.head
        order = np.lexsort((arcs.time_s, key))
        keep = order[np.r_[True, key[order][1:] != key[order][:-1]]]
        self.arcs = arcs.select(keep)
        self.key = key[keep]
        weight = np.maximum(self.arcs.time_s, _MIN_ARC_S)
        self.csr = coo_matrix(
            (weight, (self.arcs.tail, self.arcs.head)),
            shape=(self.n_nodes, self.n_nodes),
        ).tocsr()

    def arc_of(self, tail: Ints, head: Ints) -> Ints:
        """Index into `arcs` of the arc from each tail to each head."""
        return np.searchsorted(self.key, tail * self.n_nodes + head)

    def between(self, nodes: Ints) -> tuple[Floats, Floats]:
        """Times and lengths of the quickest paths between the nodes."""
        sources, inverse = np.unique(nodes, return_inverse=True)
        time_s = np.empty((len(sources), len(sources)))
        length_m = np.empty((len(sources), len(sources)))
        batch = max(1, _BATCH_ENTRIES // max(self.n_nodes, 1))
        for start in range(0, len(sources), batch):
            rows = slice(start, start + batch)
            dist, pred = dijkstra(
                self.csr, directed=True, indices=sources[rows], return_predecessors=True
            )
            time_s[rows] = dist[:, sources]
            length_m[rows] = self._path_lengths(pred)[:, sources]
        length_m[~np.isfinite(time_s)] = np.inf
        return time_s[np.ix_(inverse, inverse)], length_m[np.ix_(inverse, inverse)]

    def _path_lengths(self, pred: npt.NDArray[np.int32]) -> Floats:
        # pointer jumping on the shortest-path trees: each step doubles the
        # number of arcs a node's pointer skips and adds up their lengths
        nodes = np.broadcast_to(np.arange(self.n_nodes), pred.shape)
        has_pred = pred >= 0
        pointer = np.where(has_pred, pred, nodes)
        length = np.zeros(pred.shape)
        length[has_pred] = self.arcs.length_m[
            self.arc_of(pred[has_pred].astype(np.int64), nodes[has_pred])
        ]
        while True:
            jumped = np.take_along_axis(pointer, pointer, axis=1)
            if np.array_equal(jumped, pointer):
                return length
            length += np.take_along_axis(length, pointer, axis=1)
            pointer = jumped

    def paths(self, legs: Sequence[tuple[int, int]]) -> list[Ints]:
        """The arcs of the quickest path of each (source, target) node pair."""
        sources = np.unique([source for source, _ in legs])
        found: list[Ints | None] = [None] * len(legs)
        batch = max(1, _BATCH_ENTRIES // max(self.n_nodes, 1))
        for start in range(0, len(sources), batch):
            chunk = sources[start : start + batch]
            _, pred = dijkstra(
                self.csr, directed=True, indices=chunk, return_predecessors=True
            )
            row_of = {int(node): row for row, node in enumerate(chunk)}
            for k, (source, target) in enumerate(legs):
                if source in row_of:
                    found[k] = self._path(pred[row_of[source]], source, target)
        return [path for path in found if path is not None]

    def _path(self, pred: npt.NDArray[np.int32], source: int, target: int) -> Ints:
        nodes = [target]
        while nodes[-1] != source and pred[nodes[-1]] >= 0:
            nodes.append(int(pred[nodes[-1]]))
        if nodes[-1] != source:
            raise InvalidInput(
                "No road path joins two locations of the route; they lie on "
                "parts of the network that one-way roads keep apart.",
            )
        nodes.reverse()
        return self.arc_of(np.asarray(nodes[:-1]), np.asarray(nodes[1:]))
