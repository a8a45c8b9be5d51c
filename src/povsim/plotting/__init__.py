"""Figures from results Datasets (they never run a simulation).

Every function takes the Dataset of :func:`povsim.run` (one run) or of an ensemble
(:func:`povsim.compare`, :func:`povsim.sweep`, :func:`povsim.open_ensemble`) and returns a
matplotlib :class:`~matplotlib.figure.Figure`; ``path=`` also saves it. Labels are English with
pinyin place names (Chinese added only where a font can draw it).

=========================  =====================================================================
:func:`plot_run`           the four-panel summary of one run (``povsim run --figure``)
:func:`plot_trajectory`    registered poor: fan chart over replicates vs target path and pace
:func:`plot_exits`         people, villages, counties exiting by year vs their targets
:func:`plot_attribution`   exits by pathway (stacked areas), and the counterfactual if present
:func:`plot_spending`      grants by pathway and by source; micro-credit lent apart
:func:`plot_county_timeline`  the 88 poor counties x year, grouped by region
:func:`plot_hindcast`      simulated band against the sourced 2013-2016 observations
=========================  =====================================================================

Ensemble figures (:func:`povsim.ensembles.plot_comparison`, :func:`~povsim.ensembles.plot_sweep`,
:func:`~povsim.ensembles.plot_frontier`) live in :mod:`povsim.ensembles.plotting`.
"""

from __future__ import annotations

from .figures import (
    plot_attribution,
    plot_county_timeline,
    plot_exits,
    plot_hindcast,
    plot_run,
    plot_spending,
    plot_trajectory,
    read_observations,
    target_outcomes,
)
from .names import cjk_font, county_labels, county_pinyin, pathway_label, region_label

__all__ = [
    "cjk_font",
    "county_labels",
    "county_pinyin",
    "pathway_label",
    "plot_attribution",
    "plot_county_timeline",
    "plot_exits",
    "plot_hindcast",
    "plot_run",
    "plot_spending",
    "plot_trajectory",
    "read_observations",
    "region_label",
    "target_outcomes",
]
