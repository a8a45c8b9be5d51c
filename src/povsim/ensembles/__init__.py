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

from .attribution import attribution, counterfactual_attribution, direct_attribution
from .compare import compare, format_comparison, paired_differences, summarize_targets
from .execution import EnsembleInterrupted, ExecutionReport, Runner, execute, run_seeds
from .frontier import format_frontier, frontier
from .plotting import plot_comparison, plot_frontier, plot_sweep
from .runs import simulate
from .store import EnsembleStore, Experiment, Plan, open_ensemble
from .sweep import design_points, format_sweep, parse_set, sweep

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
