"""Ensembles: replicates, scenario comparisons, sweeps, budget frontiers and attribution.

Everything runs on dask.distributed (a local cluster by default, or an existing one), each run
an independent task keyed by (experiment, replicate) whose seed derives from the root seed —
the same for every experiment (common random numbers) — so results do not depend on the number
of workers or the order runs finish in. Runs stream into a zarr store; an interrupted ensemble
resumes where it stopped.

Python API (all return :class:`xarray.Dataset` objects)::

    import povsim
    cmp = povsim.compare(["scenarios/baseline.yaml", "scenarios/budget_minus30.yaml"],
                         replicates=20, output="cmp.zarr")
    sw = povsim.sweep("scenarios/baseline.yaml", {"budget.scale": [0.5, 0.75, 1.0, 1.25]},
                      replicates=20, output="budget.zarr")
    fr = povsim.frontier(sw, key="budget.scale", level=0.9)
    att = povsim.attribution("scenarios/baseline.yaml", replicates=10)
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .attribution import attribution, counterfactual_attribution, direct_attribution
    from .compare import compare, format_comparison, paired_differences, summarize_targets
    from .execution import EnsembleInterrupted, ExecutionReport, Runner, execute, run_seeds
    from .frontier import format_frontier, frontier
    from .plotting import plot_comparison, plot_frontier, plot_sweep
    from .runs import simulate
    from .store import EnsembleStore, Experiment, Plan, open_ensemble
    from .sweep import design_points, format_sweep, parse_set, sweep

#: the public API, imported on first use: ``name: submodule``. dask, scipy and xarray take
#: seconds to import, and `povsim --help` (which lists compare and sweep) must not pay for them.
_API: dict[str, str] = {
    "attribution": "attribution", "counterfactual_attribution": "attribution",
    "direct_attribution": "attribution",
    "compare": "compare", "format_comparison": "compare", "paired_differences": "compare",
    "summarize_targets": "compare",
    "EnsembleInterrupted": "execution", "ExecutionReport": "execution", "Runner": "execution",
    "execute": "execution", "run_seeds": "execution",
    "format_frontier": "frontier", "frontier": "frontier",
    "plot_comparison": "plotting", "plot_frontier": "plotting", "plot_sweep": "plotting",
    "simulate": "runs",
    "EnsembleStore": "store", "Experiment": "store", "Plan": "store", "open_ensemble": "store",
    "design_points": "sweep", "format_sweep": "sweep", "parse_set": "sweep", "sweep": "sweep",
}


def __getattr__(name: str) -> Any:
    if name in _API:
        module = importlib.import_module(f"{__name__}.{_API[name]}")
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """This package's module type: the functions ``compare``, ``sweep``, ``frontier`` and
    ``attribution`` share their names with the submodules that define them; importing such a
    submodule must not replace the function (as it would once the import system binds the
    submodule on the package)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _API.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package

__all__ = [
    "EnsembleInterrupted",
    "EnsembleStore",
    "ExecutionReport",
    "Experiment",
    "Plan",
    "Runner",
    "attribution",
    "compare",
    "counterfactual_attribution",
    "design_points",
    "direct_attribution",
    "execute",
    "format_comparison",
    "format_frontier",
    "format_sweep",
    "frontier",
    "open_ensemble",
    "paired_differences",
    "parse_set",
    "plot_comparison",
    "plot_frontier",
    "plot_sweep",
    "run_seeds",
    "simulate",
    "summarize_targets",
    "sweep",
]
