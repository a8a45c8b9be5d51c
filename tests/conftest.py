"""Fixtures of the engine tests: the small-scale baseline and its cached run."""

from __future__ import annotations

import pytest
import xarray as xr
from _support import baseline_small, run_small

from povsim.scenario import Scenario


@pytest.fixture(scope="session")
def small_scenario() -> Scenario:
    """``scenarios/baseline.yaml`` at ``population.scale: 2000`` (about 3,800 households)."""
    return baseline_small()


@pytest.fixture(scope="session")
def baseline_ds() -> xr.Dataset:
    """The small baseline run with its own seed, computed once per session (read only)."""
    return run_small()
