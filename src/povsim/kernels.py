"""Compiled loops for the few operations that NumPy cannot do in one pass over millions of rows.

Each kernel has a pure-NumPy definition that it must equal **bit for bit** (the tests in
``tests/test_kernels.py`` compare them), so the numbers a run produces never depend on whether
the compiled kernels are in use. They are compiled with Numba (``cache=True``: the first call in
a new environment compiles for ~0.1-0.5 s per argument type and writes the cache; later
processes load it). Set ``POVSIM_NO_NUMBA=1`` to use the NumPy definitions, e.g. under a
debugger or where Numba is missing.

Why sums per segment: households are sorted by county and village, so "the total of a column
for every county" is a sum over consecutive rows. ``np.bincount(county, weights=x)`` computes
the same totals but converts the weights to float64 (a temporary over all households) and
scatters into bins; a sequential loop over each county's rows adds the same numbers in the same
order, 10-30x faster at full scale.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

__all__ = ["HAVE_NUMBA", "segment_sums_float", "segment_sums_int", "flatnonzero_less"]


def _segment_sums_float_np(values: np.ndarray, start: np.ndarray, stop: np.ndarray
                           ) -> np.ndarray:
    """Float64 sums of ``values[start[i]:stop[i]]``, added in row order (as ``bincount``)."""
    labels = np.repeat(np.arange(start.size), stop - start)
    rows = np.concatenate([np.arange(a, b) for a, b in zip(start, stop)]) if start.size else \
        np.zeros(0, dtype=np.intp)
    return np.bincount(labels, weights=np.asarray(values)[rows], minlength=start.size)


def _segment_sums_int_np(values: np.ndarray, start: np.ndarray, stop: np.ndarray
                         ) -> np.ndarray:
    """Int64 sums of ``values[start[i]:stop[i]]`` (exact)."""
    return np.array([np.asarray(values)[a:b].sum(dtype=np.int64) for a, b in zip(start, stop)],
                    dtype=np.int64).reshape(start.size)


def _flatnonzero_less_np(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(a < b)``."""
    return np.flatnonzero(a < b)


def _numba() -> Any:
    if os.environ.get("POVSIM_NO_NUMBA"):
        return None
    try:
        import numba
    except ImportError:  # pragma: no cover - numba is a dependency; kept for odd platforms
        return None
    return numba


_nb = _numba()
#: whether the compiled kernels are in use (``False`` without Numba or with POVSIM_NO_NUMBA)
HAVE_NUMBA = _nb is not None


def _jit(fn: Callable[..., Any]) -> Callable[..., Any]:
    return _nb.njit(cache=True, nogil=True)(fn) if _nb is not None else fn


@_jit
def _seg_float(values, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size)
    for s in range(start.size):
        acc = 0.0
        for i in range(start[s], stop[s]):
            acc += values[i]
        out[s] = acc
    return out


@_jit
def _seg_int(values, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size, dtype=np.int64)
    for s in range(start.size):
        acc = 0
        for i in range(start[s], stop[s]):
            acc += np.int64(values[i])
        out[s] = acc
    return out


@_jit
def _less(a, b):  # type: ignore[no-untyped-def]
    n = 0
    for i in range(a.size):
        if a[i] < b[i]:
            n += 1
    out = np.empty(n, dtype=np.intp)
    k = 0
    for i in range(a.size):
        if a[i] < b[i]:
            out[k] = i
            k += 1
    return out


def _bounds(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(start, dtype=np.int64),
            np.ascontiguousarray(stop, dtype=np.int64))


def _plain(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    return values.view(np.uint8) if values.dtype == np.bool_ else values


def segment_sums_float(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Float64 total of ``values`` over each row segment ``start[i]:stop[i]``.

    Equal bit for bit to ``np.bincount(labels, weights=values)`` where ``labels`` gives each row
    its segment (the same additions in the same row order). Rows outside every segment are
    ignored; segments may be empty (total 0).

    Parameters
    ----------
    values
        One number (or bool) per row.
    start, stop
        Row bounds of each segment.

    Returns
    -------
    numpy.ndarray
        float64, one total per segment.
    """
    start, stop = _bounds(start, stop)
    if not HAVE_NUMBA:
        return _segment_sums_float_np(values, start, stop)
    return _seg_float(_plain(values), start, stop)


def segment_sums_int(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Exact int64 total of integer (or bool) ``values`` over each row segment."""
    start, stop = _bounds(start, stop)
    if not HAVE_NUMBA:
        return _segment_sums_int_np(values, start, stop)
    return _seg_int(_plain(values), start, stop)


def flatnonzero_less(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.flatnonzero(a < b)`` in one pass and without a boolean temporary."""
    if not HAVE_NUMBA or a.dtype != b.dtype or a.shape != b.shape:
        return _flatnonzero_less_np(a, b)
    return _less(np.ascontiguousarray(a), np.ascontiguousarray(b))
