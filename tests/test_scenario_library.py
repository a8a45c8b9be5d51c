"""Every scenario in scenarios/ loads and runs at a small scale with the required outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr
from _support import (
    FIVE_PATHWAYS,
    REQUIRED_ATTRS,
    REQUIRED_VARIABLES,
    SCENARIO_FILES,
    SCENARIOS,
    SMALL_SCALE,
    check_budget,
    check_stock_flow,
)

import povsim
from povsim.scenario import load_scenario


def test_library_not_empty() -> None:
    """The library holds the baseline and the variants the issue names."""
    names = {p.stem for p in SCENARIO_FILES}
    assert {"baseline", "weak_medical_aid", "no_relocation", "no_line_merge",
            "heavy_disasters"} <= names


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_library_scenario_runs(path: Path, monkeypatch: pytest.MonkeyPatch,
                               tmp_path: Path) -> None:
    """Loads from any working directory, runs at scale 2000, and gives a Dataset with every
    required variable (with units), the five pathways and the provenance attributes."""
    monkeypatch.chdir(tmp_path)  # extends: and data paths must not depend on the cwd
    scn = load_scenario(path, overrides={"population.scale": SMALL_SCALE})
    ds = povsim.run(path, scale=SMALL_SCALE)
    for name in REQUIRED_VARIABLES:
        assert name in ds, f"{path.name}: missing {name}"
        assert ds[name].attrs.get("units"), f"{path.name}: {name} has no units"
        assert ds[name].dims[0] == "year", name
    missing_units = [v for v in ds.data_vars if not ds[v].attrs.get("units")]
    assert not missing_units, f"variables without units: {missing_units}"
    assert set(FIVE_PATHWAYS) <= set(ds["pathway"].values)
    assert {"year", "region", "pathway", "source"} <= set(ds["spending"].dims)
    for key in REQUIRED_ATTRS:
        assert key in ds.attrs, key
    assert ds.attrs["scale"] == SMALL_SCALE
    assert ds.attrs["scenario_sha256"] == scn.sha256()
    assert ds.attrs["seed"] == scn.seed
    assert ds.attrs["n_steps"] == scn.calendar.n_steps
    assert ds.attrs["povsim_version"] == povsim.__version__
    assert list(ds["year"].values) == [scn.calendar.base_year, *scn.calendar.years]
    check_stock_flow(ds)
    check_budget(ds, scn)
    # the base year is the starting stock: about 4.98 million registered poor
    start = float(ds["registered_poor"].isel(year=0).sum())
    assert abs(start - scn.population.registered_poor) <= 0.01 * scn.population.registered_poor


def test_library_variants_differ_from_baseline() -> None:
    """Each variant file changes the scenario (a different hash from the baseline)."""
    base = load_scenario(SCENARIOS / "baseline.yaml").sha256()
    for path in SCENARIO_FILES:
        if path.stem != "baseline":
            assert load_scenario(path).sha256() != base, path.name


def test_heavy_disasters_hits_more(baseline_ds: xr.Dataset) -> None:
    """The heavy-disasters variant hits more households and replays the 2017 earthquake."""
    heavy = povsim.run(SCENARIOS / "heavy_disasters.yaml", scale=SMALL_SCALE)
    assert float(heavy["disaster_households_hit"].sum()) > float(
        baseline_ds["disaster_households_hit"].sum())
    quake = heavy["disaster_county_events"].sel(year=2017, hazard="earthquake").sum()
    assert float(quake) >= 3


def test_run_api_accepts_a_shorter_calendar() -> None:
    """``povsim.run(..., overrides={'calendar.end_year': 2016})`` runs two years, like the
    loader with the same override."""
    over = {"calendar.end_year": 2016}
    via_loader = load_scenario(SCENARIOS / "baseline.yaml", overrides=over)
    assert via_loader.calendar.end_year == 2016
    ds = povsim.run(SCENARIOS / "baseline.yaml", scale=SMALL_SCALE, overrides=over)
    assert list(ds["year"].values) == [2014, 2015, 2016]


def test_run_api_scale_on_a_short_scenario() -> None:
    """A valid short-calendar scenario can be run at another scale with ``scale=``."""
    scn = load_scenario(SCENARIOS / "baseline.yaml", overrides={"calendar.end_year": 2016})
    ds = povsim.run(scn, scale=SMALL_SCALE)
    assert ds.attrs["scale"] == SMALL_SCALE


def test_scenario_json_round_trips(baseline_ds: xr.Dataset) -> None:
    """The scenario stored in a result rebuilds the same scenario (same hash)."""
    from povsim.scenario import Scenario

    again = Scenario.model_validate_json(baseline_ds.attrs["scenario_json"])
    assert again.sha256() == baseline_ds.attrs["scenario_sha256"]
    assert again.population.scale == SMALL_SCALE


def test_short_calendar_scenario_json_round_trips() -> None:
    """A short-calendar result's scenario_json rebuilds the scenario, and the targets can be
    evaluated from the Dataset alone."""
    from povsim.scenario import Scenario

    scn = load_scenario(SCENARIOS / "baseline.yaml", overrides={"population.scale": SMALL_SCALE,
                                                                "calendar.end_year": 2016})
    ds = povsim.run(scn)
    assert list(ds["year"].values) == [2014, 2015, 2016]
    rows = povsim.evaluate_targets(ds, scn)  # works with the scenario given
    assert rows
    again = Scenario.model_validate_json(ds.attrs["scenario_json"])
    assert again.sha256() == scn.sha256()
    assert [r.key for r in povsim.evaluate_targets(ds)] == [r.key for r in rows]
