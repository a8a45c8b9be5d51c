"""The component protocol shared by pathways and shocks.

A component declares the household columns it *owns* (creates, with dtype and units) and the
ones it *modifies* or *reads*. The model checks the declarations when it is built: one owner per
column, and every column that is read or modified has an owner. A component then takes part in
the yearly cycle through hooks the model calls in a fixed order:

``setup(model)``
    allocate owned columns (after the population exists).
``start_year(model, year)``
    before the counties plan (update lines, eligibility inputs).
``step(model, month)``
    once a month (shocks strike, effects begin).
``income(model)``
    this component's yearly income flow per household (yuan/year) or ``None``.
``end_year(model, year)``
    after the year's income is known, before households are assessed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from povsim.households import Column

if TYPE_CHECKING:
    from povsim.model import PovertyModel

__all__ = ["Component"]


class Component:
    """Base class of pathways and shocks.

    Parameters
    ----------
    name
        Name under which the component is registered (and its label in outputs).
    config
        Its validated settings (a pydantic model from the scenario).
    """

    #: columns this component creates
    owns: ClassVar[tuple[Column, ...]] = ()
    #: columns of other components it changes
    modifies: ClassVar[tuple[str, ...]] = ()
    #: columns of other components it only reads
    reads: ClassVar[tuple[str, ...]] = ()

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config

    def declare(self, model: PovertyModel) -> None:
        """Allocate the owned columns on ``model.households``."""
        for col in self.owns:
            model.households.declare(col)

    def setup(self, model: PovertyModel) -> None:
        """Prepare state once the population and all columns exist."""

    def start_year(self, model: PovertyModel, year: int) -> None:
        """Hook at the start of ``year``, before the counties plan."""

    def step(self, model: PovertyModel, month: int) -> None:
        """Hook once a month (``month`` counts from 0 at the calendar start)."""

    def income(self, model: PovertyModel) -> np.ndarray | None:
        """Yearly income this component adds to each household (yuan/year), or ``None``."""
        return None

    def end_year(self, model: PovertyModel, year: int) -> None:
        """Hook at the end of ``year`` after incomes are known, before assessment."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
