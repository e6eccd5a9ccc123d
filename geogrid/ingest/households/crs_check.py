"""The check that household coordinates are in the coordinate system declared."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from geogrid.crs import check_declared_crs
from geogrid.ingest.batch import BatchReport
from geogrid.ingest.households.validation import Chunk, References


class CrsCheck:
    """Stop the import when the points fit their villages better in another CRS.

    Collects the first valid row of households that have both coordinates and
    a village code, and checks them once ``sample_households`` are in hand
    (usually before the first chunk is stored) or at the end of the file.
    The import passes `geogrid.ingest.households.CRS_SAMPLE_HOUSEHOLDS`.
    """

    def __init__(
        self,
        refs: References,
        source_crs: str,
        source: str,
        report: BatchReport,
        *,
        sample_households: int,
    ) -> None:
        self.refs = refs
        self.sample_households = sample_households
        self.source_crs = source_crs
        self.source = source
        self.report = report
        self.done = not refs.village_shapes
        self._lon: list[np.ndarray] = []
        self._lat: list[np.ndarray] = []
        self._codes: list[list[str | None]] = []
        self._count = 0

    def add(self, chunk: Chunk, raw_lon: np.ndarray, raw_lat: np.ndarray) -> None:
        if self.done:
            return
        pick = chunk.ok & chunk.first_of_household & ~np.isnan(chunk.lon)
        pick &= pc.is_valid(chunk.village_code).to_numpy(False)
        self._lon.append(raw_lon[pick])
        self._lat.append(raw_lat[pick])
        self._codes.append(chunk.village_code.filter(pa.array(pick)).to_pylist())
        self._count += int(pick.sum())
        if self._count >= self.sample_households:
            self.finish()

    def finish(self) -> None:
        if self.done:
            return
        self.done = True
        codes = [c for part in self._codes for c in part][: self.sample_households]
        if len(codes) < 5:
            return
        lon = np.concatenate(self._lon)[: len(codes)]
        lat = np.concatenate(self._lat)[: len(codes)]
        polygons = [self.refs.village_shapes.get(str(c)) for c in codes]
        has = np.array([p is not None for p in polygons], dtype=bool)
        if not has.any():
            return
        detection = check_declared_crs(
            lon[has],
            lat[has],
            np.array([p for p in polygons if p is not None], dtype=object),
            self.source_crs,
            source=self.source,
        )
        share = detection.inside_share.get(self.source_crs, 1.0)
        if share < 0.9:
            self.report.warnings.append(
                f"Only {share:.0%} of households with a village code lie inside "
                "that village's polygon; the village boundaries or the codes may "
                "need care."
            )
