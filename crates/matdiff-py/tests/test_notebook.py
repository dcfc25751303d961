"""The example notebook runs from top to bottom (its cells assert their results)."""

from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "matdiff.ipynb"


def test_example_notebook_runs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    derivation = outputs[0]["data"]
    assert "text/markdown" in derivation
    assert "\\frac{\\partial f}{\\partial X}" in derivation["text/markdown"]
    printed = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "2*W'*((M*Y) .* sigmoid'(W*X)) where Y = sigmoid(W*X)" in printed
    assert "normal 0.517748" in printed
