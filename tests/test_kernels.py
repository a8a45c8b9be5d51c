"""The compiled kernels equal their NumPy definitions bit for bit (povsim.kernels)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from povsim import kernels
from povsim.households import segment_sums


def _segments(rng: np.random.Generator, n: int, k: int) -> tuple[np.ndarray, np.ndarray]:
    cuts = np.sort(rng.integers(0, n + 1, size=k))
    start = np.concatenate([[0], cuts[:-1]]) if k else np.zeros(0, dtype=np.int64)
    return start, cuts


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), k=st.integers(0, 12),
       dtype=st.sampled_from(["float64", "float32", "int8", "int16", "bool"]))
def test_segment_float_sums_equal_bincount(seed: int, n: int, k: int, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    values = (rng.normal(size=n) * 1e3).astype(dtype) if dtype != "bool" else rng.random(n) < .3
    start, stop = _segments(rng, n, k)
    labels = np.repeat(np.arange(k), stop - start)
    want = np.bincount(labels, weights=values[: int(stop[-1]) if k else 0], minlength=k)
    got = kernels.segment_sums_float(values, start, stop)
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, want)  # bit for bit: same additions, same order
    np.testing.assert_array_equal(kernels._segment_sums_float_np(values, start, stop), want)
    compiled = kernels._kernel("seg_float")(kernels._plain(values), start.astype(np.int64),
                                            stop.astype(np.int64))
    np.testing.assert_array_equal(compiled, want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 400), k=st.integers(0, 12),
       dtype=st.sampled_from(["int8", "int16", "int64", "bool"]))
def test_segment_int_sums_are_exact(seed: int, n: int, k: int, dtype: str) -> None:
    rng = np.random.default_rng(seed)
    values = rng.integers(-100, 100, size=n).astype(dtype)
    start, stop = _segments(rng, n, k)
    want = np.array([int(values[a:b].astype(np.int64).sum()) for a, b in zip(start, stop)],
                    dtype=np.int64)
    np.testing.assert_array_equal(kernels.segment_sums_int(values, start, stop), want)
    np.testing.assert_array_equal(segment_sums(values, start, stop, dtype=np.int64), want)
    np.testing.assert_array_equal(kernels._segment_sums_int_np(values, start, stop), want)
    compiled = kernels._kernel("seg_int")(kernels._plain(values), start.astype(np.int64),
                                          stop.astype(np.int64))
    np.testing.assert_array_equal(compiled, want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 300),
       dtypes=st.lists(st.sampled_from(["float64", "float32"]), min_size=1, max_size=2),
       minus=st.booleans(), divisor=st.sampled_from([None, 12.0, 3.0]),
       some_rows=st.booleans())
def test_add_columns_equals_the_numpy_expression(seed: int, n: int, dtypes: list[str],
                                                 minus: bool, divisor: float | None,
                                                 some_rows: bool) -> None:
    """``add_columns`` adds ``(float64(c0) ± float64(c1)) / divisor`` bit for bit as NumPy's
    expression does (how the pathways' incomes were written), compiled or not."""
    rng = np.random.default_rng(seed)
    cols = [(rng.lognormal(5, 2, n) * (rng.random(n) < .6)).astype(d) for d in dtypes]
    signs = [1.0] + [-1.0 if minus else 1.0] * (len(cols) - 1)
    rows = np.flatnonzero(rng.random(n) < .5) if some_rows else None
    sel = slice(None) if rows is None else rows
    flow = cols[0][sel].astype(np.float64)
    if len(cols) == 2:
        flow = flow - cols[1][sel].astype(np.float64) if minus \
            else flow + cols[1][sel].astype(np.float64)
    start = rng.normal(size=flow.size) * 100
    want = start + (flow if divisor is None else flow / divisor)
    got = start.copy()
    kernels.add_columns(got, cols, signs, rows, divisor)
    np.testing.assert_array_equal(got, want)
    # the compiled loops, called directly
    div = 1.0 if divisor is None else divisor
    got = start.copy()
    args = [kernels._plain(c) for c in cols]
    name = ("add1" if len(cols) == 1 else "add2") + ("_all" if rows is None else "")
    extra = [signs[1]] if len(cols) == 2 else []
    head = [got, div] if rows is None else [got, rows.astype(np.int64), div]
    kernels._kernel(name)(*head, *args, *extra)
    np.testing.assert_array_equal(got, want)


def test_add_columns_refuses_bad_signs() -> None:
    with pytest.raises(ValueError, match="first"):
        kernels.add_columns(np.zeros(2), [np.ones(2)], [-1.0])
    with pytest.raises(ValueError, match="signs"):
        kernels.add_columns(np.zeros(2), [np.ones(2), np.ones(2)], [1.0, 2.0])


def test_float_sums_add_in_row_order() -> None:
    """1e16 + 1 + 1 - 1e16 is 0 in row order (pairwise or reordered sums give 2)."""
    values = np.array([1e16, 1.0, 1.0, -1e16])
    assert kernels.segment_sums_float(values, np.array([0]), np.array([4]))[0] == 0.0
    assert np.bincount(np.zeros(4, dtype=int), weights=values)[0] == 0.0


def test_large_arrays_take_the_compiled_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """From COMPILED_FROM rows the compiled kernels run, and give the NumPy answers."""
    monkeypatch.setattr(kernels, "COMPILED_FROM", 10)
    rng = np.random.default_rng(5)
    values = rng.random(1000)
    start, stop = np.array([0, 10, 10, 500]), np.array([10, 10, 500, 1000])
    calls: list[str] = []
    real = kernels._kernel
    monkeypatch.setattr(kernels, "_kernel", lambda name: calls.append(name) or real(name))
    np.testing.assert_array_equal(kernels.segment_sums_float(values, start, stop),
                                  kernels._segment_sums_float_np(values, start, stop))
    ints = (values * 10).astype(np.int16)
    np.testing.assert_array_equal(kernels.segment_sums_int(ints, start, stop),
                                  kernels._segment_sums_int_np(ints, start, stop))
    assert calls == ["seg_float", "seg_int"]


def test_numba_is_installed() -> None:
    """numba is a dependency: without it full scale is much slower (same numbers)."""
    from importlib.util import find_spec

    assert find_spec("numba") is not None


def test_povsim_no_numba_keeps_large_tables_on_numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POVSIM_NO_NUMBA", "1")
    assert not kernels._numba_available()
    monkeypatch.setattr(kernels, "HAVE_NUMBA", False)
    monkeypatch.setattr(kernels, "COMPILED_FROM", 0)
    monkeypatch.setattr(kernels, "_kernel", lambda name: pytest.fail(f"{name} compiled"))
    assert not kernels.use_compiled(10**9)
    values = np.arange(10.0)
    assert kernels.segment_sums_float(values, np.array([0, 4]), np.array([4, 10])).tolist() \
        == [6.0, 39.0]


def test_a_run_on_the_compiled_kernels_equals_the_numpy_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Every compiled path (sums, the incomes declared as columns, the illness and
    medical-aid updates, the allocator),
    forced on a small run, gives the Dataset of the NumPy run bit for bit."""
    import xarray as xr

    import povsim
    from tests._support import small

    scn = small({"shocks.illness.rate": 0.4})  # many stays, chronic onsets and lost work
    monkeypatch.setattr(kernels, "_EVERY_SIZE", False)  # an ensemble test may have set it
    plain = povsim.run(scn, seed=3)
    monkeypatch.setattr(kernels, "COMPILED_FROM", 0)
    calls: list[str] = []
    real = kernels._kernel
    monkeypatch.setattr(kernels, "_kernel", lambda name: calls.append(name) or real(name))
    fused: list[str] = []
    real_call = kernels.LazyKernel.__call__

    def record(self: kernels.LazyKernel, *args: object) -> object:
        fused.append(self.fn.__name__)
        return real_call(self, *args)

    monkeypatch.setattr(kernels.LazyKernel, "__call__", record)
    compiled = povsim.run(scn, seed=3)
    assert {"seg_float", "seg_int", "seg_argsort", "seg_below", "add1", "add2", "add1_all",
            "add2_all"} <= set(calls)
    assert {"_apply_stays_loop", "_aid_loop", "_pay_loop", "_eco_income_loop"} <= set(fused)
    for name in plain.variables:
        xr.testing.assert_identical(plain[name], compiled[name])


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 3000), n_seg=st.integers(1, 40),
       with_first=st.booleans(), dtype=st.sampled_from(["float64", "float32"]))
def test_segment_argsort_equals_lexsort(seed: int, n: int, n_seg: int, with_first: bool,
                                        dtype: str) -> None:
    """The compiled radix sort gives ``np.lexsort((values, first, segment))`` exactly: ties
    in row order, -0.0 equal to 0.0, NaN last, infinities and negatives in place."""
    rng = np.random.default_rng(seed)
    segment = np.sort(rng.integers(0, n_seg, n))
    values = np.round(rng.normal(0, 1e3, n), int(rng.integers(-2, 2)))
    special = np.array([0.0, -0.0, np.nan, np.inf, -np.inf, -1e-300, 5e-324])
    pick = rng.random(n) < 0.1
    values[pick] = rng.choice(special, int(pick.sum()))
    values = values.astype(dtype)
    first = rng.random(n) < 0.5 if with_first else None
    keys = (values,) if first is None else (values, first)
    want = np.lexsort((*keys, segment))
    got = kernels.segment_argsort(values, segment, first, compiled=True)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(kernels.segment_argsort(values, segment, first,
                                                          compiled=False), want)


@pytest.mark.parametrize("with_first", [False, True])
def test_segment_argsort_at_each_sort_of_segment(with_first: bool) -> None:
    """Segments on both sides of the insertion-sort and digit-width limits (1, the limits
    and one more, a long one), with runs of ties and special values, sort as ``np.lexsort``."""
    rng = np.random.default_rng(11)
    lim, wide = kernels.INSERTION_ITEMS, kernels.WIDE_DIGIT_ITEMS
    sizes = [1, 2, lim, lim + 1, wide - 1, wide, wide + 1, 3 * wide]
    segment = np.repeat(np.arange(len(sizes)), sizes)
    n = segment.size
    values = np.round(rng.normal(0, 50, n))  # many ties
    values[rng.random(n) < 0.05] = np.nan
    values[rng.random(n) < 0.05] = -0.0
    values[rng.random(n) < 0.02] = -np.inf
    first = rng.random(n) < 0.3 if with_first else None
    keys = (values,) if first is None else (values, first)
    np.testing.assert_array_equal(kernels.segment_argsort(values, segment, first, compiled=True),
                                  np.lexsort((*keys, segment)))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 500), k=st.integers(1, 12),
       dtype=st.sampled_from(["float32", "float64"]), shift=st.sampled_from([0.0, 0.618, 1.85]))
def test_below_per_segment_equals_the_gathered_comparison(seed: int, n: int, k: int,
                                                         dtype: str, shift: float) -> None:
    """Compiled or not, the flags of ``u < thresholds[labels]`` (u: the draws, or the
    fractional part of draws + shift in their dtype), equal shares included."""
    rng = np.random.default_rng(seed)
    start, stop = _segments(rng, n, k)
    start[0], stop[-1] = 0, n  # the segments cover every row, as villages and counties do
    labels = np.repeat(np.arange(k), stop - start)
    values = rng.random(n).astype(dtype)
    thresholds = rng.random(k)
    if n:
        thresholds[0] = float(values[0])  # a draw equal to its share is not below it
    u = values
    if shift:
        u = values + values.dtype.type(shift)
        u -= np.floor(u)
    want = u < thresholds[labels]
    got = kernels.below_per_segment(values, thresholds, labels, start, stop, shift)
    np.testing.assert_array_equal(got, want)
    compiled = kernels._kernel("seg_below")(values, values.dtype.type(shift), thresholds,
                                            start.astype(np.int64), stop.astype(np.int64))
    np.testing.assert_array_equal(compiled, want)


def test_ensemble_runs_use_the_compiled_kernels_at_every_scale(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """An ensemble's run switches the compiled kernels on for its small table (many runs
    share Numba's import) and stores the numbers of the plain NumPy run."""
    import povsim
    from povsim.ensembles.runs import simulate
    from tests._support import small

    monkeypatch.setattr(kernels, "_EVERY_SIZE", False)
    scn = small()
    plain = povsim.run(scn, seed=4)
    assert not kernels.use_compiled(plain.attrs["n_households"])
    calls: list[str] = []
    real = kernels._kernel
    monkeypatch.setattr(kernels, "_kernel", lambda name: calls.append(name) or real(name))
    stored = simulate(scn, 4)
    assert kernels.use_compiled(1) and {"seg_argsort", "seg_float"} <= set(calls)
    for name in ("registered_poor", "exited", "spending", "exits_by_pathway", "target_shortfall"):
        np.testing.assert_array_equal(stored[name].values,
                                      plain[name].values.astype(np.float64))


def test_ecological_income_kernel_adds_in_float32_as_numpy() -> None:
    """The compiled ecological income of some rows is NumPy's float32 sum widened, bit for bit
    (a float64 sum would differ in the last digits)."""
    from povsim.pathways.ecological import _eco_income

    rng = np.random.default_rng(5)
    n = 5000
    post = rng.integers(0, 3, n).astype(np.int8)
    wage = (rng.random(n) * 7000).astype(np.float32)
    comp = (rng.random(n) * 1234.567).astype(np.float32)
    rows = np.sort(rng.choice(n, 3000, replace=False))
    want = (np.where(post[rows] == 2, wage[rows], 0.0) + comp[rows]).astype(np.float64)
    wide = np.where(post[rows] == 2, wage[rows].astype(np.float64), 0.0) + comp[rows]
    assert not np.array_equal(want, wide)  # the test can tell the two sums apart
    np.testing.assert_array_equal(_eco_income(post, wage, comp, rows.astype(np.int64)), want)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 800), k=st.integers(1, 12),
       line=st.sampled_from([0.0, 2300.0, 3146.5]), weight=st.sampled_from([1.0, 100.0, 0.37]))
def test_gap_and_masked_sums_equal_their_numpy_definitions(seed: int, n: int, k: int,
                                                           line: float, weight: float) -> None:
    """Compiled or not, the per-segment gap totals equal ``segment_sums_float`` of the NumPy
    product (NaN incomes, incomes on the line, empty segments) and the masked persons equal
    the integer sums of ``size * mask``."""
    rng = np.random.default_rng(seed)
    start, stop = _segments(rng, n, k)
    start[0], stop[-1] = 0, n
    pc = np.round(rng.normal(3000, 1500, n), 1)
    pc[rng.random(n) < 0.05] = line
    pc[rng.random(n) < 0.02] = np.nan
    size = rng.integers(1, 9, n).astype(np.int8)
    mask = rng.random(n) < 0.6
    want = kernels.segment_sums_float(np.maximum(line - pc, 0.0) * size * mask * weight,
                                      start, stop)
    np.testing.assert_array_equal(kernels.gap_sums(pc, line, size, mask, start, stop, weight),
                                  want)
    compiled = kernels._kernel("seg_gap")(pc, line, size, mask.view(np.uint8), weight,
                                          start.astype(np.int64), stop.astype(np.int64))
    np.testing.assert_array_equal(compiled, want)
    people = kernels.segment_sums_int(size * mask, start, stop)
    np.testing.assert_array_equal(kernels.masked_sums_int(size, mask, start, stop), people)
    np.testing.assert_array_equal(
        kernels._kernel("seg_masked_int")(size, mask.view(np.uint8), start.astype(np.int64),
                                          stop.astype(np.int64)), people)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 800), k=st.integers(1, 12))
def test_product_sums_equal_their_numpy_definition(seed: int, n: int, k: int) -> None:
    """The totals of size × income, of all rows and of the masked ones, compiled or not."""
    rng = np.random.default_rng(seed)
    start, stop = _segments(rng, n, k)
    start[0], stop[-1] = 0, n
    size = rng.integers(1, 9, n).astype(np.int8)
    pc = rng.lognormal(8, 1, n)
    mask = rng.random(n) < 0.4
    p = size * pc
    want = (kernels.segment_sums_float(p, start, stop),
            kernels.segment_sums_float(p * mask, start, stop))
    for got in (kernels.product_sums(size, pc, mask, start, stop),
                kernels._kernel("seg_prod")(size, pc, mask.view(np.uint8),
                                            start.astype(np.int64), stop.astype(np.int64))):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])
