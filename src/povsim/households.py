"""The columnar household table: one numpy array per attribute, one row per simulated household.

Households are never Python objects: at full scale there are about seven million of them. Rows
are sorted by county and then village, so every county and village is a contiguous slice
(``places.county_start[c]:places.county_stop[c]``). Each column is declared once, with its dtype,
unit and the component that owns it; components that only modify a column declare that too
(see :mod:`povsim.components`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from povsim.errors import ModelBuildError
from povsim.kernels import segment_sums_float, segment_sums_int

__all__ = ["CAUSES", "Column", "Households", "segment_sums"]

#: Primary causes of poverty recorded at registration (domain.md §2), code = index.
CAUSES: tuple[str, ...] = ("illness", "disability", "disaster", "lack_of_labour", "lack_of_means")


@dataclass(frozen=True)
class Column:
    """Declaration of one household attribute."""

    name: str
    dtype: Any
    units: str
    description: str
    owner: str
    fill: Any = 0


class Households:
    """Structure-of-arrays table of simulated households.

    Parameters
    ----------
    n
        Number of simulated households (rows).

    Notes
    -----
    Read a column as an attribute (``hh.size``) or item (``hh["size"]``); both return the
    live numpy array, so in-place updates (``hh.income_ytd[idx] += x``) change the table.
    """

    #: the only attributes a table has besides its columns
    _SLOTS = ("n", "_columns", "_data")

    def __init__(self, n: int) -> None:
        object.__setattr__(self, "n", int(n))
        object.__setattr__(self, "_columns", {})
        object.__setattr__(self, "_data", {})

    def __setattr__(self, name: str, value: Any) -> None:
        """Refuse every assignment: a column is changed in place, never replaced or shadowed.

        ``hh.income_ytd[:] = 0`` changes the column; ``hh.income_ytd = x`` would silently
        replace the array other components hold, and ``hh.incme_ytd = x`` would add a stray
        attribute, so both raise :class:`ModelBuildError`. Augmented assignment
        (``hh.x *= 2``) works: numpy changes the column in place and hands back the same array.
        """
        data = self.__dict__.get("_data", {})
        if name in data and value is data[name]:
            return  # augmented assignment (hh.x *= 2) changed the column in place
        if name in data:
            raise ModelBuildError(
                f"household column {name!r} cannot be replaced by assignment; change it in "
                f"place (hh.{name}[...] = values)"
            )
        raise ModelBuildError(
            f"households have no column {name!r}; declare a column (Households.declare or a "
            f"component's owns) instead of assigning an attribute"
        )

    # -- declaration ---------------------------------------------------------------------
    def declare(self, column: Column, values: np.ndarray | None = None) -> np.ndarray:
        """Allocate a column; raises :class:`ModelBuildError` if another owner declared it."""
        if column.name in self._columns:
            other = self._columns[column.name]
            raise ModelBuildError(
                f"household column {column.name!r} is declared by both {other.owner!r} and "
                f"{column.owner!r}; one variable may have only one owner"
            )
        if values is None and not column.fill:
            # zero pages are mapped lazily: a column that stays mostly zero costs little memory
            arr = np.zeros(self.n, dtype=column.dtype)
        elif values is None:
            arr = np.full(self.n, column.fill, dtype=column.dtype)
        else:
            arr = np.asarray(values, dtype=column.dtype)
            if arr.shape != (self.n,):
                raise ModelBuildError(
                    f"column {column.name!r} has shape {arr.shape}, expected ({self.n},)"
                )
        self._columns[column.name] = column
        self._data[column.name] = arr
        return arr

    def writable_only(self, names: frozenset[str] | None) -> None:
        """Make every column not in ``names`` read-only (``None``: all writable again).

        Used by the checked mode of :class:`povsim.context.Context`: a component writing a
        column it did not declare then fails at the write.
        """
        for name, arr in self._data.items():
            arr.flags.writeable = names is None or name in names

    def add(
        self,
        name: str,
        dtype: Any,
        units: str,
        description: str,
        owner: str,
        values: np.ndarray | None = None,
        fill: Any = 0,
    ) -> np.ndarray:
        """Shorthand for :meth:`declare` with a new :class:`Column`."""
        return self.declare(Column(name, dtype, units, description, owner, fill), values)

    # -- access --------------------------------------------------------------------------
    def __getattr__(self, name: str) -> np.ndarray:
        data = self.__dict__.get("_data")
        if data is not None and name in data:
            return data[name]
        raise AttributeError(f"households have no column {name!r}")

    def __getitem__(self, name: str) -> np.ndarray:
        return self._data[name]

    def __contains__(self, name: object) -> bool:
        return name in self._data

    @property
    def columns(self) -> dict[str, Column]:
        """Declarations of all columns, by name."""
        return dict(self._columns)

    def nbytes(self) -> int:
        """Memory held by the columns, in bytes."""
        return int(sum(a.nbytes for a in self._data.values()))

    def __len__(self) -> int:
        return self.n

    def __repr__(self) -> str:
        return f"<Households n={self.n} columns={len(self._columns)} {self.nbytes() / 1e6:.1f} MB>"


def segment_sums(values: np.ndarray, start: np.ndarray, stop: np.ndarray,
                 dtype: Any = None, labels: np.ndarray | None = None) -> np.ndarray:
    """Sums of ``values`` over contiguous row segments, such as the households of each county.

    Households are sorted by county and village, so a per-county total is a sum over a slice;
    this is much cheaper than ``np.bincount(hh.county, weights=values)`` over millions of rows
    (see :mod:`povsim.kernels`).

    Parameters
    ----------
    values
        One value per household row.
    start, stop
        Row bounds of each segment (``values[start[i]:stop[i]]``). Segments may be empty.
    dtype
        Accumulator: an integer dtype (e.g. ``np.int64`` to sum small integers without
        overflow) gives exact int64 sums, converted to ``dtype``; a float dtype gives float64
        sums added in row order, equal bit for bit to a weighted ``np.bincount`` over the
        segment labels. By default that of ``values`` (bool values count as integers).
    labels
        Optional segment of every row (``households.county``): a shortcut for small tables.

    Returns
    -------
    numpy.ndarray
        One sum per segment (0 for an empty segment).
    """
    values = np.asarray(values)
    acc = np.dtype(dtype) if dtype is not None else values.dtype
    if acc == np.bool_:
        acc = np.dtype(np.int64)
    if values.dtype.kind in "biu":
        # integer values: exact integer sums (a float total of small integers below 2**53 is
        # exact too, so this equals the float64 bincount as well)
        return segment_sums_int(values, start, stop).astype(acc, copy=False)
    return segment_sums_float(values, start, stop, labels).astype(acc, copy=False)
