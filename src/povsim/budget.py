"""Money: sources, the rules that split them, and the ledger of what was committed and spent.

Each year the province splits every source's amount (times ``budget.scale``) across counties by
the scenario's county rule; each county adds what it carried over and splits each source across
the pathways the source may pay for (by need or by fixed shares). Pathways then spend from their
envelopes. The :class:`Ledger` refuses to spend more than an envelope holds, so spending never
exceeds the money available per year, county and source — an invariant the tests check.
"""

from __future__ import annotations

import numpy as np

from povsim.errors import BudgetError
from povsim.scenario.schema import Scenario, at

__all__ = ["Ledger", "county_split"]

_EPS = 1e-6


def county_split(
    rule: str,
    registered_people: np.ndarray,
    poverty_gap: np.ndarray,
    poor_county: np.ndarray,
    poor_min_share: float,
) -> np.ndarray:
    """Shares of one source going to each county (sum to 1, or all 0 if nobody is eligible).

    Parameters
    ----------
    rule
        ``"registered_poor"`` (in proportion to registered poor people), ``"equal"`` or
        ``"poverty_gap"`` (in proportion to the registered poor's total income gap).
    registered_people, poverty_gap
        Per-county registered poor (persons) and their gap to the line (yuan).
    poor_county
        Flags of the designated poor counties.
    poor_min_share
        Minimum share of the money that must go to the poor counties (seed (二十): ≥ 50%).
    """
    n = len(registered_people)
    if rule == "equal":
        w = np.ones(n)
    elif rule == "poverty_gap":
        w = np.asarray(poverty_gap, dtype=float).copy()
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


class Ledger:
    """Money available, committed and spent, by year, county, pathway and source (yuan).

    Parameters
    ----------
    sources
        Source names in a fixed order (spending takes from them in this order).
    kinds
        ``"grant"`` or ``"credit"`` for each source.
    pathways
        Pathway names (including ``"services"``) in output order.
    n_counties
        Number of counties.
    carry_over
        Whether unspent county money is kept for the next year.
    """

    def __init__(
        self,
        sources: list[str],
        kinds: list[str],
        pathways: list[str],
        n_counties: int,
        carry_over: bool,
    ) -> None:
        self.sources = list(sources)
        self.kinds = np.array(kinds)
        self.pathways = list(pathways)
        self.n_counties = n_counties
        self.carry_over = carry_over
        S, P = len(sources), len(pathways)
        self.carry = np.zeros((n_counties, S))
        self.available = np.zeros((n_counties, S))
        self.envelope = np.zeros((n_counties, P, S))
        self.spent = np.zeros((n_counties, P, S))
        self.history: dict[int, dict[str, np.ndarray]] = {}
        self.year: int | None = None

    def pathway_index(self, name: str) -> int:
        """Index of a pathway in the ledger."""
        return self.pathways.index(name)

    # -- yearly cycle ----------------------------------------------------------------------
    def open_year(self, year: int, allocation: np.ndarray) -> None:
        """Start ``year`` with new money ``allocation`` (counties × sources, yuan)."""
        if np.any(allocation < -_EPS):
            raise BudgetError("negative allocation")
        self.year = year
        self.available = allocation + self.carry
        self.new_money = allocation.copy()
        self.envelope[:] = 0.0
        self.spent[:] = 0.0

    def set_envelopes(self, county: int, weights: np.ndarray) -> None:
        """Split county ``county``'s money: ``weights`` (pathways × sources) sum to ≤1 per source."""
        w = np.asarray(weights, dtype=float)
        col = w.sum(axis=0)
        if np.any(col > 1 + 1e-9):
            raise BudgetError("pathway weights of a source sum to more than 1")
        self.envelope[county] = w * self.available[county][None, :]

    def remaining(self, county: int, pathway: int, kind: str = "grant") -> float:
        """Money left in a county's envelope for a pathway, over sources of one kind (yuan)."""
        mask = self.kinds == kind
        left = self.envelope[county, pathway, mask] - self.spent[county, pathway, mask]
        return float(np.maximum(left, 0.0).sum())

    def draw(self, county: int, pathway: int, amount: float, kind: str = "grant") -> float:
        """Spend up to ``amount`` from a county's envelope; returns what was actually paid."""
        if amount <= 0:
            return 0.0
        paid = 0.0
        for s in np.flatnonzero(self.kinds == kind):
            left = self.envelope[county, pathway, s] - self.spent[county, pathway, s]
            if left <= 0:
                continue
            take = min(left, amount - paid)
            self.spent[county, pathway, s] += take
            paid += take
            if paid >= amount - _EPS:
                break
        return paid

    def draw_global(self, pathway: int, amount: float, kind: str = "grant") -> float:
        """Spend up to ``amount`` from all counties' envelopes for a pathway (province-wide)."""
        paid = 0.0
        for c in range(self.n_counties):
            if paid >= amount - _EPS:
                break
            paid += self.draw(c, pathway, amount - paid, kind)
        return paid

    def close_year(self) -> None:
        """Record the year and carry unspent money forward (if the scenario says so)."""
        spent_by_source = self.spent.sum(axis=1)
        if np.any(spent_by_source > self.available + 1e-3):
            raise BudgetError("spending exceeds the money available")
        unspent = np.maximum(self.available - spent_by_source, 0.0)
        self.carry = unspent if self.carry_over else np.zeros_like(unspent)
        self.history[int(self.year)] = {
            "available": self.available.copy(),
            "new_money": self.new_money.copy(),
            "spent": self.spent.copy(),
        }


def source_amounts(scn: Scenario, year: int) -> np.ndarray:
    """Yearly amount of every source in ``year`` times ``budget.scale`` (yuan)."""
    return np.array(
        [at(src.amount, year) * scn.budget.scale for src in scn.budget.sources.values()]
    )
