"""Schools and township services (src/povsim/pathways/township.py, seed (三), (十四), (十五)):
the rules by hand, then their effects in a small run."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import xarray as xr
from _support import SCENARIOS, SMALL_SCALE, small

import povsim
from povsim.budget import combine_binding
from povsim.pathways.township import (
    TownshipServicesPathway,
    ethnic_counties,
    facility_access,
    initial_coverage,
    township_counts,
)
from povsim.scenario.schema import TownshipServices
from povsim.targets import evaluate

# --------------------------------------------------------------------------------------------
# the rules, computed by hand
# --------------------------------------------------------------------------------------------


def test_townships_and_initial_coverage() -> None:
    """28,000 and 7,000 rural people at 14,000 a township: 2 and 0.5 townships. A poor county
    starts at the facility's coverage (0.5); a non-poor one with half the gap closed too
    (0.5 + 0.5 x 0.5 = 0.75)."""
    np.testing.assert_allclose(township_counts(np.array([28_000.0, 7_000.0]), 14_000.0),
                               [2.0, 0.5])
    np.testing.assert_allclose(initial_coverage(0.5, np.array([True, False]), 0.5),
                               [0.5, 0.75])


def test_facility_access_shifts_the_draw_per_facility() -> None:
    """Draws 0.1, 0.55, 0.9 in counties 0, 0, 1. Facility 0 uses the draw itself: coverage 0.6
    in county 0 reaches 0.1 and 0.55, coverage 1 in county 1 reaches 0.9. Facility 1 shifts
    the draws by 0.618...: 0.718, 0.168, 0.518; coverage 0.6 reaches only 0.168 in county 0,
    coverage 0.2 does not reach 0.518 in county 1."""
    draw = np.array([0.1, 0.55, 0.9], dtype=np.float32)
    county = np.array([0, 0, 1])
    cov = np.array([[0.6, 1.0], [0.6, 0.2]])
    got = facility_access(draw, county, cov)
    assert got.tolist() == [[True, True, True], [False, True, False]]


def test_ethnic_counties_are_prefectures_and_autonomous_counties() -> None:
    """The three autonomous prefectures' counties and the autonomous counties elsewhere."""
    names = np.array(["昭觉县", "北川羌族自治县", "南部县", "马边彝族自治县"])
    pref = np.array(["凉山州", "绵阳市", "南充市", "乐山市"])
    assert ethnic_counties(names, pref, ["凉山州"], True).tolist() == [True, True, False, True]
    assert ethnic_counties(names, pref, ["凉山州"], False).tolist() == [True, False, False,
                                                                       False]


class _Ctx:
    """What :meth:`TownshipServicesPathway.build` needs of a context: one county's money."""

    def __init__(self, money: float) -> None:
        self.money = np.array([money])
        self.spent = np.zeros(1)
        self.binding: np.ndarray | None = None

    def money_left(self) -> np.ndarray:
        return self.money - self.spent

    def spend(self, amount: np.ndarray) -> np.ndarray:
        self.spent += amount
        return amount

    def bound(self, binding: np.ndarray) -> None:
        self.binding = (binding if self.binding is None
                        else combine_binding(self.binding, binding))


def _built(money: float) -> tuple[np.ndarray, float]:
    pw = TownshipServicesPathway("township_services", TownshipServices())
    pw.names = ["school", "health_centre", "service_centre"]
    pw.townships = np.array([2.0])
    pw.coverage = np.array([[0.5], [0.5], [0.6]])
    pw.built = {}
    ctx: Any = _Ctx(money)
    pw.build(ctx, 2015)
    return pw.coverage[:, 0], float(ctx.spent[0])


def test_build_in_seed_order_marginal_in_part() -> None:
    """One poor county of 2 townships: the school's gap costs 2 x 0.5 x 5 M = 5 M, the health
    centre's 2 x 0.5 x 3 M = 3 M, the service centre's 2 x 0.4 x 0.5 M = 0.4 M. With 6.5 M
    the school is finished, the health centre gets 1.5 M of 3 M (half its gap: 0.5 + 0.5 x 0.5
    = 0.75) and the service centre nothing; 8.4 M builds everything."""
    cov, spent = _built(6.5e6)
    np.testing.assert_allclose(cov, [1.0, 0.75, 0.6])
    assert spent == pytest.approx(6.5e6)
    cov, spent = _built(20e6)
    np.testing.assert_allclose(cov, [1.0, 1.0, 1.0])
    assert spent == pytest.approx(8.4e6)


def test_operating_coverage_waits_build_years() -> None:
    """Coverage paid for in 2015 acts from 2016 with build_years 1 and from 2017 with 2."""
    for years, acting in ((1, 2016), (2, 2017)):
        pw = TownshipServicesPathway("township_services", TownshipServices(build_years=years))
        pw.initial = np.array([[0.5]])
        pw.built = {2015: np.array([[1.0]])}
        assert pw.operating(acting - 1)[0, 0] == 0.5
        assert pw.operating(acting)[0, 0] == 1.0


def test_leaver_probability() -> None:
    """Three school-age children of nine compulsory years, take-up 0.3: a child enters 9+3
    with probability 3/9 x 0.3 = 0.1; twelve children cap at 1 x 0.3."""
    pw = TownshipServicesPathway("township_services", TownshipServices())
    pw._u_leaver = np.array([0.099, 0.101, 0.299, 0.301], dtype=np.float32)
    ctx: Any = SimpleNamespace(households=SimpleNamespace(
        n_children=np.array([3, 3, 12, 12], dtype=np.int8)))
    assert pw.leaving(ctx).tolist() == [True, False, True, False]


# --------------------------------------------------------------------------------------------
# effects in a small run
# --------------------------------------------------------------------------------------------


def _model(over: dict[str, Any]) -> povsim.PovertyModel:
    return povsim.PovertyModel(small(over), seed=3)


def test_stays_fall_where_the_campaign_brought_primary_care() -> None:
    """In January 2016 (build_years 1: the 2015 buildings act) a household newly reached by a
    standard health centre that also has a village clinic has 15% less chance of a stay than
    with stay_reduction 0; every other household has the same chance. 2015 is the same run."""
    on = _model({})
    off = _model({"pathways.township_services.stay_reduction": 0.0})
    for m in (on, off):
        for _ in range(12):
            m.step()
    # the village clinics as of January 2016 before that year's building
    clinics = on.places.services["clinic"].copy()
    for m in (on, off):
        m.step()
    pw = on.pathways["township_services"]
    hh = on.households
    i = pw.names.index("health_centre")
    now = facility_access(hh.ts_draw, hh.county, pw.operating(2016))[i]
    start = facility_access(hh.ts_draw, hh.county, pw.initial)[i]
    clinic = hh.service_draw < clinics[hh.village]
    clinic0 = hh.service_draw < pw._clinic0[hh.village]
    gained = now & clinic & ~(start & clinic0)
    assert gained.sum() > 20
    ratio = hh.illness_p / off.households.illness_p
    np.testing.assert_allclose(ratio[gained], 0.85, rtol=1e-6)
    np.testing.assert_array_equal(hh.illness_p[~gained], off.households.illness_p[~gained])


def test_vocational_school_in_ethnic_areas_pays_after_three_years() -> None:
    """Take-up 1 and employment 1: the 2015 entrants are registered households with children in
    the ethnic areas only; none earns before January 2018, each earns income_gain from then."""
    m = _model({"pathways.township_services.free_education.takeup": 1.0,
                "pathways.township_services.free_education.employment_rate": 1.0,
                "budget.sources.education_health_programmes.amount": 50e9})
    m.step()
    hh = m.households
    pw = m.pathways["township_services"]
    entrants = np.flatnonzero(hh.ts_status == 1)
    assert entrants.size >= 5
    assert hh.registered[entrants].all()
    assert (hh.n_children[entrants] > 0).all()
    assert pw.ethnic[hh.county[entrants]].all()
    for _ in range(35):
        m.step()
    assert (hh.ts_gain[entrants] == 0).all()
    m.step()  # January 2018: the course of 36 months is over
    np.testing.assert_array_equal(hh.ts_gain[entrants], 13_000.0)
    assert (hh.ts_status[entrants] == 2).all()


def test_variant_without_township_services() -> None:
    """The variant spends nothing on the programme, builds nothing, and fails the services
    target that counts the townships; the baseline builds and spends."""
    base = povsim.run(SCENARIOS / "baseline.yaml", scale=SMALL_SCALE)
    off = povsim.run(SCENARIOS / "no_township_services.yaml", scale=SMALL_SCALE)
    spent: xr.DataArray = base["spending"].sel(pathway="township_services").sum()
    assert float(spent) > 0
    assert float(off["spending"].sel(pathway="township_services").sum()) == 0
    cov = off["township_coverage"]
    np.testing.assert_array_equal(cov.isel(year=-1).values, cov.isel(year=0).values)
    assert float(base["township_coverage"].sel(facility="school").isel(year=-1)) > 0.9
    services = {r.key: r for r in evaluate(off)}["services"]
    assert not services.held and services.shortfall >= 0.4
