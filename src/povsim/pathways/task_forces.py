"""驻村帮扶工作组 — village task forces (seed (二十六), (四)).

Every January each county staffs a resident task force in each of its poor villages that has not
exited (``withdraw_on_exit``: a force stays until its village exits, "贫困村不摘帽…工作组就不撤出",
and is withdrawn then). A force is ``cadres_per_force`` cadres sent from province, prefecture
and county organs; it costs ``cadres_per_force × cost_per_cadre + village_work_funds`` a year,
paid from the county's ``task_forces`` envelope: the villages with the highest incidence are
staffed first, and the first the money does not stretch to is staffed in part (a simulated
village stands for ``village_weight`` real ones). All counties staff together in one pass over
the villages (:meth:`TaskForcesPathway.organise`).

Where a force works (the households of its village, :attr:`povsim.context.RunState.forces`):

* **识真贫** (seed (四)) — at the year-end assessment the poor left off the register are found
  with at least ``identification_rate`` and the force's re-check takes wrongly included
  households above the line off the register with ``removal_rate``
  (:func:`povsim.exits.assess`); those removals are exits the forces caused
  (:meth:`TaskForcesPathway.removed`, the ``task_forces`` entry of ``exits_by_pathway``);
* **enrolment** — with ``enrol_first`` every pathway serves the households of villages with a
  force next after those of the villages due to exit (:func:`povsim.planning.concentrate`);
* **follow-up** (动态化管理) — exited households that fall back are found with at least
  ``return_detection_rate``, re-registered and served again.

Outside the force villages the named helpers (帮扶责任人) of scattered poor households work at the
base rates (``population.targeting``, ``exits.household.return_detection_rate``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from povsim.budget import ration
from povsim.households import Column
from povsim.pathways.base import Pathway

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["TaskForcesPathway", "staff_villages"]


def staff_villages(
    village_county: np.ndarray,
    need: np.ndarray,
    incidence: np.ndarray,
    weight: np.ndarray,
    cost_per_force: float,
    money: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Staff the forces every county can pay for, the highest-incidence villages first.

    Parameters
    ----------
    village_county
        County of each (simulated) village.
    need
        Real villages each village stands for that need a force (0: none).
    incidence
        Registered poor / population of each village (the order of staffing).
    weight
        Real villages each simulated village stands for.
    cost_per_force
        Yearly cost of one force (yuan).
    money
        Money each county has for its forces (yuan).

    Returns
    -------
    staffed, spent, binding
        Share of the real villages of each village with a force (0-1); money spent per
        county (yuan); what held each county back (:data:`povsim.budget.BINDING` codes).
    """
    need = np.asarray(need, dtype=np.float64)
    v = np.flatnonzero(need > 0)
    v = v[np.lexsort((-np.asarray(incidence)[v], np.asarray(village_county)[v]))]
    res = ration(np.asarray(village_county)[v], need[v] * cost_per_force, money, partial=True)
    staffed = np.zeros(need.size)
    staffed[v] = np.minimum(res.share, 1.0) * need[v] / np.asarray(weight)[v]
    return staffed, res.spent, res.binding


class TaskForcesPathway(Pathway):
    """Resident task forces in the poor villages: staffing, targeting, enrolment, follow-up."""

    owns = (Column("tf_draw", np.float32, "1",
                   "uniform placing the household among the real villages with a force when its "
                   "simulated village is partly staffed", "task_forces"),)
    modifies = ("task_forces",)
    reads = ("registered", "size", "place_exits", "flows")
    lifts = False
    #: how the common checks exercise settings whose effect needs a context (at the checks'
    #: small scale): follow-up that matters only when the base monitoring misses households
    #: (few fall back among its ~800 households); an order that matters when money is short
    check_settings: ClassVar[dict[str, Any]] = {
        "return_detection_rate": {"value": 0.0,
                                  "overrides": {"exits.household.return_detection_rate": 0.0}},
        "enrol_first": {"value": False, "overrides": {"budget.scale": 0.3}},
    }

    def setup(self, ctx: Context) -> None:
        hh = ctx.households
        hh.tf_draw[:] = ctx.streams.get("task_forces.household").random(hh.n, dtype=np.float32)
        self.staffed = np.zeros(ctx.places.n_villages)

    @property
    def cost_per_force(self) -> float:
        """Yearly cost of one force: its cadres' allowances and its work funds (yuan)."""
        cfg = self.config
        return float(cfg.cadres_per_force * cfg.cost_per_cadre + cfg.village_work_funds)

    def _need(self, ctx: Context) -> np.ndarray:
        """Real villages each village stands for that need a force this year."""
        P = ctx.places
        need = P.village_poor * P.village_weight
        if self.config.withdraw_on_exit:
            need = need * (1.0 - ctx.place.village_exited)
        return need

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        """Cost of a force in every poor village still needing one, by county (yuan)."""
        P = ctx.places
        return np.bincount(P.village_county, weights=self._need(ctx) * self.cost_per_force,
                           minlength=P.n_counties)

    def organise(self, ctx: Context, year: int) -> None:
        """Staff this year's forces with the envelopes; set where they work."""
        P = ctx.places
        hh = ctx.households
        reg = ctx.village_sum(hh.size * hh.registered, dtype=np.float64)
        inc = np.divide(reg * ctx.weight, ctx.place.village_population,
                        out=np.zeros(P.n_villages), where=ctx.place.village_population > 0)
        need = self._need(ctx)
        self.staffed, spent, binding = staff_villages(
            P.village_county, need, inc, P.village_weight, self.cost_per_force, ctx.money_left())
        ctx.bound(binding)
        if spent.any():
            ctx.spend(spent)
        covered = ctx.village_below(hh.tf_draw, self.staffed)
        # served: the registered households of a force's village (each with a named helper);
        # waiting: those of a village needing a force that the money did not stretch to
        unstaffed = (need > 0) & (self.staffed < need / P.village_weight - 1e-9)
        ctx.mark(served=covered & hh.registered,
                 waiting=~covered & hh.registered & unstaffed[hh.village])
        cfg = self.config
        forces = ctx.task_forces
        forces.clear()
        forces.update(
            covered=covered,
            identification=cfg.identification_rate,
            removal=cfg.removal_rate,
            return_detection=cfg.return_detection_rate,
            enrol_first=cfg.enrol_first,
        )

    def removed(self, ctx: Context) -> np.ndarray | None:
        """Households the forces' re-check took off the register at this assessment."""
        return ctx.flows.get("exited_by_recheck")

    def record(self, ctx: Context, year: int, flows: bool) -> dict[str, Any]:
        P = ctx.places
        R = P.n_regions
        if flows:
            per_county = np.bincount(P.village_county, weights=self.staffed * P.village_weight,
                                     minlength=P.n_counties)
            staffed = ctx.by_region(per_county)
        else:
            staffed = np.full(R, np.nan)
        return {
            "task_forces_staffed": (("region",), staffed, {
                "units": "villages",
                "description": "poor villages with a resident task force this year "
                               "(seed 二十六)"}),
            "task_force_cadres": (("region",), staffed * self.config.cadres_per_force, {
                "units": "persons",
                "description": "cadres resident in poor villages in the task forces this year"}),
        }
