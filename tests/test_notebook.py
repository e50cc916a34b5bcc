"""``examples/prototyping.ipynb`` runs top to bottom in a real Jupyter kernel, and is kept clean."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "examples" / "prototyping.ipynb"


def test_outputs_are_stripped() -> None:
    """The notebook is stored without outputs or execution counts."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == []
            assert cell.execution_count is None


def test_runs_in_a_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every cell runs without error in a python3 kernel started from the repository root, and the
    charts and displays produce their rich outputs."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    # the kernel imports this checkout's crmcore, and its temporary files land in tmp_path
    paths = [str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(p for p in paths if p))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    client = NotebookClient(nb, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}})
    client.execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    kinds = {k for o in outputs for k in o.get("data", {})}
    assert "text/html" in kinds
    assert "application/vnd.plotly.v1+json" in kinds
