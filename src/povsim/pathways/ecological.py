"""生态扶贫 — ecological ranger posts and ecological compensation (seed (十八)).

**Ranger posts** (生态护林员, 支持贫困地区群众直接参与重大生态工程建设，增加其生态建设管护收入).
Registered poor households with labour in the listed ``regions`` (by default the four poverty
regions, whose counties are the 88 poor counties) are candidates for a post. The posts are a
stock, ``capacity`` posts held in the year: each January the holders are renewed first (a
household keeps its post while it has labour, and, with ``keep_after_exit``, after it exits),
and the posts left are split across counties in proportion to their candidates and filled in
the pathway's priority order, while the county's money lasts (the capacity money buys,
:meth:`povsim.context.Context.buy`: posts = money / wage, at most the posts). A post pays ``wage`` a year from ``delay_months`` after
selection; the wage is the pathway's income flow while the household holds the post, and its
cost, paid each year from the county's envelope. A holder not renewed (no money, fewer posts)
loses the post and the wage.

**Ecological compensation** (生态补偿: new-round returning farmland to forest 退耕还林, the raised
grassland and public-welfare forest compensation). A share ``compensation.share`` of the
households of ``compensation.regions`` have land that enters the programmes; the first January
such a household is registered poor its contract starts, and for ``compensation.years`` years it
is paid ``compensation.per_household`` a year (also after it exits: the contract runs on), of
which ``compensation.net_share`` is an income gain (the rest replaces the crop or livestock
income given up). Payments are made each January from the county's envelope after the posts,
in proportion when it runs short.

The money is the ``ecological_transfers`` source by default, which goes to the counties in
proportion to :meth:`EcologicalPathway.county_need` (``county_rule: need``): it follows the
posts and contracts, not the register.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from povsim.households import Column
from povsim.kernels import LazyKernel, use_compiled
from povsim.pathways.base import Pathway
from povsim.scenario.schema import at

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["EcologicalPathway", "split_posts"]

#: capacity units added to a county's share of posts so that all its holders fit despite
#: rounding in the rationing's running sums (assumption: far below one simulated household)
_SLACK = 1e-6


def split_posts(total: float, held: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Posts of every county this year: its holders keep theirs, the rest follow candidates.

    Parameters
    ----------
    total
        Posts in the province this year (capacity units).
    held
        Units held by last year's holders who are up for renewal, per county.
    candidates
        Units of the new candidates, per county.

    Returns
    -------
    numpy.ndarray
        Capacity per county: ``held + (total - sum(held)) × candidates / sum(candidates)``
        when the posts exceed the holders (no new posts where there are no candidates); when
        they do not, the holders' units scaled down to the total.

    Examples
    --------
    >>> split_posts(10.0, np.array([2.0, 0.0]), np.array([1.0, 3.0])).round(6)
    array([4., 6.])
    >>> split_posts(2.0, np.array([2.0, 2.0]), np.array([5.0, 0.0])).round(6)
    array([1., 1.])
    """
    held = np.asarray(held, dtype=np.float64)
    candidates = np.asarray(candidates, dtype=np.float64)
    h = held.sum()
    if h >= total:
        return held * (total / h) if h > 0 else np.zeros_like(held)
    c = candidates.sum()
    new = (total - h) * candidates / c if c > 0 else np.zeros_like(held)
    return held + new


class EcologicalPathway(Pathway):
    """Ranger posts for registered poor households with labour, and ecological compensation."""

    owns = (
        Column("eco_post", np.int8, "code",
               "0 no ranger post, 1 selected (wage not yet started), 2 holds a post",
               "ecological"),
        Column("eco_wage", np.float32, "yuan/year", "ranger wage while the post is held",
               "ecological"),
        Column("eco_land", np.bool_, "flag",
               "has land that enters the ecological compensation programmes", "ecological"),
        Column("eco_comp_start", np.int16, "year",
               "year the household's compensation contract started (-1: none)", "ecological",
               fill=-1),
        Column("eco_comp", np.float32, "yuan/year",
               "income gain from ecological compensation paid this year", "ecological"),
    )
    modifies = ("monthly_income", "plan")
    reads = ("registered", "n_labour")
    #: how the common checks exercise settings whose effect needs a context
    check_settings = {
        "regions": {"value": ["liangshan_yi", "tibetan_plateau"]},
        "compensation.regions": {"value": ["tibetan_plateau"]},
        "delay_months": {"value": 6},
        # at the checks' 1:10,000 a county has about one candidate: the order matters at 1:1,000
        "priority": {"value": "random", "overrides": {"population.scale": 1000}},
    }

    # -- zones ---------------------------------------------------------------------------
    @staticmethod
    def _in(ctx: Context, regions: list[str]) -> np.ndarray:
        names = list(ctx.places.region_names)
        # a lookup by region code: one gather over the households (``np.isin`` sorts them)
        inside = np.zeros(len(names), dtype=bool)
        inside[[names.index(r) for r in regions if r in names]] = True
        return inside[ctx.households.region]

    def setup(self, ctx: Context) -> None:
        comp = self.config.compensation
        u = ctx.streams.get("ecological.land").random(ctx.households.n)
        ctx.households.eco_land[:] = (u < comp.share) & self._in(ctx, comp.regions)

    def start_year(self, ctx: Context, year: int) -> None:
        """Posts of holders who can no longer renew them end (no labour left, or exited
        without ``keep_after_exit``); last year's compensation is reset."""
        hh = ctx.households
        hh.eco_comp[:] = 0.0
        gone = np.flatnonzero((hh.eco_post > 0) & ~self._renewable(ctx))
        self._end_posts(ctx, gone)

    # -- posts ---------------------------------------------------------------------------
    def _renewable(self, ctx: Context) -> np.ndarray:
        hh = ctx.households
        ok = hh.n_labour > 0
        if not self.config.keep_after_exit:
            ok = ok & hh.registered
        return ok

    def _end_posts(self, ctx: Context, idx: np.ndarray) -> None:
        hh = ctx.households
        hh.eco_post[idx] = 0
        hh.eco_wage[idx] = 0.0

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        """Holders up for renewal, and registered households with labour in the regions
        without a post."""
        hh = ctx.households
        new = (hh.eco_post == 0) & hh.registered & (hh.n_labour > 0)
        new &= self._in(ctx, self.config.regions)
        return ((hh.eco_post > 0) & self._renewable(ctx)) | new

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        """The year's wage for a holder; for a new post the months after the delay."""
        wage = at(self.config.wage, year)
        held = ctx.households.eco_post[idx] > 0
        new_share = max(12 - self.delay, 0) / 12.0
        return np.where(held, wage, wage * new_share)

    def _county_posts(self, ctx: Context, idx: np.ndarray, held: np.ndarray,
                      units: np.ndarray, total: float) -> np.ndarray:
        county = ctx.households.county[idx]
        C = ctx.places.n_counties
        h = np.bincount(county, weights=units * held, minlength=C).astype(np.float64)
        c = np.bincount(county, weights=units * ~held, minlength=C).astype(np.float64)
        return split_posts(total, h, c) + _SLACK * (h > 0)

    def county_need(self, ctx: Context, year: int) -> np.ndarray:
        """Expected spending per county (yuan, real scale): the holders' wages, the new posts
        its share of the posts left allows (at the mean cost of its candidates) and the
        compensation due."""
        hh = ctx.households
        C = ctx.places.n_counties
        w = ctx.weight
        idx = np.flatnonzero(self.eligible(ctx, year))
        county = hh.county[idx]
        cost = self.cost(ctx, idx, year) * w
        held = hh.eco_post[idx] > 0
        need = np.bincount(county, weights=cost * held, minlength=C).astype(np.float64)
        new_cost = np.bincount(county, weights=cost * ~held, minlength=C).astype(np.float64)
        cap = ctx.plan.capacity.get(self.name)
        if cap is not None:
            units = self.units(ctx, idx) * w
            posts = self._county_posts(ctx, idx, held, units, float(cap.sum()))
            h = np.bincount(county, weights=units * held, minlength=C).astype(np.float64)
            c = np.bincount(county, weights=units * ~held, minlength=C).astype(np.float64)
            fill = np.divide(np.maximum(posts - h, 0.0), c, out=np.zeros(C), where=c > 0)
            new_cost *= np.minimum(fill, 1.0)
        return need + new_cost + self.expected_need(ctx, year)

    def ration(self, ctx: Context, idx: np.ndarray, cost: np.ndarray, credit: np.ndarray,
               units: np.ndarray | None, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Renew the holders first, then fill the posts left (:func:`split_posts` sets each
        county's capacity), buying posts with the capacity rule of :meth:`Context.buy`
        (posts = money / wage, at most the county's posts; the marginal post filled with the
        probability of the money or posts left for it, so posts are filled in expectation at
        any scale); holders not renewed lose their post."""
        hh = ctx.households
        held = hh.eco_post[idx] > 0
        cap = ctx.plan.capacity.get(self.name)
        if cap is not None:
            u = units if units is not None else self.units(ctx, idx) * ctx.weight
            cap[:] = self._county_posts(ctx, idx, held, u, float(cap.sum()))
        order = np.lexsort((~held, hh.county[idx]))  # stable: holders first in each county
        got, ok = ctx.buy(idx[order], cost[order],
                          units=None if units is None else units[order],
                          credit=credit[order])
        chosen = np.empty_like(got)
        credit_ok = np.empty_like(ok)
        chosen[order] = got
        credit_ok[order] = ok
        self._end_posts(ctx, idx[held & ~chosen])
        return chosen, credit_ok

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        hh = ctx.households
        held = hh.eco_post[idx] == 2
        hh.eco_wage[idx[held]] = at(self.config.wage, year)  # renewed at this year's wage
        new = idx[hh.eco_post[idx] == 0]
        hh.eco_post[new] = 1
        self.schedule(ctx, new, month)

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        idx = idx[hh.eco_post[idx] == 1]  # a post ended before its wage began stays ended
        wage = at(self.config.wage, ctx.year)
        hh.eco_post[idx] = 2
        hh.eco_wage[idx] = wage
        ctx.add_income(idx, wage)

    # -- compensation --------------------------------------------------------------------
    def _contracts(self, ctx: Context, year: int) -> np.ndarray:
        """Households paid compensation this year (contracts starting now included)."""
        hh = ctx.households
        comp = self.config.compensation
        if not comp.enabled:
            return np.zeros(0, dtype=np.intp)
        # a running contract started in year s >= 0 pays while year - s < years; one starting
        # now (land, registered, no contract yet) pays if contracts last at least a year
        s = hh.eco_comp_start
        paid = (s >= 0) & (s > year - comp.years)
        if comp.years > 0:
            paid |= (s < 0) & hh.eco_land & hh.registered
        return np.flatnonzero(paid)

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        """Compensation due this year by county (yuan), paid besides enrolment."""
        rows = self._contracts(ctx, year)
        pay = self.config.compensation.per_household * ctx.weight
        return np.bincount(ctx.households.county[rows], minlength=ctx.places.n_counties) * pay

    def step(self, ctx: Context, month: int) -> None:
        """In January (after planning) start the new contracts and pay the year's
        compensation from the envelope, in proportion when it runs short."""
        if month % 12 or not self.enabled:
            return
        hh = ctx.households
        comp = self.config.compensation
        year = ctx.year
        rows = self._contracts(ctx, year)
        if rows.size == 0:
            return
        new = rows[hh.eco_comp_start[rows] < 0]
        hh.eco_comp_start[new] = year
        county = hh.county[rows]
        due = np.bincount(county, minlength=ctx.places.n_counties) * (
            comp.per_household * ctx.weight)
        paid = ctx.spend(due)
        share = np.divide(paid, due, out=np.zeros_like(due), where=due > 0)
        gain = comp.per_household * comp.net_share * share[county]
        hh.eco_comp[rows] = gain
        ctx.add_income(rows, gain)
        ctx.mark(served=rows[gain > 0])

    # -- income --------------------------------------------------------------------------
    def income(self, ctx: Context) -> np.ndarray:
        return self.income_at(ctx, slice(None))

    def income_at(self, ctx: Context, rows: Any) -> np.ndarray:
        hh = ctx.households
        if use_compiled(hh.n) and not isinstance(rows, slice):
            # the same float32 sum, one pass over the rows (the attribution's monthly reads)
            return _eco_income(hh.eco_post, hh.eco_wage, hh.eco_comp,
                               np.ascontiguousarray(rows, dtype=np.int64))
        wage = np.where(hh.eco_post[rows] == 2, hh.eco_wage[rows], 0.0)
        return (wage + hh.eco_comp[rows]).astype(np.float64)


def _eco_income_loop(post, wage, comp, rows):  # type: ignore[no-untyped-def]
    """:meth:`EcologicalPathway.income_at` of ``rows`` compiled: the wage of a post held
    (code 2) plus the compensation, added in float32 as NumPy does, then widened to float64."""
    out = np.empty(rows.size)
    zero = np.float32(0.0)
    for k in range(rows.size):
        i = rows[k]
        w = wage[i] if post[i] == 2 else zero
        out[k] = np.float64(w + comp[i])
    return out


_eco_income = LazyKernel(_eco_income_loop)
