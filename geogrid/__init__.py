"""geogrid: grid marketing management for rural commercial banks on PostGIS."""

__version__ = "0.1.0"
