"""Imports that lose nothing: boundaries and households, each row stored or kept."""

from geogrid.ingest.batch import BatchReport, rejects_frame
from geogrid.ingest.boundaries import import_boundaries
from geogrid.ingest.households import import_households

__all__ = ["BatchReport", "import_boundaries", "import_households", "rejects_frame"]
