"""Fixtures of the analysis tests: a synthetic posterior and a small priors file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/_support.py

#: two calibrated keys of the schema, with values well inside their valid ranges
POSTERIOR_KEYS = ("population.income_growth", "shocks.illness.rate")


def write_posterior(path: Path, n: int = 12, keys: tuple[str, ...] = POSTERIOR_KEYS,
                    seed: int = 0) -> Path:
    """A posterior table as `povsim calibrate` writes it: two generations, the last one used."""
    rng = np.random.default_rng(seed)
    frames = []
    for g in (0, 1):
        w = rng.random(n) + 0.1
        f = pd.DataFrame({"generation": g, "particle": np.arange(n), "weight": w / w.sum(),
                          "distance": rng.random(n), "epsilon": 2.0 - g})
        f["population.income_growth"] = rng.uniform(0.06, 0.12, n)
        f["shocks.illness.rate"] = rng.uniform(0.10, 0.17, n)
        for k in keys:
            if k not in f:
                f[k] = rng.uniform(0.1, 0.2, n)
        f["sim:registered_poor_2016"] = rng.normal(2.72e6, 5e4, n)
        frames.append(f[["generation", "particle", "weight", "distance", "epsilon", *keys,
                         "sim:registered_poor_2016"]])
    pd.concat(frames).to_csv(path, index=False)
    return path


@pytest.fixture()
def posterior_file(tmp_path: Path) -> Path:
    return write_posterior(tmp_path / "posterior.csv")
