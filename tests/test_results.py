"""The results Dataset: structure, units, partial results, and the netCDF / zarr round trip."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _support import FLOWS, REQUIRED_ATTRS, simulated

import povsim
from povsim.provenance import VOLATILE_ATTRS
from povsim.scenario import Scenario


def test_netcdf_round_trip(baseline_ds: xr.Dataset, tmp_path: Path) -> None:
    """write_dataset to .nc and reading back gives an identical Dataset (values, coords,
    attributes), and leaves no temporary file behind."""
    path = povsim.write_dataset(baseline_ds, tmp_path / "run.nc")
    assert path == tmp_path / "run.nc"
    assert [p.name for p in tmp_path.iterdir()] == ["run.nc"]
    back = xr.load_dataset(path)
    # the file also records when and by which command it was written (and nothing else new)
    for key in VOLATILE_ATTRS:
        assert back.attrs.pop(key), key
    xr.testing.assert_identical(back, baseline_ds)
    for key, value in baseline_ds.attrs.items():
        assert back.attrs[key] == value, key


def test_netcdf_overwrite(baseline_ds: xr.Dataset, tmp_path: Path) -> None:
    """Writing over an existing results file replaces it."""
    path = tmp_path / "run.nc"
    path.write_text("not a netCDF file")
    povsim.write_dataset(baseline_ds, path)
    back = xr.load_dataset(path)
    back.attrs = {k: v for k, v in back.attrs.items() if k not in VOLATILE_ATTRS}
    xr.testing.assert_identical(back, baseline_ds)


def test_zarr_round_trip(baseline_ds: xr.Dataset, tmp_path: Path) -> None:
    """write_dataset to .zarr and reading back gives an identical Dataset."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zarr v3 warns about fixed-width strings
        path = povsim.write_dataset(baseline_ds, tmp_path / "run.zarr")
        back = xr.open_zarr(path).load()
    # the store carries povsim's marker (so that it can be replaced later), nothing else new
    from povsim.outputs import MARKER, read_marker

    assert read_marker(path)["kind"] == "run"
    del back.attrs[MARKER]
    for key in VOLATILE_ATTRS:
        assert back.attrs.pop(key), key
    xr.testing.assert_identical(back, baseline_ds)


def test_every_variable_has_units(baseline_ds: xr.Dataset) -> None:
    """Every data variable carries a non-empty units attribute and a description."""
    for name, da in baseline_ds.data_vars.items():
        assert da.attrs.get("units"), name
        assert da.attrs.get("description"), name


def test_provenance_attributes(baseline_ds: xr.Dataset, small_scenario: Scenario) -> None:
    """seed, scenario hash, version, sizes and scale are recorded."""
    a = baseline_ds.attrs
    for key in REQUIRED_ATTRS:
        assert key in a, key
    assert a["seed"] == small_scenario.seed
    assert a["scenario_sha256"] == small_scenario.sha256()
    assert a["povsim_version"] == povsim.__version__
    assert a["n_steps"] == 72 and a["steps_completed"] == 72 and a["complete"] == 1
    assert a["scale"] == 2000
    assert a["n_households"] > 1000


def test_dimensions_and_coordinates(baseline_ds: xr.Dataset) -> None:
    """Years from the base year to 2020; five regions; 88 poor counties; per-pathway spending."""
    ds = baseline_ds
    assert list(ds["year"].values) == list(range(2014, 2021))
    assert len(ds["region"]) == 5
    assert int(ds["county_poor"].sum()) == 88
    assert ds["spending"].dims == ("year", "region", "pathway", "source")
    assert ds["available"].dims == ("year", "region", "source")
    assert ds["households_served"].dims == ("year", "region", "pathway")
    assert ds["county_registered_poor"].dims == ("year", "county")
    assert list(ds["pathway"].values)[-1] == "services"


def test_base_year_flows_nan_stocks_not(baseline_ds: xr.Dataset) -> None:
    """In the base year flows and money are NaN; stocks are numbers."""
    base = baseline_ds.isel(year=0)
    for name in (*FLOWS, "spending", "available", "households_served", "illness_stays",
                 "disaster_households_hit"):
        assert bool(base[name].isnull().all()), name
    for name in ("registered_poor", "incidence", "mean_income", "rural_population"):
        assert not bool(base[name].isnull().any()), name
    for name in (*FLOWS, "illness_stays", "disaster_households_hit"):
        assert not bool(simulated(baseline_ds[name]).isnull().any()), name


def test_incidence_is_stock_over_population(baseline_ds: xr.Dataset) -> None:
    """incidence = registered_poor / rural_population, per region and year."""
    ds = baseline_ds
    np.testing.assert_allclose(ds["incidence"].values,
                               (ds["registered_poor"] / ds["rural_population"]).values,
                               rtol=1e-12)


def test_cumulative_place_exits_never_fall(baseline_ds: xr.Dataset) -> None:
    """Villages and counties exited are cumulative ("摘帽不摘政策"): they never decrease and
    never exceed the designated poor places."""
    for name, total in (("villages_exited", "poor_villages"), ("counties_exited", "poor_counties")):
        da = baseline_ds[name]
        assert bool((da.diff("year") >= -1e-9).all()), name
        assert bool((da <= baseline_ds[total] + 1e-9).all()), name


def test_partial_results_mid_run(small_scenario: Scenario) -> None:
    """results() after 18 months holds the completed years only and says it is incomplete."""
    model = povsim.PovertyModel(small_scenario)
    for _ in range(18):
        model.step()
    ds = model.results()
    assert list(ds["year"].values) == [2014, 2015]
    assert ds.attrs["steps_completed"] == 18
    assert ds.attrs["complete"] == 0


def test_target_table(baseline_ds: xr.Dataset, small_scenario: Scenario) -> None:
    """The target table has one row per target with a held flag, the same with or without
    the scenario passed in."""
    rows = povsim.evaluate_targets(baseline_ds, small_scenario)
    assert [r.key for r in rows][:5] == ["registered_poor", "pace", "villages", "counties",
                                         "income"]
    again = povsim.evaluate_targets(baseline_ds)
    assert rows == again
    table = povsim.target_table(baseline_ds)
    assert list(table["target"].values) == [r.key for r in rows]
    text = povsim.format_table(rows)
    assert text.splitlines()[0].startswith("target")
    stock_2020 = float(baseline_ds["registered_poor"].sel(year=2020).sum())
    assert rows[0].held == (stock_2020 <= small_scenario.targets.registered_poor + 0.5)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_write_dataset_returns_path(baseline_ds: xr.Dataset, tmp_path: Path,
                                    suffix: str) -> None:
    """write_dataset returns the path it wrote, which exists afterwards."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = povsim.write_dataset(baseline_ds.isel(year=slice(0, 2)), tmp_path / f"r{suffix}")
    assert out.exists()


def test_stable_argsort_equals_numpy_stable_sort_with_ties_and_nans() -> None:
    """The fast stable argsort used for income quantiles is numpy's stable permutation, with
    tie runs anywhere (adjacent runs, one run over everything, runs at the ends) and NaNs."""
    from povsim.results import _stable_argsort

    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 50, 5000):
        cases = [
            np.round(rng.normal(3000, 500, n), -2),  # many ties
            rng.normal(size=n),  # no ties
            np.full(n, 7.0),  # one run of ties
            rng.integers(0, 3, n).astype(np.float64),  # adjacent runs only
        ]
        for v in cases:
            v[rng.random(n) < 0.05] = np.nan
            expected = np.argsort(v, kind="stable")
            assert np.array_equal(_stable_argsort(v), expected)
            order, sorted_v = _stable_argsort(v, return_sorted=True)
            assert np.array_equal(order, expected)
            assert np.array_equal(sorted_v, v[expected], equal_nan=True)
