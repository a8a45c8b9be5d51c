"""povsim: an agent-based model of Sichuan's 2015-2020 poverty-alleviation campaign.

Quick start::

    import povsim
    scn = povsim.load_scenario("scenarios/baseline.yaml")
    ds = povsim.run(scn, seed=7)              # an xarray.Dataset (or povsim.run("baseline"))
    povsim.summarize(ds)                       # target table and key figures (HTML in Jupyter)
    print(povsim.format_table(povsim.evaluate_targets(ds)))

Many runs (dask.distributed, common random numbers, resumable zarr stores)::

    cmp = povsim.compare(["scenarios/baseline.yaml", "scenarios/no_line_merge.yaml"],
                         replicates=10, output="cmp.zarr")
    sw = povsim.sweep("scenarios/baseline.yaml", {"budget.scale": [0.5, 1.0, 1.5]},
                      replicates=10, output="budget.zarr")
    fr = povsim.frontier(sw, key="budget.scale", level=0.9)

Calibration (ABC-SMC with pyabc; the package is :mod:`povsim.calibration`)::

    res = povsim.calibrate("scenarios/baseline.yaml", "calibration/targets.yaml",
                           "calibration/priors.yaml", population_size=100, generations=6)
    post = povsim.load_posterior("calibration/posterior.csv")

Hindcast and sensitivity (:mod:`povsim.analysis`)::

    h = povsim.hindcast("hindcast", posterior="calibration/posterior.csv", replicates=50,
                        output="hindcast.nc", figure="hindcast.png")
    sa = povsim.sensitivity("baseline", priors="calibration/priors.yaml", output_dir="sa")
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from povsim.errors import DataError, ModelBuildError, PovsimError, ScenarioError
from povsim.version import povsim_version

if TYPE_CHECKING:  # imported on first use (module __getattr__), so `import povsim` is quick
    import xarray as xr

    from povsim.components import Component
    from povsim.model import CountyGovernment, PovertyModel, ProvinceGovernment
    from povsim.pathways import Pathway
    from povsim.plotting import plot_run
    from povsim.registry import register_output, register_pathway, register_shock
    from povsim.results import write_dataset
    from povsim.scenario import Scenario, load_scenario
    from povsim.targets import evaluate as evaluate_targets
    from povsim.targets import format_table, target_table

__version__ = povsim_version()

#: names served lazily from :mod:`povsim.ensembles` (it imports dask, which is slow to import)
_ENSEMBLE_API = ("attribution", "compare", "frontier", "open_ensemble", "sweep")
#: names served lazily from :mod:`povsim.calibration` (the fit itself imports pyabc)
_CALIBRATION_API = ("calibrate", "load_posterior", "load_priors", "load_targets")
#: names served lazily from :mod:`povsim.analysis` (hindcast, sensitivity, scale bias)
_ANALYSIS_API = ("hindcast", "scale_bias", "sensitivity")

#: public names served lazily: ``name: (module, attribute)``. numpy, xarray, mesa and dask are
#: slow to import; `povsim --version` and `--help` must not pay for them.
_LAZY: dict[str, tuple[str, str]] = {
    "Component": ("povsim.components", "Component"),
    "CountyGovernment": ("povsim.model", "CountyGovernment"),
    "PovertyModel": ("povsim.model", "PovertyModel"),
    "ProvinceGovernment": ("povsim.model", "ProvinceGovernment"),
    "Pathway": ("povsim.pathways", "Pathway"),
    "plot_run": ("povsim.plotting", "plot_run"),
    "register_output": ("povsim.registry", "register_output"),
    "register_pathway": ("povsim.registry", "register_pathway"),
    "register_shock": ("povsim.registry", "register_shock"),
    "write_dataset": ("povsim.results", "write_dataset"),
    "Scenario": ("povsim.scenario", "Scenario"),
    "load_scenario": ("povsim.scenario", "load_scenario"),
    "evaluate_targets": ("povsim.targets", "evaluate"),
    "format_table": ("povsim.targets", "format_table"),
    "target_table": ("povsim.targets", "target_table"),
    "Summary": ("povsim.summary", "Summary"),
    "summarize": ("povsim.summary", "summarize"),
    "scenarios": ("povsim.library", "library_scenarios"),
}

__all__ = [
    "Component",
    "CountyGovernment",
    "DataError",
    "ModelBuildError",
    "Pathway",
    "PovertyModel",
    "PovsimError",
    "ProvinceGovernment",
    "Scenario",
    "ScenarioError",
    "Summary",
    "attribution",
    "calibrate",
    "compare",
    "evaluate_targets",
    "format_table",
    "frontier",
    "hindcast",
    "load_posterior",
    "load_priors",
    "load_scenario",
    "load_targets",
    "open_ensemble",
    "plot_run",
    "register_output",
    "register_pathway",
    "register_shock",
    "run",
    "scale_bias",
    "scenarios",
    "sensitivity",
    "summarize",
    "sweep",
    "target_table",
    "write_dataset",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value  # later look-ups skip __getattr__
        return value
    if name in _ENSEMBLE_API:
        from povsim import ensembles

        return getattr(ensembles, name)
    if name in _CALIBRATION_API:
        from povsim import calibration

        return getattr(calibration, name)
    if name in _ANALYSIS_API:
        from povsim import analysis

        return getattr(analysis, name)
    raise AttributeError(f"module 'povsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


def run(
    scenario: Scenario | str | Path,
    *,
    seed: int | None = None,
    scale: int | None = None,
    progress: bool | None = False,
    overrides: dict[str, Any] | None = None,
    base_dir: str | Path | None = None,
    interruptible: bool = False,
    on_start: Callable[[PovertyModel], None] | None = None,
) -> xr.Dataset:
    """Run one scenario end to end and return its results.

    This is the one way a model is run: the command line's ``run`` and every ensemble run go
    through it (or through :meth:`PovertyModel.run`, which it calls).

    Parameters
    ----------
    scenario
        A :class:`Scenario`, the path of a scenario YAML file or the name of a library
        scenario (``"baseline"``).
    seed
        Root seed (default: the scenario's ``seed``).
    scale
        Simulate 1 in ``scale`` households (default: the scenario's ``population.scale``).
    progress
        Show a progress bar over months (``None``: only on a terminal).
    overrides
        Dotted-key overrides applied before running (``{"budget.scale": 0.7}``).
    base_dir
        Directory for the scenario's relative data paths (default: the scenario file's).
    interruptible
        On Ctrl-C return the completed years (``attrs["complete"] == 0``) instead of raising.
    on_start
        Called with the built model before the first step (e.g. to announce the run).

    Returns
    -------
    xarray.Dataset
        Yearly results by region (and county), targets and the attribution of exits, with
        ``units`` on every variable and provenance (``seed``, ``scenario_sha256``,
        ``povsim_version``, ...) in ``attrs``.
    """
    from povsim.model import PovertyModel
    from povsim.scenario import Scenario, load_scenario

    if not isinstance(scenario, Scenario):
        if base_dir is None:
            from povsim.library import resolve_scenario_path

            base_dir = resolve_scenario_path(scenario).resolve().parent
        scenario = load_scenario(scenario)
    upd: dict[str, Any] = dict(overrides or {})
    if scale is not None:
        upd["population.scale"] = int(scale)
    if upd:
        scenario = scenario.with_overrides(upd)
    model = PovertyModel(scenario, seed=seed, base_dir=base_dir)
    if on_start is not None:
        on_start(model)
    try:
        return model.run(progress=progress)
    except KeyboardInterrupt:
        if not interruptible:
            raise
        return model.results()
