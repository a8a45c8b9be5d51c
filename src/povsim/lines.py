"""The poverty line and the dibao line by year, with the "两线合一" merge (seed (七), domain.md §5)."""

from __future__ import annotations

from povsim.scenario.schema import Scenario, at

__all__ = ["dibao_line", "poverty_line"]


def poverty_line(scn: Scenario, year: int) -> float:
    """National rural poverty line in ``year`` (yuan per person per year, current prices)."""
    return at(scn.lines.poverty, year)


def dibao_line(scn: Scenario, year: int) -> float:
    """Dibao line in ``year`` after the merge schedule (yuan per person per year).

    Before the merge year the county line follows ``lines.dibao``; with ``path: linear`` the gap
    to the poverty line closes in equal steps from the calendar start to the merge year; from the
    merge year on the dibao line is at least the poverty line. ``merge.year: null`` never merges.

    >>> from povsim.scenario.schema import Scenario
    >>> s = Scenario()
    >>> dibao_line(s, 2017) == poverty_line(s, 2017)
    True
    """
    own = at(scn.lines.dibao, year)
    pov = poverty_line(scn, year)
    merge = scn.lines.merge
    if merge.year is None:
        return own
    if year >= merge.year:
        return max(own, pov)
    if merge.path == "linear":
        start = scn.calendar.start_year
        span = merge.year - start + 1
        frac = (year - start + 1) / span if span > 0 else 1.0
        frac = min(max(frac, 0.0), 1.0)
        return own + max(pov - own, 0.0) * frac
    return own
