"""The explorer: compare a policy with the baseline interactively, in a browser or in JupyterLab.

``povsim explore`` serves the page (Solara: ``pip install "povsim[explore]"``); in a notebook,
display :func:`Explorer`. The numbers it shows come from :func:`run_explorer`, which needs no
user interface::

    from povsim.explore import ExplorerSettings, run_explorer

    res = run_explorer(ExplorerSettings(policy="budget_minus30", budget_scale=0.5,
                                        scale=5000, replicates=2))
    res.table()     # P(holds) of each target: baseline, policy, paired difference
    res.outcomes()  # registered poor left, money spent: baseline, policy, difference
    res.figure()    # the fan chart (povsim.plotting.plot_trajectory)

========================  ====================================================================
:class:`ExplorerSettings` the controls: baseline and policy files, budget.scale, merge year,
                          pathway switches, scale, replicates, seed
:func:`run_explorer`      run (or read from the cache) both scenarios, summarise the targets
:class:`ExplorerResult`   the runs, :meth:`~ExplorerResult.table`, ``outcomes``, ``figure``
:class:`RunCache`         ensemble stores keyed by scenario sha256, seed, scale, replicates
:func:`Explorer`          the page as a Solara component (needs Solara)
:func:`serve`             serve the page (``povsim explore``)
========================  ====================================================================
"""

from __future__ import annotations

from typing import Any

from .core import (
    DEFAULT_REPLICATES,
    DEFAULT_SCALE,
    ExplorerResult,
    ExplorerSettings,
    RunCache,
    policy_overrides,
    policy_scenarios,
    run_explorer,
    scenario_choices,
)
from .server import serve

__all__ = [
    "DEFAULT_REPLICATES",
    "DEFAULT_SCALE",
    "Explorer",
    "ExplorerResult",
    "ExplorerSettings",
    "RunCache",
    "policy_overrides",
    "policy_scenarios",
    "run_explorer",
    "scenario_choices",
    "serve",
]


def __getattr__(name: str) -> Any:
    # the Solara component is imported on first use: povsim.explore works without Solara
    if name in ("Explorer", "Page"):
        from .server import require_solara

        require_solara()
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
