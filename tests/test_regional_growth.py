"""Regional income growth (``population.regional_growth``): each region's households grow by
``income_growth`` plus the region's offset, as a log growth rate."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import povsim
from povsim.errors import ScenarioError
from povsim.model import PovertyModel
from povsim.scenario import REGIONS

ROOT = Path(__file__).resolve().parents[1]


def _model(**over: float) -> PovertyModel:
    # the calibrated baseline has offsets of its own: every region's is set here
    offsets = {r: 0.0 for r in REGIONS} | over
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        {"population.scale": 5000, "population.income_growth": 0.08,
         **{f"population.regional_growth.{k}": v for k, v in offsets.items()}})
    return PovertyModel(scn, seed=3)


def test_offset_multiplies_the_regions_base_incomes_by_exp_growth_plus_offset() -> None:
    m = _model(tibetan_plateau=0.05, qinba=-0.03)
    hh, P = m.households, m.places
    region = np.asarray(P.region_names)[P.county_region[hh.county]]
    before = hh.wage_base.astype(np.float64).copy(), hh.farm_base.astype(np.float64).copy()
    m._grow_incomes(2015)
    expect = {"tibetan_plateau": np.exp(0.13), "qinba": np.exp(0.05), "wumeng": np.exp(0.08)}
    for name, factor in expect.items():
        rows = region == name
        assert rows.any()
        np.testing.assert_allclose(hh.wage_base[rows], before[0][rows] * factor, rtol=1e-6)
        np.testing.assert_allclose(hh.farm_base[rows], before[1][rows] * factor, rtol=1e-6)


def test_zero_offsets_are_the_province_rate() -> None:
    a, b = _model(), _model(liangshan_yi=0.0)
    a._grow_incomes(2015)
    b._grow_incomes(2015)
    np.testing.assert_array_equal(a.households.wage_base, b.households.wage_base)


def test_faster_growth_in_a_region_lowers_its_poverty() -> None:
    # exits are bounded by the county tasks, so 10 points more growth shows clearly only after a
    # few years, in a population fine enough for the Yi area's stock (1:500: ~10-20 % by 2017,
    # against a tie at 1:2000 in 2016 for some seeds)
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml").with_overrides(
        {"population.scale": 500, "calendar.end_year": 2017})
    base = povsim.run(scn, progress=False)
    fast = povsim.run(scn.with_overrides(
        {"population.regional_growth.liangshan_yi": 0.1}), progress=False)
    for year in (2016, 2017):
        yi = {"region": "liangshan_yi", "year": year}
        assert float(fast.registered_poor.sel(**yi)) < float(base.registered_poor.sel(**yi))


@pytest.mark.parametrize("key,value,expected", [
    ("population.regional_growth.liangshan", 0.01, "liangshan"),
    ("population.regional_growth.qinba", 0.5, "0.2"),
])
def test_bad_offsets_are_refused_by_name(key: str, value: float, expected: str) -> None:
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    with pytest.raises(ScenarioError, match=expected):
        scn.with_overrides({key: value})
