"""The pathway protocol: eligibility, cost, enrolment and effect of one intervention.

Counties enrol households pathway by pathway: the pathway says who is eligible
(:meth:`Pathway.eligible`), what each costs (:meth:`Pathway.cost`, yuan per household, grant
money) and how many capacity units each takes; the county takes eligible households in priority
order until money or capacity runs out, and calls :meth:`Pathway.enrol` for those it can pay for.
Effects begin after ``delay_months`` through :meth:`Pathway.activate`, which the model calls in
the month they are due.

*Event-driven* pathways (medical aid, post-disaster reconstruction) are paid when an event
happens during the year; they draw on the county's envelope through
:meth:`povsim.budget.Ledger.draw`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

import numpy as np

from povsim.components import Component

if TYPE_CHECKING:
    from povsim.model import PovertyModel

__all__ = ["Pathway"]


class Pathway(Component):
    """Base class of the five pathways (and users' own).

    Subclasses override :meth:`eligible`, :meth:`cost`, :meth:`enrol` and, if the effect is
    delayed, :meth:`activate`. The default :meth:`income` returns ``None``.
    """

    #: paid when events happen during the year rather than at planning
    event_driven: ClassVar[bool] = False

    @property
    def enabled(self) -> bool:
        """Whether the scenario switches the pathway on."""
        return bool(getattr(self.config, "enabled", True))

    @property
    def delay(self) -> int:
        """Months from enrolment to effect."""
        return int(getattr(self.config, "delay_months", 0))

    # -- planning ------------------------------------------------------------------------
    def eligible(self, model: PovertyModel, year: int) -> np.ndarray:
        """Boolean mask over all households: eligible and not yet served."""
        return np.zeros(model.households.n, dtype=bool)

    def cost(self, model: PovertyModel, idx: np.ndarray, year: int) -> np.ndarray:
        """Grant money needed to enrol households ``idx`` (yuan per real household)."""
        return np.zeros(len(idx))

    def credit(self, model: PovertyModel, idx: np.ndarray, year: int) -> np.ndarray:
        """Credit (loan principal) asked for by households ``idx`` (yuan per real household)."""
        return np.zeros(len(idx))

    def units(self, model: PovertyModel, idx: np.ndarray) -> np.ndarray:
        """Capacity units each household uses (1, or its size when capacity is in persons)."""
        if getattr(self.config, "capacity_unit", "households") == "persons":
            return model.households.size[idx].astype(np.float64)
        return np.ones(len(idx))

    def enrol(
        self, model: PovertyModel, idx: np.ndarray, year: int, month: int, credit_ok: np.ndarray
    ) -> None:
        """Enrol households ``idx`` (already paid for) in ``month``.

        ``credit_ok`` says, per household, whether the credit it asked for was available.
        """

    def activate(self, model: PovertyModel, idx: np.ndarray, month: int) -> None:
        """The effect of an earlier enrolment begins for households ``idx``."""

    def expected_need(self, model: PovertyModel, year: int) -> np.ndarray:
        """For event-driven pathways: expected yearly spending by county (yuan)."""
        return np.zeros(model.places.n_counties)

    def schedule(self, model: PovertyModel, idx: np.ndarray, month: int) -> None:
        """Ask the model to call :meth:`activate` for ``idx`` after the delay."""
        model.schedule(month + self.delay, self, idx)
