"""Compiled loops for the few operations that NumPy cannot do in one pass over millions of rows.

Each kernel has a pure-NumPy definition that it equals **bit for bit** (``tests/test_kernels.py``
compares them), so the numbers a run produces never depend on whether the compiled kernels are
in use. The compiled versions (Numba, ``cache=True``) are used for arrays of at least
:data:`COMPILED_FROM` rows, i.e. from 1:7 scale (1:8 has ~0.96 M households): only there do
they pay for Numba's import (~0.5 s and ~90-130 MB of resident memory for LLVM) and, in a new
environment, the first compilation (~0.1-0.5 s per kernel and argument type, then cached on
disk). Smaller runs (tests, sweeps and calibrations at coarse scales) never import Numba. Set
``POVSIM_NO_NUMBA=1`` to always use the NumPy definitions (e.g. under a debugger).

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

__all__ = ["COMPILED_FROM", "HAVE_NUMBA", "LazyKernel", "add_columns", "below",
           "below_per_segment", "column_sum", "compile_small_tables", "gap_sums",
           "masked_sums_int", "product_sums", "segment_argsort", "segment_cumsum",
           "segment_sums_float", "segment_sums_int", "use_compiled"]


#: most threads a pass over a large table uses (assumption: the passes are memory-bound; beyond
#: a few threads they share the memory bandwidth rather than add to it)
MAX_HELPER_THREADS = 4


def helper_threads() -> int:
    """Threads a pass over a large table may use: the cores this process may run on (its CPU
    affinity), at most :data:`MAX_HELPER_THREADS`."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(MAX_HELPER_THREADS, cores))


#: arrays with at least this many rows use the compiled kernels (assumption: where Numba's
#: one-off import cost is small against the run; 1:7 has ~1.09 M households)
COMPILED_FROM = 1 << 20


def _segment_sums_float_np(values: np.ndarray, start: np.ndarray, stop: np.ndarray
                           ) -> np.ndarray:
    """Float64 sums of ``values[start[i]:stop[i]]``, added in row order (as ``bincount``)."""
    values = np.asarray(values)
    k = start.size
    if k == 0:
        return np.zeros(0)
    lengths = stop - start
    if np.all(start[1:] == stop[:-1]):  # consecutive segments: one slice of the rows
        rows: Any = slice(int(start[0]), int(stop[-1]))
    else:
        rows = np.concatenate([np.arange(a, b) for a, b in zip(start, stop)])
    out = np.bincount(np.repeat(np.arange(k), lengths), weights=values[rows], minlength=k)
    return out.astype(np.float64, copy=False)  # no rows at all: bincount gives int64 zeros


def _segment_sums_int_np(values: np.ndarray, start: np.ndarray, stop: np.ndarray
                         ) -> np.ndarray:
    """Int64 sums of ``values[start[i]:stop[i]]`` (exact)."""
    values = np.asarray(values)
    out = np.zeros(start.size, dtype=np.int64)
    nonempty = stop > start
    first, last = start[nonempty], stop[nonempty]
    if not first.size:
        return out
    contiguous = bool(np.all(first[1:] == last[:-1]))
    # assumption (measured on this machine): below ~8,192 rows per segment the Python loop over
    # slices costs more than reduceat's cast of every element to int64 saves (bool: ~50x)
    if contiguous and (last[-1] - first[0]) < 8192 * first.size:
        # reduceat sums from each start to the next one: the empty segments are dropped so
        # that the next start is this segment's stop, and the rows after the last are cut
        out[nonempty] = np.add.reduceat(values[: int(last[-1])], first, dtype=np.int64)
    elif values.dtype == np.bool_:
        out[nonempty] = [np.count_nonzero(values[a:b]) for a, b in zip(first, last)]
    else:
        out[nonempty] = [values[a:b].sum(dtype=np.int64) for a, b in zip(first, last)]
    return out


def _numba_available() -> bool:
    if os.environ.get("POVSIM_NO_NUMBA"):
        return False
    from importlib.util import find_spec

    return find_spec("numba") is not None


#: whether the compiled kernels can be used (Numba installed and POVSIM_NO_NUMBA unset)
HAVE_NUMBA = _numba_available()
_compiled: dict[str, Callable[..., Any]] = {}


def _kernel(name: str) -> Callable[..., Any]:
    """The compiled kernel ``name`` (Numba is imported and the kernels built on first use)."""
    if not _compiled:
        import numba

        jit = numba.njit(cache=True, nogil=True)
        _compiled.update(seg_float=jit(_seg_float), seg_int=jit(_seg_int),
                         seg_argsort=jit(_seg_argsort), seg_below=jit(_seg_below),
                         add1=jit(_add1), add2=jit(_add2), add1_all=jit(_add1_all),
                         add2_all=jit(_add2_all), seg_gap=jit(_seg_gap),
                         seg_masked_int=jit(_seg_masked_int), seg_prod=jit(_seg_prod),
                         seg_cumsum=jit(_seg_cumsum))
    return _compiled[name]


def _seg_float(values, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size)
    for s in range(start.size):
        acc = 0.0
        for i in range(start[s], stop[s]):
            acc += values[i]
        out[s] = acc
    return out


def _seg_int(values, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size, dtype=np.int64)
    for s in range(start.size):
        acc = 0
        for i in range(start[s], stop[s]):
            acc += np.int64(values[i])
        out[s] = acc
    return out


def _seg_gap(pc, line, size, mask, weight, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size)
    for s in range(start.size):
        acc = 0.0
        for i in range(start[s], stop[s]):
            g = line - pc[i]
            if g < 0.0:  # np.maximum(g, 0.0); NaN stays NaN
                g = 0.0
            v = g * np.float64(size[i])
            v = v * (1.0 if mask[i] else 0.0)
            acc += v * weight
        out[s] = acc
    return out


def _seg_prod(a, b, mask, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size)
    masked = np.zeros(start.size)
    for s in range(start.size):
        acc = 0.0
        acc_m = 0.0
        for i in range(start[s], stop[s]):
            v = np.float64(a[i]) * np.float64(b[i])
            acc += v
            acc_m += v * (1.0 if mask[i] else 0.0)
        out[s] = acc
        masked[s] = acc_m
    return out, masked


def _seg_cumsum(values, seg):  # type: ignore[no-untyped-def]
    out = np.empty(values.size)
    acc = 0.0
    for i in range(values.size):
        if i == 0 or seg[i] != seg[i - 1]:
            acc = values[i]  # np.cumsum starts from the first value, not from 0.0 + it
        else:
            acc = acc + values[i]
        out[i] = acc
    return out


def _seg_masked_int(values, mask, start, stop):  # type: ignore[no-untyped-def]
    out = np.zeros(start.size, dtype=np.int64)
    for s in range(start.size):
        acc = 0
        for i in range(start[s], stop[s]):
            if mask[i]:
                acc += np.int64(values[i])
        out[s] = acc
    return out


def _add1(out, rows, divisor, x):  # type: ignore[no-untyped-def]
    for k in range(rows.size):
        out[k] += np.float64(x[rows[k]]) / divisor


def _add2(out, rows, divisor, x, y, sign):  # type: ignore[no-untyped-def]
    for k in range(rows.size):
        i = rows[k]
        out[k] += (np.float64(x[i]) + sign * np.float64(y[i])) / divisor


def _add1_all(out, divisor, x):  # type: ignore[no-untyped-def]
    for i in range(out.size):
        out[i] += np.float64(x[i]) / divisor


def _add2_all(out, divisor, x, y, sign):  # type: ignore[no-untyped-def]
    for i in range(out.size):
        out[i] += (np.float64(x[i]) + sign * np.float64(y[i])) / divisor


#: Segments of at most this many items are insertion-sorted by :func:`segment_argsort`'s
#: compiled kernel (assumption, measured on the 2-core machine: a radix pass costs its 2,048
#: counters however few the items, and at 1:100 most counties have a few dozen candidates; the
#: sorts of a 1:100 run took 20 ms with the radix sort alone, 5 ms with this)
INSERTION_ITEMS = 128

#: From this many items a segment is radix-sorted with 11-bit digits (6 passes), below it with
#: 8-bit ones (8 passes of 256 counters) (assumption, measured: the 1:10 run's sorts took 50 ms
#: with 11-bit digits only, 39 ms with this and the insertion sort; 1:1 unchanged)
WIDE_DIGIT_ITEMS = 4096


def _seg_argsort(values, first, starts, stops):  # type: ignore[no-untyped-def]
    """Stable sort of each segment's float64 values (by their order-preserving 64-bit keys;
    -0.0 as 0.0, every NaN last), then stably by ``first`` (0 before 1) where given:
    :func:`segment_argsort` compiled. A segment of at most :data:`INSERTION_ITEMS` items is
    insertion-sorted; a longer one is LSD radix-sorted, with 8-bit digits below
    :data:`WIDE_DIGIT_ITEMS` items and 11-bit ones from there (a pass costs the items plus
    the digit's 256 or 2,048 counters)."""
    out = np.empty(values.size, dtype=np.int64)
    longest = 0
    for s in range(starts.size):
        longest = max(longest, stops[s] - starts[s])
    keys = np.empty(longest, dtype=np.uint64)
    keys2 = np.empty(longest, dtype=np.uint64)
    rows = np.empty(longest, dtype=np.int64)
    rows2 = np.empty(longest, dtype=np.int64)
    count = np.empty(2048, dtype=np.int64)
    sign = np.uint64(1) << np.uint64(63)
    width = 11
    for s in range(starts.size):
        lo = starts[s]
        m = stops[s] - lo
        if m == 0:
            continue
        canon = values[lo:lo + m].copy()
        for k in range(m):
            v = canon[k]
            if v == 0.0:
                canon[k] = 0.0
            elif v != v:
                canon[k] = np.nan
        bits = canon.view(np.uint64)
        for k in range(m):
            b = bits[k]
            keys[k] = ~b if b & sign else b | sign
            rows[k] = lo + k
        cur_k, cur_r, nxt_k, nxt_r = keys, rows, keys2, rows2
        passes = 0
        if m <= INSERTION_ITEMS:
            for k in range(1, m):  # stable: an item moves only past strictly greater keys
                key = cur_k[k]
                row = cur_r[k]
                j = k - 1
                while j >= 0 and cur_k[j] > key:
                    cur_k[j + 1] = cur_k[j]
                    cur_r[j + 1] = cur_r[j]
                    j -= 1
                cur_k[j + 1] = key
                cur_r[j + 1] = row
        else:
            width = 8 if m < WIDE_DIGIT_ITEMS else 11
            passes = (64 + width - 1) // width
        n_digits = 1 << width
        digit = np.uint64(n_digits - 1)
        for p in range(passes):
            shift = np.uint64(width * p)
            count[:n_digits] = 0
            for k in range(m):
                count[(cur_k[k] >> shift) & digit] += 1
            if count[(cur_k[0] >> shift) & digit] == m:
                continue  # every key has this digit: the pass would change nothing
            total = 0
            for d in range(n_digits):
                c = count[d]
                count[d] = total
                total += c
            for k in range(m):
                d = (cur_k[k] >> shift) & digit
                j = count[d]
                count[d] = j + 1
                nxt_k[j] = cur_k[k]
                nxt_r[j] = cur_r[k]
            cur_k, nxt_k = nxt_k, cur_k
            cur_r, nxt_r = nxt_r, cur_r
        if first.size:
            zeros = 0
            for k in range(m):
                if first[cur_r[k]] == 0:
                    zeros += 1
            a = lo
            b2 = lo + zeros
            for k in range(m):
                r = cur_r[k]
                if first[r] == 0:
                    out[a] = r
                    a += 1
                else:
                    out[b2] = r
                    b2 += 1
        else:
            for k in range(m):
                out[lo + k] = cur_r[k]
    return out


def _seg_below(values, shift, thresholds, starts, stops):  # type: ignore[no-untyped-def]
    out = np.zeros(values.size, dtype=np.bool_)
    for s in range(starts.size):
        t = thresholds[s]
        for i in range(starts[s], stops[s]):
            v = values[i]
            if shift != 0:
                a = v + shift  # in the values' dtype, as NumPy adds the shift
                out[i] = np.float64(a - np.floor(a)) < t  # the difference is exact
            else:
                out[i] = np.float64(v) < t
    return out


#: whether tables of every size use the compiled kernels (:func:`compile_small_tables`)
_EVERY_SIZE = False


def compile_small_tables(on: bool = True) -> None:
    """Use the compiled kernels for tables of every size in this process (``on``), or only
    from :data:`COMPILED_FROM` rows again.

    Work made of many runs calls this (ensembles and calibration, in every worker): Numba's
    one-off import (~0.5 s, ~100 MB) is then shared by all the runs of the process, and a 1:100
    run takes ~20 % less CPU time (measured: 542 -> 435 ms, median of 20 runs each,
    interleaved). The numbers are the same either way. Nothing changes without Numba or with
    ``POVSIM_NO_NUMBA=1``.
    """
    global _EVERY_SIZE
    _EVERY_SIZE = bool(on)


def _use_compiled(n: int) -> bool:
    return HAVE_NUMBA and (n >= COMPILED_FROM or _EVERY_SIZE)


def use_compiled(n_rows: int) -> bool:
    """Whether a table of ``n_rows`` rows uses compiled kernels (see the module docs)."""
    return _use_compiled(int(n_rows))


class LazyKernel:
    """A loop-style Python function compiled by Numba on its first call.

    A component with a fused kernel keeps its NumPy code as the definition and calls the
    kernel only where :func:`use_compiled` says so; a test checks both give the same numbers.

    Parameters
    ----------
    fn
        A module-level function Numba can compile in nopython mode (cached on disk).
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        self.fn = fn
        self._jitted: Callable[..., Any] | None = None

    def __call__(self, *args: Any) -> Any:
        if self._jitted is None:
            import numba

            self._jitted = numba.njit(cache=True, nogil=True)(self.fn)
        return self._jitted(*args)


def _bounds(start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (np.ascontiguousarray(start, dtype=np.int64),
            np.ascontiguousarray(stop, dtype=np.int64))


def _plain(values: np.ndarray) -> np.ndarray:
    values = np.ascontiguousarray(values)
    return values.view(np.uint8) if values.dtype == np.bool_ else values


def segment_sums_float(values: np.ndarray, start: np.ndarray, stop: np.ndarray,
                       labels: np.ndarray | None = None) -> np.ndarray:
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
    labels
        Optional: the segment of every row (e.g. ``households.county``), which lets the NumPy
        path call ``bincount`` directly instead of building the labels.

    Returns
    -------
    numpy.ndarray
        float64, one total per segment.
    """
    start, stop = _bounds(start, stop)
    if not _use_compiled(np.size(values)):
        if labels is not None:
            return np.bincount(labels, weights=values, minlength=start.size).astype(
                np.float64, copy=False)
        return _segment_sums_float_np(values, start, stop)
    return _kernel("seg_float")(_plain(values), start, stop)


def segment_sums_int(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Exact int64 total of integer (or bool) ``values`` over each row segment."""
    start, stop = _bounds(start, stop)
    if not _use_compiled(np.size(values)):
        return _segment_sums_int_np(values, start, stop)
    return _kernel("seg_int")(_plain(values), start, stop)


def gap_sums(pc: np.ndarray, line: float, size: np.ndarray, mask: np.ndarray,
             start: np.ndarray, stop: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """Per segment, the float64 total of ``max(line - pc, 0) × size × mask × weight``: the
    people-weighted income gap to a line of the households in ``mask`` (yuan).

    The NumPy definition is ``segment_sums_float(np.maximum(line - pc, 0.0) * size * mask *
    weight, start, stop)``, multiplied left to right and summed in row order; the compiled
    version (large tables) does the same arithmetic row by row without the three float64
    temporaries over the table, and equals it bit for bit (the tests compare).

    Parameters
    ----------
    pc
        Per-capita income of each row (yuan/person/year).
    line
        The line (yuan/person/year).
    size
        Persons of each row.
    mask
        Rows counted (bool).
    start, stop
        Row bounds of each segment (e.g. the counties).
    weight
        Factor applied to each row's gap before the sum (1: none).
    """
    start, stop = _bounds(start, stop)
    mask = np.asarray(mask).astype(np.bool_, copy=False)
    if not _use_compiled(np.size(pc)):
        gap = np.maximum(line - pc, 0.0) * size * mask * weight
        return segment_sums_float(gap, start, stop)
    return _kernel("seg_gap")(np.ascontiguousarray(pc, dtype=np.float64), float(line),
                              np.ascontiguousarray(size), _plain(mask), float(weight),
                              start, stop)


def product_sums(a: np.ndarray, b: np.ndarray, mask: np.ndarray, start: np.ndarray,
                 stop: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per segment, the float64 totals of ``a × b`` over all rows and over the rows in
    ``mask`` (e.g. persons × per-capita income: the income of every county, and of its
    registered households).

    The NumPy definition: ``p = a * b`` (in float64), then ``segment_sums_float(p)`` and
    ``segment_sums_float(p * mask)``, summed in row order; the compiled version (large
    tables) makes one pass without the products over the table, bit for bit the same.
    """
    start, stop = _bounds(start, stop)
    if not _use_compiled(np.size(a)):
        p = np.multiply(a, b, dtype=np.float64)
        total = segment_sums_float(p, start, stop)
        p *= np.asarray(mask).astype(np.bool_, copy=False)
        return total, segment_sums_float(p, start, stop)
    return _kernel("seg_prod")(np.ascontiguousarray(a), np.ascontiguousarray(b),
                               _plain(np.asarray(mask).astype(np.bool_, copy=False)), start,
                               stop)


def segment_cumsum(values: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Compiled cumulative sums of float64 ``values`` restarting where ``seg`` changes: the
    same sequential additions as ``np.cumsum`` of each segment's run
    (:func:`povsim.budget.rationing.segment_cumsum` uses it where :func:`use_compiled`)."""
    return _kernel("seg_cumsum")(np.ascontiguousarray(values, dtype=np.float64),
                                 np.ascontiguousarray(seg))


def masked_sums_int(values: np.ndarray, mask: np.ndarray, start: np.ndarray,
                    stop: np.ndarray) -> np.ndarray:
    """Exact int64 totals of integer ``values`` over the rows of each segment where ``mask``
    holds: ``segment_sums_int(values * mask, start, stop)`` (e.g. the persons of the
    registered households of every county) without the product over the table."""
    start, stop = _bounds(start, stop)
    mask = np.asarray(mask).astype(np.bool_, copy=False)
    if not _use_compiled(np.size(values)):
        return segment_sums_int(values * mask, start, stop)
    return _kernel("seg_masked_int")(_plain(values), _plain(mask), start, stop)


def add_columns(out: np.ndarray, columns: list[np.ndarray], signs: list[float],
                rows: np.ndarray | None = None, divisor: float | None = None) -> None:
    """``out += (sign[0] × columns[0][rows] + sign[1] × columns[1][rows] + ...) / divisor``.

    The terms are converted to float64 and added left to right (the first term's sign must be
    +1), then divided by ``divisor`` (``None``: not divided), exactly as the NumPy expression
    ``c0[rows].astype(float64) - c1[rows].astype(float64)`` would compute them. This is how the
    engine adds an income declared as a sum of columns (``Component.income_columns``) to the
    monthly incomes and to the attribution's yearly totals: in large tables one compiled pass
    without the float64 temporaries of every term (bit for bit the same numbers).

    Parameters
    ----------
    out
        float64 totals, one per row of ``rows`` (or per household when ``rows`` is ``None``);
        changed in place.
    columns
        The household columns (any numeric dtype).
    signs
        ``+1.0`` or ``-1.0`` per column; the first is ``+1.0``.
    rows
        Household rows (ascending), or ``None`` for every household.
    divisor
        What the sum is divided by before it is added (yuan/year to yuan/month: 12).
    """
    if not columns:
        return
    if signs[0] != 1.0 or any(s not in (1.0, -1.0) for s in signs):
        raise ValueError(f"signs must be +1 or -1 and the first +1, got {list(signs)}")
    n = columns[0].size
    if _use_compiled(n) and len(columns) <= 2:
        div = 1.0 if divisor is None else float(divisor)  # x / 1.0 == x exactly
        cols = [_plain(c) for c in columns]
        if rows is None:
            if len(cols) == 1:
                _kernel("add1_all")(out, div, cols[0])
            else:
                _kernel("add2_all")(out, div, cols[0], cols[1], float(signs[1]))
        else:
            r = np.ascontiguousarray(rows, dtype=np.int64)
            if len(cols) == 1:
                _kernel("add1")(out, r, div, cols[0])
            else:
                _kernel("add2")(out, r, div, cols[0], cols[1], float(signs[1]))
        return
    flow = column_sum(columns, signs, rows)
    if divisor is not None:
        flow /= divisor
    out += flow


def column_sum(columns: list[np.ndarray], signs: list[float], rows: Any = None) -> np.ndarray:
    """``sign[0] × columns[0][rows] + sign[1] × columns[1][rows] + ...`` in float64, added left
    to right (:func:`add_columns`' terms; ``rows``: any index, ``None`` every row). A new
    array."""
    sel: Any = slice(None) if rows is None else rows
    flow = columns[0][sel].astype(np.float64)
    for col, sign in zip(columns[1:], signs[1:]):
        term = col[sel].astype(np.float64, copy=False)
        if sign > 0:
            flow += term
        else:
            flow -= term
    return flow


def segment_argsort(values: np.ndarray, segment: np.ndarray, first: np.ndarray | None = None,
                    compiled: bool | None = None) -> np.ndarray:
    """``np.lexsort((values, first, segment))`` for items sorted by ``segment``: the stable
    order of each segment's items by ``first`` (``False``/0 before ``True``/1, if given), then
    by ``values`` (as float64; NaN last).

    The compiled version (``compiled``, by default for :data:`COMPILED_FROM` items or more)
    radix-sorts each segment, several times faster than NumPy's stable sort of float64 and
    the same permutation bit for bit (the tests compare them).

    Parameters
    ----------
    values
        The sort key (any real dtype; converted to float64 exactly).
    segment
        Segment of every item (ascending; e.g. the county).
    first
        Optional boolean key before ``values``.
    compiled
        Use the compiled sort (``None``: by the number of items).
    """
    segment = np.asarray(segment)
    n = segment.size
    if compiled is None:
        compiled = _use_compiled(n)
    if not compiled or n == 0 or not HAVE_NUMBA or np.any(segment[1:] < segment[:-1]):
        keys = (values,) if first is None else (values, first)
        return np.lexsort((*keys, segment))
    cut = np.flatnonzero(segment[1:] != segment[:-1]) + 1
    starts = np.concatenate(([0], cut)).astype(np.int64)
    stops = np.concatenate((cut, [n])).astype(np.int64)
    flag = (np.zeros(0, dtype=np.uint8) if first is None
            else np.ascontiguousarray(first, dtype=np.bool_).view(np.uint8))
    return _kernel("seg_argsort")(np.ascontiguousarray(values, dtype=np.float64), flag,
                                  starts, stops).astype(np.intp, copy=False)


def below(values: np.ndarray, thresholds: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """``u < thresholds`` elementwise, ``u`` the draws (``shift=0``) or the fractional part of
    ``values + shift`` in the values' dtype (``u - floor(u)``, exact for ``u >= 0``): the NumPy
    definition of :func:`below_per_segment`, for thresholds given per row."""
    u = values
    if shift:
        u = values + values.dtype.type(shift)
        u -= np.floor(u)
    return u < thresholds


def below_per_segment(values: np.ndarray, thresholds: np.ndarray, labels: np.ndarray,
                      starts: np.ndarray, stops: np.ndarray, shift: float = 0.0) -> np.ndarray:
    """``u < thresholds[labels]`` with ``u = values`` (``shift=0``) or the fractional part of
    ``values + shift`` computed in the values' own dtype (``u -= floor(u)``), compared in
    float64: which households a per-place share reaches (``draw < share of its village``).

    The rows of segment ``s`` (``starts[s]:stops[s]``) all have ``labels == s``; rows outside
    every segment are ``False`` in the compiled version, which avoids the float64 gather of
    the thresholds over the table. The same flags as the NumPy expression (the tests compare).

    Parameters
    ----------
    values
        One draw per row (float32 or float64).
    thresholds
        One share per segment (float64).
    labels
        Segment of every row (the NumPy version's gather).
    starts, stops
        Row bounds of each segment.
    shift
        Added to the draws before their fractional part is taken (0: not shifted).
    """
    values = np.asarray(values)
    thresholds = np.asarray(thresholds, dtype=np.float64)
    if not _use_compiled(values.size):
        return below(values, thresholds[labels], shift)
    start, stop = _bounds(starts, stops)
    return _kernel("seg_below")(np.ascontiguousarray(values), values.dtype.type(shift),
                                thresholds, start, stop)
