"""Replaying a historical disaster: the hit county suffers, the rest of the province does not.

The catalogue hazards are switched off (all annual probabilities 0), so the only disaster is
the replayed event in 九寨沟县 (Aba prefecture, tibetan_plateau). The runs with and without the
event share the seed (common random numbers). The scale is finer than elsewhere (1:200, to
2018) because at 1:2000 the county holds only a handful of households.
"""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import povsim
from povsim.errors import PovsimError
from povsim.scenario import scenario_from_yaml_string

COUNTY = "九寨沟县"
REGION = "tibetan_plateau"
YEAR = 2017
SCALE = 200
ZERO = "{qinba: 0, wumeng: 0, liangshan_yi: 0, tibetan_plateau: 0, rest_of_province: 0}"
NO_CATALOGUE = f"""
name: no_catalogue
seed: 7
population: {{scale: {SCALE}}}
calendar: {{start_year: 2015, end_year: 2018}}
shocks:
  disasters:
    earthquake: {{annual_probability: {ZERO}}}
    flood: {{annual_probability: {ZERO}}}
    landslide: {{annual_probability: {ZERO}}}
"""
EVENT = f"""\
    events:
      - name: Jiuzhaigou replay
        kind: earthquake
        year: {YEAR}
        month: 8
        counties: [{COUNTY}]
        damaged: 0.5
        destroyed: 0.1
        income_loss: 0.8
"""


@pytest.fixture(scope="module")
def runs() -> tuple[xr.Dataset, xr.Dataset]:
    """(without the event, with the event), same seed."""
    quiet = povsim.run(scenario_from_yaml_string(NO_CATALOGUE))
    replay = povsim.run(scenario_from_yaml_string(NO_CATALOGUE + EVENT))
    return quiet, replay


def _entries(ds: xr.Dataset) -> xr.DataArray:
    return ds["county_new_poor"] + ds["county_returned"]


def test_no_disasters_without_catalogue_or_events(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """With every hazard probability 0 and no event, nothing is hit, damaged or destroyed."""
    quiet, _ = runs
    for name in ("disaster_households_hit", "disaster_county_events", "houses_destroyed",
                 "houses_damaged"):
        assert float(quiet[name].sum()) == 0.0, name


def test_replay_hits_only_the_named_county_region(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """Houses destroyed and households hit appear only in tibetan_plateau, only in 2017."""
    _, replay = runs
    hit = replay["disaster_households_hit"].sum("hazard")
    for name, da in (("disaster_households_hit", hit),
                     ("houses_destroyed", replay["houses_destroyed"]),
                     ("houses_damaged", replay["houses_damaged"])):
        inside = float(da.sel(year=YEAR, region=REGION))
        assert inside > 0, f"{name} is 0 in {REGION} {YEAR}"
        assert float(da.sum()) == inside, f"{name} outside {REGION} {YEAR}"
    assert float(replay["disaster_county_events"].sel(year=YEAR, region=REGION,
                                                      hazard="earthquake")) == 1.0
    # destroyed / hit is near the event's 10% (binomial noise on about 70 households)
    share = float(replay["houses_destroyed"].sel(year=YEAR, region=REGION)
                  / hit.sel(year=YEAR, region=REGION))
    assert 0.02 < share < 0.25


def test_replay_pushes_people_into_poverty(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """With the replayed event more people in the hit county are poor at the end of 2017, and
    new_poor + returned is higher in 2018: the households found at the 2017 review enter the
    register the next January (``exits.household.intake: next_year``, dynamic management)."""
    quiet, replay = runs
    assert float(replay["county_true_poor"].sel(county=COUNTY, year=YEAR)) > float(
        quiet["county_true_poor"].sel(county=COUNTY, year=YEAR))
    before = float(_entries(quiet).sel(county=COUNTY, year=YEAR + 1))
    after = float(_entries(replay).sel(county=COUNTY, year=YEAR + 1))
    assert after > before


def test_other_counties_untouched_in_event_year(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """Up to the event year every other county's stock and flows are exactly the same
    (common random numbers; the year's money was split in January, before the event)."""
    quiet, replay = runs
    others = {"county": [c for c in quiet["county"].values if c != COUNTY],
              "year": slice(None, YEAR)}
    for name in ("county_registered_poor", "county_exited", "county_returned",
                 "county_new_poor"):
        xr.testing.assert_identical(replay[name].sel(others), quiet[name].sel(others))


def test_hit_county_dominates_later_differences(runs: tuple[xr.Dataset, xr.Dataset]) -> None:
    """After the event year, province-wide budget shifts may move other counties a little,
    but the hit county's inflow from the event (found at the 2017 review, registered in
    January 2018) dominates every later difference elsewhere."""
    quiet, replay = runs
    jump = float(_entries(replay).sel(county=COUNTY, year=YEAR + 1)
                 - _entries(quiet).sel(county=COUNTY, year=YEAR + 1))
    diff = (replay["county_registered_poor"] - quiet["county_registered_poor"]).drop_sel(
        county=COUNTY)
    later = np.abs(diff.sel(year=slice(YEAR + 1, None))).sum("county")
    assert np.all(later.values < jump), f"other counties moved by {later.values}, jump {jump}"


def test_region_event_hits_every_county_of_the_region() -> None:
    """An event given by region strikes each of that region's counties once."""
    text = NO_CATALOGUE.replace(f"scale: {SCALE}", "scale: 2000") + EVENT.replace(
        f"counties: [{COUNTY}]", "regions: [wumeng]")
    model = povsim.PovertyModel(scenario_from_yaml_string(text))
    ds = model.run(progress=False)
    n_wumeng = int((ds["county_region"] == "wumeng").sum())
    events = ds["disaster_county_events"].sel(year=YEAR, hazard="earthquake")
    assert float(events.sel(region="wumeng")) == n_wumeng
    assert float(events.sum()) == n_wumeng


def test_unknown_county_is_a_clear_error() -> None:
    """An event naming a county that does not exist fails with the county's name."""
    text = NO_CATALOGUE + EVENT.replace(COUNTY, "不存在县")
    with pytest.raises(PovsimError, match="不存在县"):
        povsim.PovertyModel(scenario_from_yaml_string(text))
