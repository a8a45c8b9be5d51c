"""A study's own pathway for the common component checks: a flat bonus to poor households.

Imported by ``test_common.py``, which registers it for its tests only (as ``--plugin`` would).
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

import povsim
from povsim.households import Column
from povsim.scenario.schema import PathwayConfig, param


class FlatBonusConfig(PathwayConfig):
    """Settings of the bonus."""

    amount: float = param(800.0, "test plugin: an illustrative yearly bonus", unit="yuan/year",
                          ge=0)


class FlatBonus(povsim.Pathway):
    """Registered poor households receive ``amount`` a year once enrolled."""

    owns: ClassVar[tuple[Column, ...]] = (
        Column("bonus_yearly", np.float64, "yuan/year", "flat bonus received", "flat_bonus"),
    )
    reads: ClassVar[tuple[str, ...]] = ("registered",)
    check_scenario: ClassVar[dict[str, Any]] = {
        "pathways.flat_bonus": {},
        "budget.sources.bonus_fund": {"amount": 2.0e8, "pathways": ["flat_bonus"]},
    }
    check_settings: ClassVar[dict[str, Any]] = {
        "capacity": {"value": 20_000},
        "capacity_unit": {"value": "persons", "overrides": {"pathways.flat_bonus.capacity": 50_000}},
        # a bonus that lifts near-line households out: whom the money reaches first shows
        "priority": {"value": "random", "overrides": {"pathways.flat_bonus.capacity": 50_000,
                                                      "pathways.flat_bonus.amount": 3000.0}},
        "delay_months": {"value": 6},
    }

    def eligible(self, ctx: Any, year: int) -> np.ndarray:
        hh = ctx.households
        return hh.registered & (hh.bonus_yearly == 0)

    def cost(self, ctx: Any, idx: np.ndarray, year: int) -> np.ndarray:
        return np.full(len(idx), self.config.amount)

    def enrol(self, ctx: Any, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        self.schedule(ctx, idx, month)

    def activate(self, ctx: Any, idx: np.ndarray, month: int) -> None:
        ctx.households.bonus_yearly[idx] = self.config.amount

    def income(self, ctx: Any) -> np.ndarray:
        return ctx.households.bonus_yearly.copy()
