"""The thin Flask viewer and JSON API over geogrid."""
