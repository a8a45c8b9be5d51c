"""Fixtures of the engine tests: the small-scale baseline and its cached run."""

from __future__ import annotations

import os

# every model built by the tests holds its components to their declarations (povsim.context)
os.environ.setdefault("POVSIM_CHECKED", "1")

import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from _support import baseline_small, run_small

from povsim.scenario import Scenario  # noqa: E402


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """``scenarios/baseline.yaml`` at ``population.scale: 2000`` (about 3,800 households)."""
    return baseline_small()


@pytest.fixture(scope="session")
def baseline_ds() -> xr.Dataset:
    """The small baseline run with its own seed, computed once per session (read only)."""
    return run_small()
