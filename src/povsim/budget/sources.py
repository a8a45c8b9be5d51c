"""Where the money comes from: each source's yearly amount and its split across counties.

Each year the province splits every source's amount (times ``budget.scale``) across counties by
the scenario's county rule, or the source's own (``budget.sources.*.county_rule``: the task
forces' money follows the poor villages), with at least ``poor_county_min_share`` to the poor
counties (seed (二十)).
"""

from __future__ import annotations

import numpy as np

from povsim.scenario.schema import Scenario, at

__all__ = ["county_split", "source_amounts"]


def county_split(
    rule: str,
    registered_people: np.ndarray,
    poverty_gap: np.ndarray,
    poor_county: np.ndarray,
    poor_min_share: float,
    poor_villages: np.ndarray | None = None,
) -> np.ndarray:
    """Shares of one source going to each county (sum to 1, or all 0 if nobody is eligible).

    Parameters
    ----------
    rule
        ``"registered_poor"`` (in proportion to registered poor people), ``"equal"`` or
        ``"poverty_gap"`` (in proportion to the registered poor's total income gap) or
        ``"poor_villages"`` (in proportion to ``poor_villages``).
    registered_people, poverty_gap
        Per-county registered poor (persons) and their gap to the line (yuan).
    poor_county
        Flags of the designated poor counties.
    poor_min_share
        Minimum share of the money that must go to the poor counties (seed (二十): ≥ 50%).
    poor_villages
        Per-county designated poor villages (real villages), for ``"poor_villages"``.

    Returns
    -------
    numpy.ndarray
        One share per county.
    """
    n = len(registered_people)
    if rule == "equal":
        w = np.ones(n)
    elif rule == "poverty_gap":
        w = np.asarray(poverty_gap, dtype=float).copy()
    elif rule == "poor_villages":
        if poor_villages is None:
            raise ValueError("county rule 'poor_villages' needs the poor villages per county")
        w = np.asarray(poor_villages, dtype=float).copy()
    else:
        w = np.asarray(registered_people, dtype=float).copy()
    if w.sum() <= 0:
        w = np.ones(n)
    share = w / w.sum()
    poor_share = share[poor_county].sum()
    if poor_county.any() and poor_share < poor_min_share - 1e-12:
        pw = w * poor_county
        ow = w * ~poor_county
        if pw.sum() <= 0:
            pw = poor_county.astype(float)
        share = poor_min_share * pw / pw.sum()
        if ow.sum() > 0:
            share = share + (1 - poor_min_share) * ow / ow.sum()
        else:
            share = pw / pw.sum()
    return share


def source_amounts(scn: Scenario, year: int) -> np.ndarray:
    """Yearly amount of every source in ``year`` times ``budget.scale`` (yuan)."""
    return np.array(
        [at(src.amount, year) * scn.budget.scale for src in scn.budget.sources.values()]
    )
