"""Engine v2: the household table refuses assignments, the one rationing rule, the vectorised
ledger, and one way to run a model (attribution and targets in every Dataset)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
import xarray as xr
from _support import SMALL_SCALE

import povsim
from povsim import cli
from povsim import kernels
from povsim.budget import Ledger, priority_order, ration, segment_cumsum
from povsim.errors import ModelBuildError
from povsim.households import Households

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "components"))  # the test plugin's config class


def test_households_refuse_assignment() -> None:
    """Assigning a column replaces nothing, and an unknown attribute is not created."""
    hh = Households(4)
    hh.add("x", np.float64, "1", "a column", "test")
    arr = hh.x
    with pytest.raises(ModelBuildError, match="cannot be replaced"):
        hh.x = np.ones(4)
    with pytest.raises(ModelBuildError, match="no column 'y'"):
        hh.y = np.ones(4)
    hh.x += 1.0  # augmented assignment changes the column in place
    assert hh.x is arr and np.all(hh.x == 1.0)


def _old_ration(county, cost, money, units, cap, u):
    """The per-county loop the model used before Engine v2 (reference)."""
    chosen = np.zeros(county.size, dtype=bool)
    for c in np.unique(county):
        pos = np.flatnonzero(county == c)
        k = int(np.searchsorted(np.cumsum(cost[pos]), money[c] + 1e-6, side="right"))
        if np.isfinite(cap[c]) and k:
            cum = np.cumsum(units[pos[:k]])
            k_cap = int(np.searchsorted(cum, cap[c] + 1e-6, side="right"))
            if k_cap < k:
                left = cap[c] - (cum[k_cap - 1] if k_cap else 0.0)
                if u[pos[k_cap]] < left / units[pos[k_cap]]:
                    k_cap += 1
                k = k_cap
        chosen[pos[:k]] = True
    return chosen


@pytest.mark.parametrize("seed", range(6))
def test_ration_equals_the_per_county_loop(seed: int) -> None:
    """All counties at once give exactly what the old county-by-county loop gave."""
    rng = np.random.default_rng(seed)
    C = 7
    county = np.sort(rng.integers(0, C, 300))
    cost = rng.choice([0.0, 100.0, 250.0, 1000.0], size=300)
    money = rng.uniform(0, 20000, C)
    money[0] = 0.0
    units = rng.integers(1, 6, 300).astype(float)
    cap = np.where(rng.random(C) < 0.5, rng.uniform(0, 60, C), np.inf)
    u = rng.random(300)
    res = ration(county, cost, money, units=units, capacity=cap, marginal_u=u)
    np.testing.assert_array_equal(res.chosen, _old_ration(county, cost, money, units, cap, u))
    spent = np.bincount(county, weights=cost * res.chosen, minlength=C)
    assert np.all(spent <= money + 1e-6)
    assert np.all(res.units[np.isfinite(cap)] <= cap[np.isfinite(cap)] + units.max())


def test_ration_partial_pays_the_first_unaffordable_item_in_part() -> None:
    """Services: items in full while the money lasts, the next in part, then nothing."""
    res = ration(np.array([0, 0, 0, 1]), np.array([10.0, 10.0, 10.0, 5.0]),
                 np.array([25.0, 0.0]), partial=True)
    np.testing.assert_allclose(res.share, [1.0, 1.0, 0.5, 0.0])
    np.testing.assert_allclose(res.spent, [25.0, 0.0])


def test_segment_cumsum_restarts_per_segment() -> None:
    vals = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    np.testing.assert_array_equal(segment_cumsum(vals, np.array([0, 0, 2, 2, 2]), 3),
                                  [1.0, 3.0, 3.0, 7.0, 12.0])


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 4000), n_seg=st.integers(1, 300))
def test_segment_cumsum_equals_each_segments_cumsum(seed: int, n: int, n_seg: int) -> None:
    """Bit for bit ``np.cumsum(values[seg == s])`` per segment, whichever way it is computed
    (one cumsum per slice for few long segments, a padded table for many short ones)."""
    rng = np.random.default_rng(seed)
    seg = np.sort(rng.integers(0, n_seg, n))
    vals = rng.lognormal(3, 2, n) * rng.choice([1.0, -1.0], n)
    want = np.empty(n)
    for s in np.unique(seg):
        want[seg == s] = np.cumsum(vals[seg == s])
    np.testing.assert_array_equal(segment_cumsum(vals, seg, n_seg), want)
    if kernels.HAVE_NUMBA:  # and the compiled pass (large tables, ensembles)
        np.testing.assert_array_equal(kernels.segment_cumsum(vals, seg), want)


def test_priority_orders_within_counties() -> None:
    county = np.array([1, 0, 1, 0])
    pc = np.array([5.0, 9.0, 1.0, 2.0])
    reg = np.array([False, True, True, False])
    assert list(priority_order("poorest_first", county, pc, reg)) == [3, 1, 2, 0]
    assert list(priority_order("registered_first", county, pc, reg)) == [1, 3, 2, 0]
    with pytest.raises(ValueError, match="unknown priority"):
        priority_order("richest_first", county, pc, reg)


def test_ledger_never_overspends_an_envelope() -> None:
    """A vectorised draw pays at most what each county's envelope holds, sources in order."""
    led = Ledger(["a", "b", "c"], ["grant", "grant", "credit"], ["p", "services"], 3, False)
    led.open_year(2015, np.array([[100.0, 50.0, 10.0], [0.0, 0.0, 0.0], [10.0, 0.0, 5.0]]))
    w = np.zeros((3, 2, 3))
    w[:, 0, :] = 1.0
    led.set_envelopes(w)
    paid = led.draw(0, np.array([120.0, 30.0, 50.0]))
    np.testing.assert_allclose(paid, [120.0, 0.0, 10.0])
    np.testing.assert_allclose(led.spent[0, 0], [100.0, 20.0, 0.0])
    np.testing.assert_allclose(led.remaining(0), [30.0, 0.0, 0.0])
    np.testing.assert_allclose(led.remaining(0, "credit"), [10.0, 0.0, 5.0])
    led.close_year()


def test_run_records_attribution_and_targets(baseline_ds: xr.Dataset) -> None:
    """povsim.run's Dataset holds the attribution of exits (summing to exited) and targets."""
    ds = baseline_ds
    assert ds["exits_by_pathway"].dims == ("year", "region", "attribution")
    sim = ds.sel(year=ds["year"] > ds["year"][0])
    np.testing.assert_allclose(sim["exits_by_pathway"].sum("attribution"), sim["exited"])
    assert {"no_pathway", "review", "quota", "dibao"} <= set(ds["attribution"].values)
    rows = povsim.evaluate_targets(ds)
    assert list(ds["target"].values) == [r.key for r in rows]
    np.testing.assert_array_equal(ds["target_held"].values, [float(r.held) for r in rows])


def test_ensemble_run_uses_the_core(small_scenario: povsim.Scenario) -> None:
    """An ensemble run stores exactly the core's attribution and targets."""
    from povsim.ensembles.runs import simulate

    ens = simulate(small_scenario, seed=3)
    core = povsim.run(small_scenario, seed=3)
    xr.testing.assert_allclose(ens["exits_by_pathway"], core["exits_by_pathway"])
    np.testing.assert_array_equal(ens["target_held"].values, core["target_held"].values)


def test_cli_run_goes_through_povsim_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`povsim run` runs the model with povsim.run (one way to run a model)."""
    calls = []
    original = povsim.run

    def spy(*args, **kwargs):
        calls.append(kwargs.get("seed"))
        return original(*args, **kwargs)

    monkeypatch.setattr(povsim, "run", spy)
    rc = cli.main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--scale",
                   str(SMALL_SCALE), "--seed", "5", "-o", str(tmp_path / "r.nc"), "-q"])
    assert rc == 0 and calls == [5]
    with xr.open_dataset(tmp_path / "r.nc") as ds:
        assert "exits_by_pathway" in ds and "target_held" in ds


class _TwoHandlers(povsim.Pathway):
    """Claims the illness event medical aid already answers."""

    handles: dict[str, str] = {"hospital_stay": "eligible"}


def test_an_event_has_one_handler() -> None:
    """Two components answering one event is a ModelBuildError naming both."""
    from plugin_component import FlatBonusConfig

    povsim.register_pathway("second_medical", FlatBonusConfig, _TwoHandlers, replace=True)
    try:
        scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
            {"population.scale": 20000, "pathways.second_medical": {}})
        with pytest.raises(ModelBuildError, match="medical.*second_medical"):
            povsim.PovertyModel(scn)
    finally:
        from povsim.registry import unregister

        unregister("pathway", "second_medical")


def test_illness_reaches_medical_aid_only_through_its_event(
        small_scenario: povsim.Scenario) -> None:
    """Without a handler of ``hospital_stay`` (medical's disconnected) stays cost more."""
    from povsim.pathways.medical import MedicalPathway

    base = povsim.run(small_scenario, seed=2)
    saved = MedicalPathway.handles
    try:
        MedicalPathway.handles = {}
        unhandled = povsim.run(small_scenario, seed=2)
    finally:
        MedicalPathway.handles = saved
    assert float(unhandled["medical_oop"].sum()) > float(base["medical_oop"].sum())


@pytest.mark.parametrize("whole, part, least", [
    ("income", "income_at", 2),  # dibao and production pay someone by month 30
    ("housing_secured", "housing_secured_at", 1),
    ("relief", "relief_at", 1),
])
def test_the_attributions_row_reads_equal_the_whole_table_reads(whole: str, part: str,
                                                                least: int) -> None:
    """Every component's ``income_at(rows)`` and ``housing_secured_at(rows)`` (read monthly by
    the attribution) and ``relief_at(rows)`` (read at the assessment) are exactly
    ``income()[rows]`` as float64, ``housing_secured()[rows]`` and ``relief()[rows]``, mid-run
    when pathways have paid, households have moved and rebuilt and been aided."""
    from _support import small

    from povsim.model import PovertyModel

    model = PovertyModel(small(), seed=5)
    for _ in range(30):
        model.step()
    run = model.run_state
    rows = np.flatnonzero(model.households.registered)
    some = 0
    for comp in model.components:
        if not hasattr(comp, part):
            continue  # housing and relief are pathways' answers only
        full = run.call(comp, whole)
        got = run.call(comp, part, rows)
        if full is None:
            assert got is None
            continue
        want = np.asarray(full, dtype=np.float64 if whole == "income" else None)[rows]
        assert np.asarray(got).dtype == want.dtype
        assert np.array_equal(got, want)
        some += bool(np.any(got))
    assert some >= least


@pytest.mark.parametrize("rule", ["poorest_first", "registered_first", "random"])
def test_priority_order_county_by_county_equals_lexsort(rule: str) -> None:
    """Many items sorted by county are ordered county by county: the same stable permutation
    as one lexsort, ties (equal incomes, NaN) included."""
    from povsim.budget import rationing

    rng = np.random.default_rng(3)
    n = rationing._SEGMENT_ITEMS + 1000
    county = np.sort(rng.integers(0, 50, n)).astype(np.int16)
    pc = np.round(rng.normal(3000, 800, n), -2)  # many ties
    pc[::97] = np.nan
    reg = rng.random(n) < 0.4
    u = rng.random(n).astype(np.float32)
    keys = {"poorest_first": (pc,), "registered_first": (pc, ~reg), "random": (u,)}[rule]
    want = np.lexsort((*keys, county))
    np.testing.assert_array_equal(rationing.priority_order(rule, county, pc, reg, u), want)
    # the compiled radix sort of a large table: the same permutation
    np.testing.assert_array_equal(
        rationing.priority_order(rule, county, pc, reg, u, compiled=True), want)


def test_a_finished_model_is_freed() -> None:
    # Mesa 3.3 keeps every model that created an agent alive (mesa.Agent._ids, a defaultdict
    # keyed by the model): a dask worker of a long calibration grew to ~10 GB and was paused
    import gc
    import weakref

    import mesa

    from povsim.model import PovertyModel

    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        {"population.scale": 5000, "calendar.end_year": 2016})
    model = PovertyModel(scn, seed=1)
    first = model.counties[0].unique_id
    model.run(progress=False)
    ref = weakref.ref(model)
    del model
    gc.collect()
    assert ref() is None, "the model (and its household arrays) outlived the run"
    # agents of a new model still count from 1, and a plain Mesa model still works
    again = PovertyModel(scn, seed=1)
    assert again.counties[0].unique_id == first
    other = mesa.Model()
    assert mesa.Agent(other).unique_id == 1


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_draws_at_are_the_full_draws_at_those_rows(dtype: type,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """``draws_at`` (the marginal households' uniforms, drawn block by block) gives exactly
    ``draws(...)[rows]``: rows in any order, repeated, at both ends of the table and of a
    block, sparse (blocks) or dense (one full draw)."""
    from _support import small

    from povsim import context
    from povsim.model import PovertyModel

    monkeypatch.setattr(context, "DRAW_BLOCK", 64)  # blocks small against the test table
    run = PovertyModel(small(), seed=5).run_state
    n = run.households.n
    full = run.draws("capacity.production", 2016, dtype=dtype)
    per_block = context.DRAW_BLOCK * (2 if dtype is np.float32 else 1)
    assert n > 8 * per_block  # the sparse rows below are drawn by blocks
    rng = np.random.default_rng(0)
    sparse = np.array([0, n - 1, per_block - 1, per_block, 3 * per_block + 1, 5, 5, 1])
    for rows in (sparse, rng.permutation(n)[:20], rng.integers(0, n, n // 2),
                 np.arange(0), np.arange(n)):
        got = run.draws_at("capacity.production", 2016, rows=rows, dtype=dtype)
        assert got.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(got, full[rows])
    with pytest.raises(IndexError, match="rows must lie in"):
        run.draws_at("capacity.production", 2016, rows=np.array([n]))
    with pytest.raises(ValueError, match="float32 or float64"):
        run.draws_at("capacity.production", 2016, rows=np.array([1]), dtype=np.float16)


def test_year_decisions_are_read_only_in_their_year() -> None:
    """Production keeps this year's track and loan decisions and asset income this year's
    reach (flags, not a year of float32 uniforms): asking them for another year is an error,
    not last January's draws silently reused."""
    from _support import small

    from povsim.model import PovertyModel

    model = PovertyModel(small(), seed=5)
    model.step()  # January: start_year and the planning of the first year
    run = model.run_state
    year = run.year
    prod = model.pathways["production"]
    rows = np.arange(10)
    assert prod._loan(rows, year).dtype == np.bool_
    with pytest.raises(RuntimeError, match="loans asked for"):
        prod._loan(rows, year + 1)
    asset = model.pathways["asset_income"]
    ctx = run.contexts["asset_income"]
    assert asset.eligible(ctx, year).shape == (model.households.n,)
    with pytest.raises(RuntimeError, match="eligibility asked for"):
        asset.eligible(ctx, year + 1)


def test_monthly_reads_in_helper_threads_give_the_same_run(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """In a large table the attribution's monthly reads of povsim's own pathways run in
    helper threads (``RunState.call_each``); the run is the same as read in order, and a
    checked run reads in order."""
    import threading

    from _support import small

    from povsim import context
    from povsim.model import PovertyModel

    def run(parallel: bool, checked: bool = False) -> tuple[xr.Dataset, set[str]]:
        monkeypatch.setattr(context, "PARALLEL_ROWS", 0 if parallel else 1 << 62)
        threads: set[str] = set()
        call = context.RunState.call

        def recording(self: context.RunState, comp: object, method: str, *args: object) -> object:
            if method in ("income_at", "housing_secured_at"):
                threads.add(threading.current_thread().name)
            return call(self, comp, method, *args)

        monkeypatch.setattr(context.RunState, "call", recording)
        ds = PovertyModel(small(), seed=5, checked=checked).run(progress=False)
        monkeypatch.setattr(context.RunState, "call", call)
        return ds, threads

    in_order, t_order = run(False)
    threaded, t_threaded = run(True)
    assert t_order == {threading.current_thread().name}
    assert any(t.startswith("povsim-helper") for t in t_threaded)
    xr.testing.assert_equal(in_order, threaded)  # values and coordinates (attrs: times)
    _, t_checked = run(True, checked=True)
    assert t_checked == {threading.current_thread().name}
