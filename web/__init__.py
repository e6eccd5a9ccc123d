"""The thin Flask viewer and JSON API over geogrid."""

from web.app import create_app

__all__ = ["create_app"]
