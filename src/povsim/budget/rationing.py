"""The one rationing rule: pay in priority order until the money or the capacity runs out.

Every pathway at planning, medical aid, reconstruction and the services programme spend their
county envelopes through :func:`ration`. Items (households, or village services) come sorted by
county and, within a county, by priority (:func:`priority_order`). In each county the items
are paid in that order while the cumulative cost stays within the money left; if the county
has a capacity (households or persons), items stop when it is used up, and the marginal item
is admitted with the probability of the capacity left for it — a simulated household stands
for ``weight`` real ones, so capacity is used in expectation however coarse the scale. With
``partial=True`` (services: a simulated village stands for several real ones) the first item
the money does not stretch to is paid in part.

All counties are rationed at once: cumulative sums run over each county's items (a padded
counties × items table, summed row by row, so each county's sums are the sequential ones).

What held each county back (issue 7: "every pathway reports what bound it") is returned with
the decision, one code of :data:`BINDING` per county: ``money`` when the first item left
unpaid did not fit in the money left, ``capacity`` when it fitted in the money but not in the
capacity; when nothing was left unpaid, ``eligibility`` if the county still has people of the
pathway's target group that were not eligible (``left`` > 0), else ``nobody_left``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from povsim.kernels import segment_argsort, use_compiled
from povsim.kernels import segment_cumsum as _compiled_cumsum

__all__ = [
    "BINDING",
    "PRIORITIES",
    "Rationed",
    "binding_codes",
    "combine_binding",
    "priority_order",
    "ration",
    "segment_cumsum",
]

_EPS = 1e-6
#: the priority rules of ``pathways.*.priority``
PRIORITIES = ("poorest_first", "random", "registered_first")
#: what held a pathway back in a county and year (the codes are the positions): ``none`` (the
#: pathway is off, or nothing was planned), ``money``, ``capacity``, ``eligibility`` (everyone
#: eligible was served, some of the target group was not eligible), ``nobody_left`` (everyone
#: of the target group was served, or there is nobody in it)
BINDING = ("none", "money", "capacity", "eligibility", "nobody_left")
NONE, MONEY, CAPACITY, ELIGIBILITY, NOBODY_LEFT = range(len(BINDING))


def combine_binding(before: np.ndarray, now: np.ndarray) -> np.ndarray:
    """What held a pathway back over several rationing rounds of one year (per county).

    Money or capacity refusing an item in any round binds the year (the first such reason is
    kept); otherwise ``eligibility`` wins over ``nobody_left`` (someone was left unserved at
    least once), and ``none`` gives way to any reason.
    """
    before = np.asarray(before, dtype=np.int8)
    now = np.asarray(now, dtype=np.int8)
    hard_b = (before == MONEY) | (before == CAPACITY)
    hard_n = (now == MONEY) | (now == CAPACITY)
    soft = np.where((before == ELIGIBILITY) | (now == ELIGIBILITY), ELIGIBILITY,
                    np.maximum(before, now))
    return np.where(hard_b, before, np.where(hard_n, now, soft)).astype(np.int8)


def segment_cumsum(values: np.ndarray, seg: np.ndarray, n_seg: int) -> np.ndarray:
    """Cumulative sums of ``values`` restarting at each segment (``seg`` sorted, ascending).

    Each segment's sums are computed sequentially in its own order, exactly as
    ``np.cumsum(values[seg == s])`` would: in one compiled pass where
    :func:`povsim.kernels.use_compiled` (large tables, ensembles), otherwise by NumPy slices
    or a padded table.
    """
    values = np.asarray(values, dtype=np.float64)
    n = values.size
    if n == 0:
        return values.copy()
    seg = np.asarray(seg)
    if use_compiled(n):
        return _compiled_cumsum(values, seg)
    cut = np.flatnonzero(seg[1:] != seg[:-1]) + 1
    longest = int(np.diff(cut, prepend=0, append=n).max())
    # one cumsum per segment's slice, or one over a table of segments × their longest run
    # (zero-padded): whichever touches less (assumption from timings on this machine: ~3 µs
    # per slice, ~8 ns per table cell; the table wins for many short segments)
    if 3000 * (cut.size + 1) < 8 * n_seg * longest:
        out = np.empty(n)
        bounds = [0, *cut.tolist(), n]
        for lo, hi in zip(bounds[:-1], bounds[1:]):
            np.cumsum(values[lo:hi], out=out[lo:hi])
        return out
    counts = np.bincount(seg, minlength=n_seg)
    start = np.concatenate(([0], np.cumsum(counts)[:-1]))
    pos = np.arange(n) - start[seg]
    table = np.zeros((n_seg, int(counts.max())))
    table[seg, pos] = values
    np.cumsum(table, axis=1, out=table)
    return table[seg, pos]


def priority_order(rule: str, county: np.ndarray, pc: np.ndarray, registered: np.ndarray,
                   u: np.ndarray | None = None, compiled: bool = False) -> np.ndarray:
    """Order of items by county, then by the priority rule within each county.

    Parameters
    ----------
    rule
        ``"poorest_first"`` (lowest per-capita income first), ``"registered_first"``
        (registered households first, each group poorest first) or ``"random"`` (by ``u``).
    county, pc, registered
        County, per-capita income and registration of each item.
    u
        One uniform per item (``"random"`` only).
    compiled
        Sort county by county with the compiled sort
        (:func:`povsim.kernels.segment_argsort`; the same permutation), as the engine does
        for a large table.

    Returns
    -------
    numpy.ndarray
        A stable permutation: ties keep the items' given order.
    """
    if rule == "random":
        if u is None:
            raise ValueError("the random priority needs one uniform per item")
        keys: tuple[np.ndarray, ...] = (u,)
    elif rule == "registered_first":
        keys = (pc, ~np.asarray(registered, dtype=bool))
    elif rule == "poorest_first":
        keys = (pc,)
    else:
        raise ValueError(f"unknown priority rule {rule!r} (expected one of {PRIORITIES})")
    county = np.asarray(county)
    if compiled:
        return segment_argsort(keys[0], county, keys[1] if len(keys) > 1 else None,
                               compiled=True)
    if county.size >= _SEGMENT_ITEMS and not np.any(county[1:] < county[:-1]):
        return _order_by_segment(keys, county)
    return np.lexsort((*keys, county))


#: Items from which :func:`priority_order` sorts county by county when the items come sorted by
#: county (assumption: a county's items then fit in the processor's cache, which makes the
#: sort about twice as fast at full scale; below this the per-county loop costs more than it
#: saves)
_SEGMENT_ITEMS = 1 << 16


def _order_by_segment(keys: tuple[np.ndarray, ...], county: np.ndarray) -> np.ndarray:
    """``np.lexsort((*keys, county))`` for items already sorted by county: each county's own
    items are sorted by ``keys`` (stable), which is the same permutation."""
    n = county.size
    cut = np.flatnonzero(county[1:] != county[:-1]) + 1
    starts = [0, *cut.tolist()]
    stops = [*cut.tolist(), n]
    out = np.empty(n, dtype=np.intp)
    for lo, hi in zip(starts, stops):
        part = (np.argsort(keys[0][lo:hi], kind="stable") if len(keys) == 1
                else np.lexsort(tuple(k[lo:hi] for k in keys)))
        part += lo
        out[lo:hi] = part
    return out


@dataclass(frozen=True)
class Rationed:
    """What :func:`ration` decided.

    Attributes
    ----------
    share : numpy.ndarray
        Fraction of each item paid: 1 (paid), 0 (left waiting), or in between (``partial``).
    spent : numpy.ndarray
        Money committed per county (yuan).
    units : numpy.ndarray
        Capacity units used per county.
    binding : numpy.ndarray
        What held each county back: a code of :data:`BINDING` (int8).
    """

    share: np.ndarray
    spent: np.ndarray
    units: np.ndarray
    binding: np.ndarray

    @property
    def chosen(self) -> np.ndarray:
        """Items paid in full."""
        return self.share >= 1.0


def ration(
    county: np.ndarray,
    cost: np.ndarray,
    money: np.ndarray,
    *,
    units: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    marginal_u: np.ndarray | None = None,
    partial: bool = False,
    left: np.ndarray | None = None,
) -> Rationed:
    """Pay items in the given order, county by county, until the money or the capacity ends.

    Parameters
    ----------
    county
        County of each item; items must be sorted by county (priority order within it).
    cost
        Cost of each item (yuan, ≥ 0).
    money
        Money left per county (yuan).
    units, capacity
        Capacity units of each item and capacity left per county (``inf``: no limit). Both or
        neither.
    marginal_u
        One uniform per item deciding the marginal capacity place (needed with a capacity).
    partial
        Pay the first item the money does not cover in part (no capacity allowed).
    left
        Per county, how many of the pathway's target group are not among the items (not
        eligible); decides ``eligibility`` against ``nobody_left`` when every item is paid
        (``None``: nobody).

    Returns
    -------
    Rationed
    """
    county = np.asarray(county, dtype=np.intp)
    cost = np.asarray(cost, dtype=np.float64)
    money = np.asarray(money, dtype=np.float64)
    C = money.size
    outside = np.zeros(C) if left is None else np.asarray(left, dtype=np.float64)
    if county.size == 0:
        return Rationed(np.zeros(0), np.zeros(C), np.zeros(C), binding_codes(outside, None, None))
    if np.any(np.diff(county) < 0):
        raise ValueError("items must be sorted by county")
    cum = segment_cumsum(cost, county, C)
    if partial:
        if capacity is not None:
            raise ValueError("partial payment and a capacity cannot be combined")
        rest = money[county] - (cum - cost)
        share = np.where(rest > _EPS, np.minimum(1.0, rest / np.where(cost > 0, cost, 1.0)), 0.0)
        share = np.where(cost > 0, share, (rest > _EPS).astype(float))
        spent = np.bincount(county, weights=cost * share, minlength=C)
        short = np.bincount(county, weights=share < 1.0, minlength=C) > 0
        return Rationed(share, spent, np.zeros(C), binding_codes(outside, short, None))
    affordable = cum <= money[county] + _EPS
    paid = affordable
    u_items = np.ones(county.size) if units is None else np.asarray(units, dtype=np.float64)
    if capacity is not None:
        cap = np.asarray(capacity, dtype=np.float64)
        limited = np.isfinite(cap)[county]
        if limited.any():
            ucum = segment_cumsum(u_items, county, C)
            within = ucum <= cap[county] + _EPS
            k = np.bincount(county, weights=paid, minlength=C).astype(np.intp)
            k_cap = np.bincount(county, weights=paid & within, minlength=C).astype(np.intp)
            starts = np.searchsorted(county, np.arange(C), side="left")
            short = np.flatnonzero(np.isfinite(cap) & (k_cap < k))
            keep = paid & (within | ~limited)
            if short.size:
                if marginal_u is None:
                    raise ValueError("a binding capacity needs the marginal uniforms")
                j = starts[short] + k_cap[short]  # the marginal item of each short county
                before = np.where(k_cap[short] > 0, ucum[np.maximum(j - 1, 0)], 0.0)
                left = cap[short] - before
                keep[j] = np.asarray(marginal_u)[j] < left / u_items[j]
            paid = keep
    share = paid.astype(np.float64)
    spent = np.bincount(county, weights=cost * paid, minlength=C)
    used = np.bincount(county, weights=u_items * paid, minlength=C)
    # the first unpaid item of each county: refused by the money, or (affordable) by capacity
    unpaid = np.flatnonzero(~paid)
    first = np.full(C, -1, dtype=np.intp)
    if unpaid.size:
        seg, at_ = np.unique(county[unpaid], return_index=True)
        first[seg] = unpaid[at_]
    short = first >= 0
    by_money = short & ~affordable[np.maximum(first, 0)]
    return Rationed(share, spent, used, binding_codes(outside, short, by_money))


def binding_codes(left: np.ndarray, short: np.ndarray | None,
                  by_money: np.ndarray | None) -> np.ndarray:
    """Codes of :data:`BINDING` per county: ``short`` counties left items unpaid (``by_money``:
    because of the money, otherwise the capacity); the others served every item."""
    out = np.where(left > _EPS, ELIGIBILITY, NOBODY_LEFT).astype(np.int8)
    if short is not None:
        money = short if by_money is None else by_money
        out = np.where(money, MONEY, np.where(short, CAPACITY, out)).astype(np.int8)
    return out
