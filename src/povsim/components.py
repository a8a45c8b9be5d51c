"""The component protocol shared by pathways, shocks, the services programme and studies' own.

A component declares everything it touches: the household columns it *owns* (creates, with
dtype and units), the columns and state it *modifies* or only *reads* (state names are listed in
:data:`povsim.context.STATE`: ``village_services``, ``flows``, ``place_exits``, ``plan``), the
events it raises (*emits*) and the events it answers (*handles*, event → method name). The
model checks the declarations when it is built (one owner per column, everything used has an
owner, one handler per event) and, in checked mode, while it runs (see
:mod:`povsim.context`).

Every hook receives the component's :class:`~povsim.context.Context` (``ctx``), never the
model. The model calls them in a fixed order:

``setup(ctx)``
    fill owned columns and state (after the population exists).
``start_year(ctx, year)``
    before the counties plan (update lines, eligibility inputs).
``step(ctx, month)``
    once a month (shocks strike, effects begin).
``income(ctx)``
    this component's yearly income flow per household (yuan/year) or ``None``; a component
    whose income is a sum of its columns declares them in ``income_columns`` instead.
``end_year(ctx, year)``
    after the year's income is known, before households are assessed.
``record(ctx, year, flows)`` and ``coords(ctx)`` (optional)
    variables and coordinates it adds to the results.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from povsim.households import Column
from povsim.kernels import column_sum

if TYPE_CHECKING:
    from povsim.context import Context

__all__ = ["Component"]


class Component:
    """Base class of pathways, shocks and services.

    Parameters
    ----------
    name
        Name under which the component is registered (and its label in outputs).
    config
        Its validated settings (a pydantic model from the scenario).
    """

    #: columns this component creates
    owns: ClassVar[tuple[Column, ...]] = ()
    #: columns of other components (or state names) it changes
    modifies: ClassVar[tuple[str, ...]] = ()
    #: columns of other components (or state names) it only reads
    reads: ClassVar[tuple[str, ...]] = ()
    #: events it raises (answered by another component's handler, if any)
    emits: ClassVar[tuple[str, ...]] = ()
    #: events it answers: event name → name of the method called with ``(ctx, *args)``
    handles: ClassVar[dict[str, str]] = {}
    #: its yearly income as a sum of household columns, ``((column, sign), ...)`` with sign
    #: ``+1`` or ``-1`` (the first ``+1``): the income is ``float64(column_0) ± float64(
    #: column_1) ...`` added left to right (yuan/year). Declared instead of overriding
    #: :meth:`income`, it lets the engine add the income to the monthly incomes and the exit
    #: attribution in one compiled pass (:func:`povsim.kernels.add_columns`); the columns must
    #: be among those the component touches.
    income_columns: ClassVar[tuple[tuple[str, float], ...]] = ()

    def __init__(self, name: str, config: Any) -> None:
        self.name = name
        self.config = config

    # -- declarations ----------------------------------------------------------------------
    def touches(self) -> set[str]:
        """Every column and state name the component may read."""
        return {c.name for c in self.owns} | set(self.modifies) | set(self.reads)

    def writable(self) -> set[str]:
        """Every column and state name the component may change."""
        return {c.name for c in self.owns} | set(self.modifies)

    # -- hooks -----------------------------------------------------------------------------
    def setup(self, ctx: Context) -> None:
        """Prepare state once the population and all columns exist."""

    def start_year(self, ctx: Context, year: int) -> None:
        """Hook at the start of ``year``, before the counties plan."""

    def step(self, ctx: Context, month: int) -> None:
        """Hook once a month (``month`` counts from 0 at the calendar start)."""

    def income(self, ctx: Context) -> np.ndarray | None:
        """Yearly income this component adds to each household (yuan/year), or ``None``.

        By default the sum of :attr:`income_columns` (``None`` if it declares none).
        """
        if not self.income_columns:
            return None
        return self.income_at(ctx, slice(None))

    def income_at(self, ctx: Context, rows: Any) -> np.ndarray | None:
        """:meth:`income` of the households ``rows`` only, as float64 (or ``None``).

        The attribution of exits reads a pathway's income every month for the households
        registered in January only; a component whose income is a column expression overrides
        this (or declares :attr:`income_columns`) to compute just those rows instead of a
        float64 array over all households.
        """
        if self.income_columns:
            return column_sum(*self.income_terms(ctx.households), rows)
        flow = self.income(ctx)
        return None if flow is None else np.asarray(flow, dtype=np.float64)[rows]

    @property
    def has_income(self) -> bool:
        """Whether the component adds income (declares :attr:`income_columns` or overrides
        :meth:`income`)."""
        return bool(self.income_columns) or type(self).income is not Component.income

    def income_terms(self, households: Any) -> tuple[list[np.ndarray], list[float]]:
        """The columns of :attr:`income_columns` in ``households`` and their signs."""
        return ([households[name] for name, _ in self.income_columns],
                [float(sign) for _, sign in self.income_columns])

    def end_year(self, ctx: Context, year: int) -> None:
        """Hook at the end of ``year`` after incomes are known, before assessment."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"
