"""The ledger: money available, put in envelopes and spent, by county, pathway and source.

Arrays are counties × sources (``available``) and counties × pathways × sources (``envelope``,
``spent``); every operation acts on all counties at once. The ledger refuses to spend more
than an envelope holds, so spending never exceeds the money available per year, county and
source — an invariant the tests check.
"""

from __future__ import annotations

import numpy as np

from povsim.errors import BudgetError

__all__ = ["KINDS", "Ledger"]

_EPS = 1e-6
#: kinds of money: grants are spent, credit is lent (loan principal)
KINDS = ("grant", "credit")


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
        self.new_money = np.zeros((n_counties, S))
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
        if np.any(allocation < -_EPS) or not np.all(np.isfinite(allocation)):
            raise BudgetError("negative or non-finite allocation")
        self.year = year
        self.available = allocation + self.carry
        self.new_money = allocation.copy()
        self.envelope[:] = 0.0
        self.spent[:] = 0.0

    def set_envelopes(self, weights: np.ndarray) -> None:
        """Split every county's money: ``weights`` (counties × pathways × sources) sum to ≤ 1
        over pathways for each county and source."""
        w = np.asarray(weights, dtype=float)
        if np.any(w.sum(axis=1) > 1 + 1e-9):
            raise BudgetError("pathway weights of a source sum to more than 1")
        self.envelope = w * self.available[:, None, :]

    def remaining(self, pathway: int, kind: str = "grant") -> np.ndarray:
        """Money left in each county's envelope for a pathway, over sources of one kind."""
        mask = self.kinds == kind
        left = self.envelope[:, pathway, mask] - self.spent[:, pathway, mask]
        return np.maximum(left, 0.0).sum(axis=1)

    def draw(self, pathway: int, amount: np.ndarray, kind: str = "grant") -> np.ndarray:
        """Spend up to ``amount[c]`` from each county's envelope; returns what each paid.

        Sources of the kind are drawn in their order; an envelope never goes below zero.
        """
        amount = np.asarray(amount, dtype=float)
        paid = np.zeros(self.n_counties)
        # only the sources with money left in some county can pay (a source with none would
        # take 0 everywhere: skipping it changes nothing, and most sources fund few pathways)
        funding = (self.kinds == kind) & (
            self.envelope[:, pathway, :] > self.spent[:, pathway, :]).any(axis=0)
        for s in np.flatnonzero(funding):
            active = (amount > 0) & (paid < amount - _EPS)
            if not active.any():
                break
            left = self.envelope[:, pathway, s] - self.spent[:, pathway, s]
            take = np.where(active & (left > 0), np.minimum(left, amount - paid), 0.0)
            self.spent[:, pathway, s] += take
            paid += take
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
