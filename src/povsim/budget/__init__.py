"""Money: sources and their county split, the envelope rule, the ledger and one rationing rule.

* :mod:`~povsim.budget.sources` — each source's yearly amount and its split across counties;
* :mod:`~povsim.budget.envelopes` — each county's money split across pathways;
* :mod:`~povsim.budget.ledger` — what was available, committed and spent (counties × pathways ×
  sources), refusing to overspend;
* :mod:`~povsim.budget.rationing` — pay in priority order until the money or the capacity runs
  out, used by every pathway and the services programme, saying what held each county back;
* :mod:`~povsim.budget.capacity` — the capacity money buys (sites, training places): units
  bought = money / unit cost, at most an optional hard cap.
"""

from povsim.budget.capacity import bought, buy
from povsim.budget.envelopes import envelope_weights
from povsim.budget.ledger import KINDS, Ledger
from povsim.budget.rationing import (
    BINDING,
    PRIORITIES,
    Rationed,
    binding_codes,
    combine_binding,
    priority_order,
    ration,
    segment_cumsum,
)
from povsim.budget.sources import county_split, source_amounts

__all__ = [
    "BINDING",
    "KINDS",
    "PRIORITIES",
    "Ledger",
    "Rationed",
    "binding_codes",
    "bought",
    "buy",
    "combine_binding",
    "county_split",
    "envelope_weights",
    "priority_order",
    "ration",
    "segment_cumsum",
    "source_amounts",
]
