"""The pathway protocol: eligibility, cost, enrolment and effect of one intervention.

Counties enrol households pathway by pathway: the pathway says who is eligible
(:meth:`Pathway.eligible`), what each costs (:meth:`Pathway.cost`, yuan per household, grant
money) and how many capacity units each takes; the engine rations every county's envelope in
the pathway's priority order (:meth:`Pathway.ration`: :func:`povsim.budget.ration`, or the
capacity money buys, :func:`povsim.budget.buy`) and calls :meth:`Pathway.enrol` for those it
can pay for. Effects begin after ``delay_months`` through :meth:`Pathway.activate`,
which the engine calls in the month they are due.

*Event-driven* pathways (medical aid, post-disaster reconstruction) are paid when an event
happens during the year; they ration their envelope with
:meth:`povsim.context.Context.ration` and answer the events of the shocks (``handles``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from povsim.components import Component

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["Pathway"]


class Pathway(Component):
    """Base class of the pathways (and users' own).

    Subclasses override :meth:`eligible`, :meth:`cost`, :meth:`enrol` and, if the effect is
    delayed, :meth:`activate`. The default :meth:`income` returns ``None``.
    """

    #: paid when events happen during the year rather than at planning
    event_driven: ClassVar[bool] = False
    #: its money counts in the county plans' pace (:func:`povsim.planning.plan_sources`);
    #: false for a pathway lifting nobody itself (the task forces' staffing)
    lifts: ClassVar[bool] = True

    @property
    def enabled(self) -> bool:
        """Whether the scenario switches the pathway on."""
        return bool(getattr(self.config, "enabled", True))

    @property
    def delay(self) -> int:
        """Months from enrolment to effect."""
        return int(getattr(self.config, "delay_months", 0))

    @property
    def priority(self) -> str:
        """The order in which a county serves eligible households (``pathways.*.priority``)."""
        return str(getattr(self.config, "priority", "poorest_first"))

    # -- planning ------------------------------------------------------------------------
    def eligible(self, ctx: Context, year: int) -> np.ndarray:
        """Boolean mask over all households: eligible and not yet served."""
        return np.zeros(ctx.households.n, dtype=bool)

    def cost(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        """Grant money needed to enrol households ``idx`` (yuan per real household)."""
        return np.zeros(len(idx))

    def credit(self, ctx: Context, idx: np.ndarray, year: int) -> np.ndarray:
        """Credit (loan principal) asked for by households ``idx`` (yuan per real household)."""
        return np.zeros(len(idx))

    def units(self, ctx: Context, idx: np.ndarray) -> np.ndarray:
        """Capacity units each household uses (1, or its size when capacity is in persons)."""
        if getattr(self.config, "capacity_unit", "households") == "persons":
            return ctx.sizes(idx)
        return np.ones(len(idx))

    def ration(self, ctx: Context, idx: np.ndarray, cost: np.ndarray, credit: np.ndarray,
               units: np.ndarray | None, year: int) -> tuple[np.ndarray, np.ndarray]:
        """Decide which of the eligible households ``idx`` (sorted by county, priority order)
        this year's money pays for; returns the flags ``(chosen, credit_ok)`` over ``idx``.

        The default is the shared rule of :meth:`povsim.context.Context.ration` (households
        paid in full in order, a capacity's marginal household admitted with the probability
        of the capacity left); a pathway whose places money buys uses
        :meth:`povsim.context.Context.buy` (:mod:`povsim.budget.capacity`).
        """
        return ctx.ration(idx, cost, units=units, credit=credit)

    def organise(self, ctx: Context, year: int) -> None:
        """Act on places once the envelopes are set, before households are rationed (the
        task forces are staffed here); called every January while the pathway is enabled."""

    def enrol(
        self, ctx: Context, idx: np.ndarray, year: int, month: int, credit_ok: np.ndarray
    ) -> None:
        """Enrol households ``idx`` (already paid for) in ``month``.

        ``credit_ok`` says, per household, whether the credit it asked for was available.
        """

    def activate(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        """The effect of an earlier enrolment begins for households ``idx``."""

    def expected_need(self, ctx: Context, year: int) -> np.ndarray:
        """Expected yearly spending by county (yuan): for event-driven pathways all of it; for
        the others what they expect to pay during the year besides enrolment (added to the
        enrolment cost when the county splits its money by need)."""
        return np.zeros(ctx.places.n_counties)

    def county_need(self, ctx: Context, year: int) -> np.ndarray | None:
        """Money the pathway expects to spend in each county this year (yuan), for a source
        split across counties by need (``budget.sources.*.county_rule: need``), or ``None``
        (the default: such a source ignores the pathway). Called in January after the
        capacities are split, before the money is."""
        return None

    # -- attribution of exits (see povsim.assessment) ----------------------------------
    def relief(self, ctx: Context) -> np.ndarray | None:
        """Money this year that spared households costs (yuan per household), or ``None``.

        Counted with the pathway's :meth:`income` when exits are attributed.
        """
        return None

    def relief_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray | None:
        """:meth:`relief` of the households ``rows`` only (or ``None``): the attribution reads
        it for the exiting households; a pathway whose relief is a column overrides this to
        read just those rows."""
        got = self.relief(ctx)
        return None if got is None else np.asarray(got)[rows]

    def removed(self, ctx: Context) -> np.ndarray | None:
        """Households this pathway took off the register at this year's assessment (a mask,
        e.g. the task forces' re-check of wrongly included households), or ``None``."""
        return None

    def housing_secured(self, ctx: Context) -> np.ndarray | None:
        """Households whose housing guarantee this pathway made hold (a mask), or ``None``."""
        return None

    def housing_secured_at(self, ctx: Context, rows: np.ndarray) -> np.ndarray | None:
        """:meth:`housing_secured` of the households ``rows`` only (or ``None``).

        The attribution of exits reads it every month for the households registered in
        January; a pathway whose mask is a column test overrides this to test just those rows.
        """
        got = self.housing_secured(ctx)
        return None if got is None else np.asarray(got)[rows]

    def schedule(self, ctx: Context, idx: np.ndarray, month: int) -> None:
        """Ask the engine to call :meth:`activate` for ``idx`` after the delay."""
        ctx.schedule(month + self.delay, idx)
