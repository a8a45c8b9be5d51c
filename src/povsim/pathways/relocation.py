"""移民搬迁安置一批 — relocation to resettlement sites (seed (六)).

Registered households in harsh, remote or hazard zones who are willing to move form, village by
village, the cohorts of resettlement sites (统一规划易地搬迁集中安置区: 实施一个项目、安置一方群众).
Each January a county buys sites in the ``priority`` order (``largest_first``: the villages
with the most willing hazard-zone poor first) with the capacity rule of
:mod:`povsim.budget.capacity`: a site costs ``unit_cost`` per person (the housing subsidy) plus
``site_cost`` per ``site_people`` persons (infrastructure and public services), so the persons
moved are the money over the cost per person, never more than the optional hard cap
``capacity``. A site is built in ``delay_months`` and its whole cohort moves in that month; a
simulated village stands for several real ones, so a site bought in part moves that share of its
cohort (each household with the probability of the share).

The household's contribution (``household_contribution``) is lent by a subsidised building loan
(搬迁建房贷款贴息): the pathway pays the interest, the principal comes from the credit sources,
and neither enters the household's net income — verification looks at income, not at a one-off
housing cost (a loan's principal is not income spent). Only when ``building_loan`` is off, or the
county's credit has run out, does the household pay it out of the year's income. After the move
its housing is secure, it is out of the hazard zone and has safe water, it keeps
``farm_income_kept`` of its farm income, loses ``transition_income_loss`` of its former farm
income (at most what it kept) for ``transition_months`` (an income flow, across the year end
if need be) and, with labour, gains ``wage_gain`` from jobs near the site.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["RelocationPathway", "site_order"]

#: reloc_status codes
ENROLLED, SETTLING, SETTLED = 1, 2, 3


def site_order(county: np.ndarray, village: np.ndarray, persons: np.ndarray, pc: np.ndarray,
               rule: str, u_village: np.ndarray | None = None) -> np.ndarray:
    """Order of eligible households by county, then site (village) by ``rule``, then village.

    Parameters
    ----------
    county, village, persons, pc
        County, village, persons and per-capita income of each eligible household.
    rule
        ``"largest_first"`` (villages with the most eligible persons first),
        ``"poorest_first"`` (lowest mean per-capita income of the cohort first) or ``"random"``
        (by ``u_village``).
    u_village
        One uniform per village (``"random"`` only), indexed by village.

    Returns
    -------
    numpy.ndarray
        A stable permutation keeping each village's households together (ties: lower village
        index first).

    Examples
    --------
    >>> site_order(np.array([0, 0, 0]), np.array([5, 6, 6]), np.array([4.0, 2, 3]),
    ...            np.array([1e3, 2e3, 2e3]), "largest_first").tolist()
    [1, 2, 0]
    """
    village = np.asarray(village, dtype=np.int64)
    if village.size == 0:
        return np.zeros(0, dtype=np.intp)
    vals, inv = np.unique(village, return_inverse=True)
    size = np.bincount(inv, weights=persons)
    if rule == "largest_first":
        key = -size[inv]
    elif rule == "poorest_first":
        income = np.bincount(inv, weights=np.asarray(pc, dtype=np.float64) * persons)
        key = (income / np.where(size > 0, size, 1.0))[inv]
    elif rule == "random":
        if u_village is None:
            raise ValueError("the random site order needs one uniform per village")
        key = np.asarray(u_village, dtype=np.float64)[vals][inv]
    else:
        raise ValueError(f"unknown site order {rule!r} (expected largest_first, poorest_first "
                         f"or random)")
    return np.lexsort((village, key, county))


class RelocationPathway(Pathway):
    """Moving willing registered households out of hazard and remote zones, site by site."""

    owns = (
        Column("reloc_status", np.int8, "code",
               "0 never, 1 site funded, 2 moved (settling in), 3 settled", "relocation"),
        Column("reloc_gain", np.float32, "yuan/year", "wage income gained at the site",
               "relocation"),
        Column("reloc_settling", np.float32, "yuan/year",
               "farm income lost while settling in (transition_months after the move)",
               "relocation"),
        Column("reloc_loan", np.float32, "yuan", "building loan principal for the household's "
               "contribution", "relocation"),
    )
    modifies = ("hazard_zone", "house_dangerous", "farm_base", "relocated", "water_household",
                "loss_ytd", "monthly_income")
    reads = ("registered", "willing_to_move", "size", "n_labour", "transitory", "pc_assessed")
    #: the yearly income: the gain after the move, less what is still settling (yuan/year)
    income_columns = (("reloc_gain", 1), ("reloc_settling", -1))
    #: the common checks (povsim.testing): settings whose effect needs money to be short
    check_settings = {
        "priority": {"value": "poorest_first", "overrides": {"budget.scale": 0.3}},
        "capacity": {"value": 20_000.0},
        "capacity_unit": {"value": "households",
                          "overrides": {"pathways.relocation.capacity": 20_000.0}},
        "building_loan": {"value": False},
    }

    @property
    def priority(self) -> str:
        """Household order handed to :meth:`ration`, which re-orders by site (see
        :func:`site_order`); the site rule is ``pathways.relocation.priority``."""
        return "poorest_first"

    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        hh = ctx.households
        return (hh.registered & hh.hazard_zone & hh.willing_to_move & (hh.reloc_status == 0)
                & ~hh.relocated)

    def _interest(self) -> float:
        cfg = self.config
        if not cfg.building_loan:
            return 0.0
        return cfg.household_contribution * cfg.loan_interest_rate * cfg.loan_term_years

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        """Housing subsidy and the site's infrastructure per person, plus the loan interest."""
        cfg = self.config
        per_person = cfg.unit_cost + cfg.site_cost / cfg.site_people
        return per_person * ctx.households.size[idx].astype(np.float64) + self._interest()

    def credit(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        """The building loan: the household's contribution (with ``building_loan``)."""
        amount = self.config.household_contribution if self.config.building_loan else 0.0
        return np.full(len(idx), amount)

    def ration(self, ctx: Context, idx: np.ndarray, cost: np.ndarray, credit: np.ndarray,
               units: np.ndarray | None, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Buy sites, village cohorts in the site order, with :meth:`Context.buy`."""
        hh = ctx.households
        u_village = None
        if self.config.priority == "random":
            u_village = ctx.streams.get("relocation.site_order", year).random(ctx.places.n_villages)
        order = site_order(hh.county[idx], hh.village[idx], hh.size[idx].astype(np.float64),
                           hh.pc_assessed[idx], self.config.priority, u_village)
        chosen = np.zeros(idx.size, dtype=bool)
        ok = np.zeros(idx.size, dtype=bool)
        if idx.size == 0:
            return chosen, ok
        units_o = None if units is None else units[order]
        got, got_ok = ctx.buy(idx[order], cost[order], units=units_o, credit=credit[order],
                              group=hh.village[idx[order]])
        chosen[order] = got
        ok[order] = got_ok
        return chosen, ok

    def enrol(self, ctx: Context, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        hh = ctx.households
        hh.reloc_status[idx] = ENROLLED
        hh.reloc_loan[idx] = np.where(credit_ok, self.config.household_contribution, 0.0)
        self.schedule(ctx, idx, month)

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        hh = ctx.households
        status = hh.reloc_status[idx]
        self._move(ctx, idx[status == ENROLLED], month)
        self._settle(ctx, idx[status == SETTLING])

    def _move(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        if idx.size == 0:
            return
        cfg = self.config
        hh = ctx.households
        farm = hh.farm_base[idx].astype(np.float64) * hh.transitory[idx]
        # the contribution is a one-off housing cost: lent (not income) unless no loan was had
        unpaid = hh.reloc_loan[idx] <= 0
        hh.loss_ytd[idx] += np.where(unpaid, cfg.household_contribution, 0.0)
        lost = farm * (1.0 - cfg.farm_income_kept)
        hh.farm_base[idx] *= np.float32(cfg.farm_income_kept)
        # the transition: a share of the (pre-move) farm income is lost, at most what is kept
        settling = np.minimum(farm * cfg.transition_income_loss, farm * cfg.farm_income_kept)
        if cfg.transition_months == 0:
            settling = np.zeros(idx.size)
        gain = np.where(hh.n_labour[idx] > 0, cfg.wage_gain, 0.0)
        hh.reloc_gain[idx] = gain
        hh.reloc_settling[idx] = settling
        ctx.add_income(idx, gain - lost - settling)
        hh.relocated[idx] = True
        hh.hazard_zone[idx] = False
        hh.house_dangerous[idx] = False
        hh.water_household[idx] = True
        if cfg.transition_months > 0:
            hh.reloc_status[idx] = SETTLING
            ctx.schedule(month + cfg.transition_months, idx)
        else:
            hh.reloc_status[idx] = SETTLED

    def _settle(self, ctx: Context, idx: np.ndarray) -> None:
        if idx.size == 0:
            return
        hh = ctx.households
        ctx.add_income(idx, hh.reloc_settling[idx].astype(np.float64))
        hh.reloc_settling[idx] = 0.0
        hh.reloc_status[idx] = SETTLED

    def housing_secured(self, ctx: Context) -> np.ndarray:
        """Housing is secure from the move (the household moves into a finished house)."""
        return ctx.households.reloc_status >= SETTLING

    def housing_secured_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray:
        return ctx.households.reloc_status[rows] >= SETTLING
