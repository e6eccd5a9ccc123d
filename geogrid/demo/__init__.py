"""The synthetic demo county 青溪县: its generation (the loader is `demo.load`)."""

from geogrid.demo.generate import DemoCounty, generate_county, write_boundaries

__all__ = ["DemoCounty", "generate_county", "write_boundaries"]
