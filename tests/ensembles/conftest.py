"""Fixtures of the ensemble tests: small runs (1 in 2000 households, ~4k households, < 1 s)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import xarray as xr

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ensemble_helpers import BASELINE, SWEEP


@pytest.fixture(scope="session")
def serial_sweep(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, xr.Dataset]:
    """The reference sweep computed in this process: ``(store path, loaded Dataset)``."""
    from povsim.ensembles import sweep

    path = tmp_path_factory.mktemp("serial") / "sweep.zarr"
    ds = sweep(BASELINE, **SWEEP, workers=1, output=path)
    ds = ds.load()
    return path, ds
