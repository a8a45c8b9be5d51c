"""The envelope rule: how each county's money of every source is split across pathways.

A source may pay only for the pathways it names (``budget.sources.*.pathways``); within that, a
county splits it by the pathways' need this year (``budget.pathway_rule: need``) or by fixed
shares (``shares``). Switched-off pathways get nothing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["envelope_weights"]


def envelope_weights(
    allowed: np.ndarray, enabled: np.ndarray, base: np.ndarray
) -> np.ndarray:
    """Share of each source given to each pathway, for every county at once.

    Parameters
    ----------
    allowed
        Pathways × sources: whether the source may pay for the pathway.
    enabled
        One flag per pathway.
    base
        Counties × pathways: the weight of each pathway (its need, or its fixed share).

    Returns
    -------
    numpy.ndarray
        Counties × pathways × sources; for every county and source the shares sum to 1, or
        to 0 when no allowed pathway has a weight.
    """
    ok = allowed & np.asarray(enabled, dtype=bool)[:, None]
    w = ok[None, :, :] * np.asarray(base, dtype=float)[:, :, None]
    col = w.sum(axis=1, keepdims=True)
    return np.where(col > 0, w / np.where(col > 0, col, 1.0), 0.0)
