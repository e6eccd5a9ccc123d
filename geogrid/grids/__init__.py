"""Second-level grids: automatic design and the figures to judge them by."""

from geogrid.grids.design import Proposal, design_grids, design_partitioned

__all__ = ["Proposal", "design_grids", "design_partitioned"]
