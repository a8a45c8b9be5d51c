"""Execute every tutorial notebook in ``notebooks/`` and fail on any error.

Each notebook runs in a fresh kernel of the ``python3`` kernelspec, which ipykernel installs in
the environment running the tests (so the kernel is this interpreter's environment, with povsim
importable). The working directory of the kernel is ``notebooks/``, which is what the notebooks'
relative paths (``../scenarios/baseline.yaml``) expect. The notebooks in the repository are kept
without outputs; executing them here does not write them back.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOK_FILES = sorted(NOTEBOOKS.glob("*.ipynb"))
CELL_TIMEOUT = 300  # seconds per cell


def test_there_are_notebooks() -> None:
    assert NOTEBOOK_FILES, f"no notebooks found in {NOTEBOOKS}"


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=[p.name for p in NOTEBOOK_FILES])
def test_notebook_is_saved_without_outputs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert not cell.get("outputs"), f"{path.name}: cell {i} has saved outputs"
            assert cell.get("execution_count") is None, f"{path.name}: cell {i} has a count"


#: warnings a user must not see in a notebook (issue 8: "Noise")
NOISE = ("IProgress not found", "is already in use", "Hosting the HTTP server")


@pytest.mark.parametrize("path", NOTEBOOK_FILES, ids=[p.name for p in NOTEBOOK_FILES])
def test_notebook_runs(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb,
        timeout=CELL_TIMEOUT,
        kernel_name="python3",
        allow_errors=False,
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    t0 = time.perf_counter()
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name} failed:\n{exc}", pytrace=False)
    elapsed = time.perf_counter() - t0
    errors = [
        out
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "error"
    ]
    assert not errors, f"{path.name}: error outputs {errors}"
    # no noise from the libraries underneath (tqdm without ipywidgets, dask's dashboard port)
    noise = [
        out.get("text", "")
        for cell in nb.cells
        if cell.cell_type == "code"
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stderr"
        and any(w in out.get("text", "") for w in NOISE)
    ]
    assert not noise, f"{path.name}: warnings in the outputs {noise}"
    print(f"{path.name}: {elapsed:.1f} s")
