"""The notebooks run top to bottom against the demo county, without the network."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from sqlalchemy import Engine

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


def _outputs_text(notebook: nbformat.NotebookNode) -> str:
    parts = []
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            parts.append(output.get("text", ""))
            parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


@pytest.mark.timeout(300)
def test_blind_spots_notebook_runs_on_the_demo_county(
    demo_engine: Engine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(
        "GEOGRID_DATABASE_URL", demo_engine.url.render_as_string(hide_password=False)
    )
    notebook = nbformat.read(NOTEBOOKS / "blind_spots.ipynb", as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name="python3",
        timeout=240,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()

    text = _outputs_text(notebook)
    assert "6,000 households" in text
    assert "blind_spots.xlsx" in text and "blind_spots.gpkg" in text
    # the map points at the app's own scripts, never at a CDN
    assert "/static/vendor/leaflet/dist/leaflet.js" in text
    assert "cdn.jsdelivr.net" not in text and "unpkg.com" not in text
