"""Targets and priors files: the shipped ones load; bad ones give one exact error each.

Also the measures on a real run, :class:`Prior` (bounds, scipy args) and the posterior table.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

import povsim
from povsim.calibration import load_posterior, load_priors, load_targets
from povsim.calibration.abc import estimate_hours
from povsim.calibration.posterior import Posterior, weighted_quantile
from povsim.calibration.priors import apply_values, check_against_scenario, priors_from_mapping
from povsim.calibration.targets import MEASURES, recording_extras
from povsim.errors import PovsimError, ScenarioError

ROOT = Path(__file__).resolve().parents[2]
CAL = ROOT / "calibration"


def test_shipped_targets_cover_the_brief() -> None:
    ts = load_targets(CAL / "targets.yaml")
    obs = {(t.measure, tuple(sorted(t.args.items()))): t.observed for t in ts.targets}
    assert obs[("registered_poor_yearend", (("year", 2015),))] == 3_800_000
    assert obs[("registered_poor_yearend", (("year", 2016),))] == 2_720_000
    assert obs[("exited_persons", (("year", 2015),))] == 1_176_500
    assert obs[("lifted_out_persons", (("year", 2016),))] == 1_078_000
    assert obs[("counties_exited", (("year", 2016),))] == 5
    assert obs[("villages_exited", (("year", 2016),))] == 2437
    assert obs[("illness_cause_share", (("year", 2015),))] == pytest.approx(0.48)
    assert any(t.measure == "poor_county_income_growth" for t in ts.fitted)
    # every 2013 figure of sichuan_poor_population.csv is accounted for (a check or not_used)
    import csv

    with (CAL / "sichuan_poor_population.csv").open() as fh:
        rows_2013 = {(r["series"], r["region"]) for r in csv.DictReader(fh) if r["year"] == "2013"}
    cited = {(u["source"]["series"], u["source"]["region"]) for u in ts.not_used} | {
        (t.source["series"], t.source["region"]) for t in ts.targets}
    missing = rows_2013 - cited - {("share_of_national_registered_poor", "Sichuan")}
    assert not missing, missing
    assert all(len(h) == 64 for h in ts.data_files.values())


def test_shipped_priors_fit_the_baseline() -> None:
    priors = load_priors(CAL / "priors.yaml")
    keys = [p.key for p in priors]
    assert "population.income_growth" in keys and "shocks.illness.rate" in keys
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    check_against_scenario(priors, scn, "priors.yaml")
    for p in priors:
        lo, hi = p.bounds()
        assert math.isfinite(lo) and math.isfinite(hi) and lo < hi and p.basis


def test_prior_bounds_and_scipy_args() -> None:
    (u, n, ln, b, tn) = priors_from_mapping({"priors": [
        {"key": "a.u", "distribution": "uniform", "params": {"lower": 1, "upper": 3},
         "basis": "x"},
        {"key": "a.n", "distribution": "normal", "params": {"mean": 0, "sd": 1}, "basis": "x"},
        {"key": "a.l", "distribution": "lognormal", "params": {"median": 100, "sigma": 0.5},
         "basis": "x"},
        {"key": "a.b", "distribution": "beta", "params": {"a": 2, "b": 3, "upper": 0.5},
         "basis": "x"},
        {"key": "a.t", "distribution": "truncnorm",
         "params": {"mean": 0.1, "sd": 0.1, "lower": 0, "upper": 1}, "basis": "x"},
    ]})
    assert u.bounds() == (1.0, 3.0)
    assert n.bounds() == pytest.approx((stats.norm.ppf(0.01), stats.norm.ppf(0.99)))
    assert ln.bounds() == pytest.approx((0.0, 100 * math.exp(0.5 * stats.norm.ppf(0.99))))
    assert b.bounds() == (0.0, 0.5) and tn.bounds() == (0.0, 1.0)
    assert ln.distribution.median() == pytest.approx(100)
    for p in (u, n, ln, b, tn):  # the pyabc form is the same distribution
        name, args, kw = p.scipy_args()
        assert getattr(stats, name)(*args, **kw).cdf(0.3) == pytest.approx(
            p.distribution.cdf(0.3))
    assert tn.name == "a__t"


@pytest.mark.parametrize("entry, key, fragment", [
    ({"key": "shocks.illness.rate", "distribution": "gamma", "params": {"a": 1}, "basis": "x"},
     "priors.0.distribution", "Input should be 'uniform', 'normal', 'lognormal', 'beta' or"),
    ({"key": "shocks.illness.rate", "distribution": "uniform", "params": {"lower": 0.2},
      "basis": "x"}, "priors.0", "uniform takes params lower, upper; missing upper"),
    ({"key": "shocks.illness.rate", "distribution": "uniform",
      "params": {"lower": 0.2, "upper": 0.1}, "basis": "x"}, "priors.0",
     "params.lower must be below params.upper, got 0.2 and 0.1"),
    ({"key": "shocks.illness.rate", "distribution": "normal",
      "params": {"mean": 0.2, "sd": 0.1, "loc": 1}, "basis": "x"}, "priors.0",
     "unknown loc"),
    ({"key": "shocks.illness.rate", "distribution": "lognormal",
      "params": {"median": 3, "sigma": -1}, "basis": "x"}, "priors.0",
     "params.sigma must be positive"),
    ({"key": "shocks.illness.rate", "distribution": "uniform",
      "params": {"lower": 0.1, "upper": 0.2}}, "priors.0.basis", "Field required"),
])
def test_bad_priors_give_exact_errors(tmp_path: Path, entry: dict, key: str,
                                      fragment: str) -> None:
    f = tmp_path / "priors.yaml"
    f.write_text(yaml.safe_dump({"priors": [entry]}))
    with pytest.raises(ScenarioError) as info:
        load_priors(f)
    assert info.value.file == str(f) and info.value.key == key
    assert fragment in str(info.value)


def test_priors_checked_against_the_scenario() -> None:
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    unknown = priors_from_mapping({"priors": [{"key": "shocks.illness.rat",
                                               "distribution": "uniform",
                                               "params": {"lower": 0, "upper": 1},
                                               "basis": "x"}]})
    with pytest.raises(ScenarioError, match=r"p\.yaml: priors\.0\.key: shocks\.illness\.rat is "
                                            r"not a parameter of scenario 'baseline'"):
        check_against_scenario(unknown, scn, "p.yaml")
    too_wide = priors_from_mapping({"priors": [{"key": "shocks.illness.rate",
                                                "distribution": "uniform",
                                                "params": {"lower": 0, "upper": 1.5},
                                                "basis": "x"}]})
    with pytest.raises(ScenarioError, match=r"priors\.0\.params: the prior of "
                                            r"shocks\.illness\.rate reaches 1\.5"):
        check_against_scenario(too_wide, scn, "p.yaml")
    text = priors_from_mapping({"priors": [{"key": "name", "distribution": "uniform",
                                            "params": {"lower": 0, "upper": 1}, "basis": "x"}]})
    with pytest.raises(ScenarioError, match="name is not a number"):
        check_against_scenario(text, scn, "p.yaml")


def test_apply_values_rounds_integer_fields_and_replaces_dated_values() -> None:
    scn = povsim.load_scenario(ROOT / "scenarios" / "baseline.yaml")
    out = apply_values(scn, {"pathways.production.delay_months": 7.6,
                             "population.targeting.identification_rate": 0.2})
    assert out.pathways.production.delay_months == 8
    assert out.population.targeting.identification_rate == 0.2


def _targets_doc(**change: object) -> dict:
    t = {"name": "stock_2016", "measure": "registered_poor_yearend", "args": {"year": 2016},
         "observed": 2720000, "tolerance": 50000, "weight": 1.0,
         "source": {"file": "sichuan_poor_population.csv",
                    "series": "registered_poor_population_yearend", "region": "Sichuan",
                    "year": 2016},
         "why": "test"}
    t.update(change)
    return {"targets": [t]}


@pytest.mark.parametrize("change, key, fragment", [
    ({"measure": "registered_poor"}, "targets.0.measure", "unknown measure 'registered_poor'"),
    ({"args": {"yr": 2016}}, "targets.0.args", "arguments do not fit measure "
                                               "registered_poor_yearend"),
    ({"observed": 2700000}, "targets.0.observed",
     "observed 2.7e+06 differs from the source row (2.72e+06"),
    ({"tolerance": 0}, "targets.0.tolerance", "Input should be greater than 0"),
    ({"weight": -1}, "targets.0.weight", "Input should be greater than or equal to 0"),
    ({"source": {"file": "sichuan_poor_population.csv", "series": "nope", "region": "Sichuan",
                 "year": 2016}}, "targets.0.source", "no row series='nope'"),
    ({"source": {"file": "missing.csv", "series": "x", "region": "Sichuan", "year": 2016}},
     "targets.0.source.file", "data file not found"),
    ({"why": ""}, "targets.0.why", "String should have at least 1 character"),
    ({"colour": "red"}, "targets.0.colour", "Extra inputs are not permitted"),
    ({"weight": 0.0}, "targets", "every target has weight 0: nothing to fit"),
])
def test_bad_targets_give_exact_errors(tmp_path: Path, change: dict, key: str,
                                       fragment: str) -> None:
    f = tmp_path / "targets.yaml"
    f.write_text(yaml.safe_dump({"data_dir": str(CAL), **_targets_doc(**change)}))
    with pytest.raises(ScenarioError) as info:
        load_targets(f)
    assert info.value.file == str(f) and info.value.key == key, str(info.value)
    assert fragment in str(info.value)


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="file not found"):
        load_targets(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("targets: [\n")
    with pytest.raises(ScenarioError, match=r"bad\.yaml:\d+: not valid YAML"):
        load_priors(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ScenarioError, match="a targets file is a mapping"):
        load_targets(bad)


def test_measures_on_a_run(baseline_ds) -> None:
    ds = baseline_ds
    reg = ds["registered_poor"]
    assert MEASURES["registered_poor_yearend"](ds, year=2016) == pytest.approx(
        float(reg.sel(year=2016).sum()))
    assert MEASURES["registered_poor_yearend"](ds, year=2016, region="qinba") == pytest.approx(
        float(reg.sel(year=2016, region="qinba")))
    c = ds["counties_exited"].sum("region")
    assert MEASURES["counties_exited"](ds, year=2017) == pytest.approx(
        float(c.sel(year=2017) - c.sel(year=2016)))
    # stock-flow: stock(2016) = stock(2015) - exits + inflow (returns and new poor)
    flow = (MEASURES["registered_poor_yearend"](ds, year=2015)
            - MEASURES["exited_persons"](ds, year=2016)
            + MEASURES["inflow_persons"](ds, year=2016))
    assert flow == pytest.approx(MEASURES["registered_poor_yearend"](ds, year=2016), rel=1e-9)
    removed = float(ds["exited_by_review"].sel(year=2016).sum())
    assert MEASURES["lifted_out_persons"](ds, year=2016) == pytest.approx(
        MEASURES["exited_persons"](ds, year=2016) - removed)
    g = ds["poor_county_mean_income"]
    assert MEASURES["poor_county_income_growth"](ds, year=2016) == pytest.approx(
        float(g.sel(year=2016) / g.sel(year=2015) - 1))
    with pytest.raises(PovsimError, match="the run has no year 2030"):
        MEASURES["exited_persons"](ds, year=2030)
    with pytest.raises(PovsimError, match="unknown region 'tibet'"):
        MEASURES["incidence"](ds, year=2016, region="tibet")
    with pytest.raises(PovsimError, match="no variable 'calibration_registered_ill'"):
        MEASURES["illness_cause_share"](ds, year=2015)


def test_illness_share_is_recorded_only_inside_calibration_runs(small_scenario) -> None:
    from povsim import registry

    before = dict(registry.OUTPUTS)
    scn = small_scenario.with_overrides({"calendar.end_year": 2016})
    with recording_extras(frozenset({"illness_registered"})):
        ds = povsim.run(scn, seed=3)
    assert dict(registry.OUTPUTS) == before
    share = MEASURES["illness_cause_share"](ds, year=2014)
    # the synthesis gives the registered poor the sourced illness share (0.48) at the start
    assert share == pytest.approx(scn.population.illness_cause_share, abs=0.05)
    assert "calibration_registered_ill" not in povsim.run(scn, seed=3)


def _table() -> pd.DataFrame:
    rows = []
    for g in (0, 1):
        for i, (a, w) in enumerate([(1.0, 0.1), (2.0, 0.2), (3.0, 0.7)]):
            rows.append({"generation": g, "particle": i, "weight": w, "distance": 1.0,
                         "epsilon": [math.inf, 2.0][g], "x.a": a + g, "sim:t": 10 * a})
    return pd.DataFrame(rows)


def test_posterior_median_interval_sample(tmp_path: Path) -> None:
    post = Posterior(_table(), ("x.a",), ("t",))
    p = post.to_csv(tmp_path / "posterior.csv")
    back = load_posterior(tmp_path)
    assert back.keys == ("x.a",) and back.targets == ("t",) and back.generations == 2
    assert back.epsilons() == [math.inf, 2.0] and back.epsilon == 2.0
    # weighted median of 2, 3, 4 with weights .1 .2 .7 (midpoint rule): inside the heavy 4
    assert back.median()["x.a"] == pytest.approx(float(weighted_quantile(
        np.array([2.0, 3, 4]), np.array([0.1, 0.2, 0.7]), 0.5)[0]))
    assert 3.0 < back.median()["x.a"] <= 4.0
    draws = back.sample(2000, rng=5)
    share4 = np.mean([d["x.a"] == 4.0 for d in draws])
    assert share4 == pytest.approx(0.7, abs=0.04)  # 4 SE at n=2000
    with pytest.raises(PovsimError, match="needs rng"):
        back.sample(3)
    assert p.is_file()


def test_load_posterior_errors(tmp_path: Path) -> None:
    with pytest.raises(PovsimError, match="posterior file not found"):
        load_posterior(tmp_path / "nope.csv")
    f = tmp_path / "x.csv"
    f.write_text("a,b\n1,2\n")
    with pytest.raises(PovsimError, match="not a posterior table .missing columns generation"):
        load_posterior(f)


def test_estimate_hours_uses_the_measured_times() -> None:
    h = estimate_hours(100, 6, 2, 100, workers=2, acceptance=0.5)
    runs = 100 * 2 * (1 + 5 / 0.5)
    from povsim.calibration.abc import SECONDS_PER_RUN

    assert h == pytest.approx(runs * SECONDS_PER_RUN[100] / 2 / 3600)
    assert estimate_hours(100, 6, 2, 50) > estimate_hours(100, 6, 2, 100)


def test_stopping_at_the_last_target_year_changes_no_target(small_scenario, baseline_ds) -> None:
    """The fit simulates only to the last target year; that must not change any target.

    If a mechanism starts to look ahead at the calendar's end (a plan towards ``end_year``),
    this fails and :func:`povsim.calibration.calibrate` must stop truncating.
    """
    seed = int(baseline_ds.attrs["seed"])
    ts = load_targets(CAL / "targets.yaml")
    short = small_scenario.with_overrides({"calendar.end_year": 2016})
    with recording_extras(ts.needs()):
        full = povsim.run(small_scenario, seed=seed)
        cut = povsim.run(short, seed=seed)
    assert int(cut["year"].max()) == 2016
    assert ts.summarize(cut) == ts.summarize(full)


def test_a_draw_the_schema_rejects_is_rejected_not_raised(small_scenario) -> None:
    from povsim.calibration.abc import Distance, Simulator
    from povsim.calibration.priors import Prior

    ts = load_targets(CAL / "targets.yaml")
    prior = Prior("shocks.illness.rate", stats.norm(0.12, 0.5), "test", "normal",
                  {"mean": 0.12, "sd": 0.5})
    sim = Simulator(small_scenario, None, [prior], ts, [1])
    out = sim({prior.name: 1.7})  # a rate above 1: the schema refuses it
    assert set(out) == set(ts.names) and all(math.isnan(v) for v in out.values())
    assert Distance(ts)(out, ts.observed()) == math.inf
