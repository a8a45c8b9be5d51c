"""Constants and helpers shared by the ensemble tests (imported by the test modules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import xarray as xr

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios"
BASELINE = SCENARIOS / "baseline.yaml"
SCALE = 2000  # 1 in 2000 households: ~4k households, well under a second per run

#: the reference sweep: every execution mode must reproduce it exactly
SWEEP: dict[str, Any] = {"sets": {"budget.scale": [0.5, 1.0]}, "replicates": 3, "scale": SCALE,
                         "seed": 11}
SWEEP_CLI = ["sweep", str(BASELINE), "--set", "budget.scale=0.5,1.0", "--replicates", "3",
             "--scale", str(SCALE), "--seed", "11"]


def root_group(path: Path) -> xr.Dataset:
    """The root group of a store, loaded into memory."""
    from povsim.ensembles import open_ensemble

    ds = open_ensemble(path).load()
    ds.close()
    return ds
