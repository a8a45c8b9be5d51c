"""Capacity that money buys: places (training, sites) paid per unit, an optional hard cap.

The campaign's capacities were bought: money built resettlement sites and paid training places
and cadres (seed (六), (五), (二十)). The one rule here gives a county, for items in its priority
order (a site, a training place), what its money buys: every item in full while the money
lasts, then the marginal item in part, so the units bought are the money over the unit cost,
``bought = money / unit_cost``, and never more than the optional hard cap (a yearly quota in
units). An item paid in part stands for the share of the real places a simulated one
represents that were paid (at 1:100 a simulated site stands for a hundred real ones); spending
never exceeds the money.

:func:`buy` is used by the relocation pathway (sites, units in persons) and the production
pathway (training and support places, units in households); :func:`bought` is the closed form
for items of one unit cost.
"""

from __future__ import annotations

import numpy as np

from povsim.budget.rationing import Rationed, binding_codes, ration

__all__ = ["bought", "buy"]


def bought(money: np.ndarray, unit_cost: float | np.ndarray,
           hard_cap: np.ndarray | None = None) -> np.ndarray:
    """Capacity units that money buys in each county: ``money / unit_cost``, at most the cap.

    Parameters
    ----------
    money
        Money per county (yuan).
    unit_cost
        Cost of one unit (yuan; 0: a unit costs nothing, so money does not limit it).
    hard_cap
        Optional hard cap per county (units; ``inf`` or ``None``: none).

    Returns
    -------
    numpy.ndarray
        Units per county.

    Examples
    --------
    >>> bought(np.array([1e6, 5e5]), 25_000.0, np.array([np.inf, 10.0])).tolist()
    [40.0, 10.0]
    """
    money = np.asarray(money, dtype=np.float64)
    cost = np.broadcast_to(np.asarray(unit_cost, dtype=np.float64), money.shape)
    units = np.divide(money, cost, out=np.full(money.shape, np.inf), where=cost > 0)
    if hard_cap is not None:
        units = np.minimum(units, np.asarray(hard_cap, dtype=np.float64))
    return units


def buy(county: np.ndarray, cost: np.ndarray, money: np.ndarray, *,
        units: np.ndarray | None = None, hard_cap: np.ndarray | None = None,
        left: np.ndarray | None = None) -> Rationed:
    """Buy items in the given order, county by county, until the money or the hard cap ends.

    Parameters
    ----------
    county
        County of each item, sorted (priority order within a county).
    cost
        Cost of each item (yuan, ≥ 0).
    money
        Money per county (yuan).
    units, hard_cap
        Capacity units of each item (default 1) and the hard cap per county (``inf``/``None``:
        none).
    left
        Per county, the target group not among the items (see :func:`povsim.budget.ration`).

    Returns
    -------
    Rationed
        ``share``: fraction of each item bought (1, 0, or in between for the marginal item of a
        county); ``spent`` ≤ ``money`` and ``units`` ≤ ``hard_cap`` per county; ``binding``:
        ``money`` or ``capacity`` (the hard cap), whichever stopped the county first, where
        an item was not bought in full.
    """
    county = np.asarray(county, dtype=np.intp)
    cost = np.asarray(cost, dtype=np.float64)
    by_money = ration(county, cost, money, partial=True)
    C = np.asarray(money).size
    by_cap_share = None
    if hard_cap is None or county.size == 0:
        share = by_money.share
    else:
        u = np.ones(county.size) if units is None else np.asarray(units, dtype=np.float64)
        cap = np.asarray(hard_cap, dtype=np.float64)
        # the cap as money and the units as prices: the same prefix rule, then the tighter one
        # (no cap: more than all the units)
        by_cap = ration(county, u, np.where(np.isfinite(cap), cap, u.sum() + 1.0), partial=True)
        share = np.minimum(by_money.share, by_cap.share)
        by_cap_share = by_cap.share
    u = np.ones(county.size) if units is None else np.asarray(units, dtype=np.float64)
    spent = np.bincount(county, weights=cost * share, minlength=C)
    used = np.bincount(county, weights=u * share, minlength=C)
    short = np.bincount(county, weights=share < 1.0, minlength=C) > 0
    if by_cap_share is None:
        money_binds = short
    else:  # the tighter of the two limits stopped the county
        money_binds = short & (np.bincount(county, weights=by_money.share, minlength=C)
                               <= np.bincount(county, weights=by_cap_share, minlength=C) + 1e-9)
    outside = np.zeros(C) if left is None else np.asarray(left, dtype=np.float64)
    return Rationed(share, spent, used, binding_codes(outside, short, money_binds))
