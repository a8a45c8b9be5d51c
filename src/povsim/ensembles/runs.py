"""One run of an ensemble: the model's results, as the ensemble stores them.

:func:`simulate` is the task every worker executes. The core computes everything an ensemble
needs in every run (:mod:`povsim.assessment`): the Dataset of :func:`povsim.run` already holds
the targets of domain.md §1 (``target_held``, ``target_year_met``, ``target_shortfall``) and the
direct attribution of exits (``exits_by_pathway``, dims ``year, region, attribution``; see
:class:`povsim.assessment.Attribution` for the accounting). This module converts it for the
store (all ``float64``, ``NaN`` = missing) and adds the run's cost (``total_spending``,
``total_allocated``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr

from povsim.assessment import EXTRA_ATTRIBUTION, target_variables
from povsim.scenario.schema import Scenario

__all__ = ["EXTRA_ATTRIBUTION", "run_targets", "simulate"]


def run_targets(ds: xr.Dataset, scenario: Scenario) -> xr.Dataset:
    """The targets of one run as variables over a ``target`` dimension (as the core records
    them: :func:`povsim.assessment.target_variables`)."""
    return target_variables(ds, scenario)


def _for_store(ds: xr.Dataset, extra: dict[str, xr.Variable]) -> xr.Dataset:
    """``ds`` with every numeric variable as ``float64`` (``county_exit_year``'s ``-1``, not
    exited, as ``NaN``) and the ``extra`` variables after its own.

    Built from the variables' arrays in one Dataset: xarray's ``astype`` and ``merge`` per
    variable took ~25 ms of a 1:100 run of ~400 ms.
    """
    out: dict[str, xr.Variable] = {}
    variables = ds.variables  # Variables, not DataArrays (making ~60 of those took ~7 ms)
    for name in ds.data_vars:
        v = variables[name]
        if v.dtype.kind in "biuf" and v.dtype != np.float64:
            data = v.values.astype(np.float64)
            if v.dtype.kind in "iu" and name == "county_exit_year":
                data[v.values < 0] = np.nan
            v = xr.Variable(v.dims, data, dict(v.attrs))
        out[name] = v
    out.update(extra)
    return xr.Dataset(out, coords=ds.coords)


def simulate(
    scenario: Scenario,
    seed: int,
    base_dir: str | None = None,
    *,
    attribution: bool = True,
) -> xr.Dataset:
    """Run one scenario with one seed; return its results for an ensemble.

    Parameters
    ----------
    scenario
        The (fully overridden) scenario of the experiment.
    seed
        The replicate's seed (:func:`povsim.rng.replicate_seed`).
    base_dir
        Directory for the scenario's relative data paths.
    attribution
        Keep the direct attribution of exits (the core always computes it).

    Returns
    -------
    xarray.Dataset
        All results as ``float64`` (so a missing value is ``NaN``), targets, cost and
        attribution. Attributes: ``seed``, ``scenario_sha256``, ``n_households``, ``runtime``.
    """
    import time

    from povsim.kernels import compile_small_tables
    from povsim.model import PovertyModel

    compile_small_tables()  # an ensemble is many runs: the compiled kernels pay at any scale
    t0 = time.perf_counter()
    model = PovertyModel(scenario, seed=seed, base_dir=Path(base_dir) if base_dir else None)
    ds = model.run(progress=False)
    if not attribution:
        ds = ds.drop_vars("exits_by_pathway").drop_dims("attribution", errors="ignore")
    extra = {
        "total_spending": xr.Variable((), float(ds["spending"].sum(skipna=True)),
                                      {"units": "yuan",
                                       "description": "all money spent, all years"}),
        "total_allocated": xr.Variable((), float(ds["allocated"].sum(skipna=True)),
                                       {"units": "yuan",
                                        "description": "all new money allocated (the budget), "
                                                       "all years"}),
    }
    # every variable keeps its own units and description; the Dataset's attributes are set below
    out = _for_store(ds, extra)
    out.attrs = {
        "seed": int(model.seed_value),
        "scenario_sha256": scenario.sha256(),
        "n_households": int(model.households.n),
        "scale": int(model.weight),
        "runtime": float(time.perf_counter() - t0),
    }
    return out
