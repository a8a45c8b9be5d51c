"""povsim sensitivity: the prior-quantile mapping, Morris effects against a hand computation,
the Sobol stage on the most influential, resuming, and exact error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _support import SCENARIOS

from povsim.analysis.sensitivity import (SENSITIVITY_OUTPUTS, format_sensitivity, sensitivity,
                                         to_values)
from povsim.calibration.priors import load_priors, priors_from_mapping
from povsim.cli import main
from povsim.errors import PovsimError, ScenarioError

BASELINE = SCENARIOS / "baseline.yaml"
#: the mechanics (designs, stores, indices) do not need many households: 1 in 8,000
SMALL_SCALE = 8000
PRIORS = {"priors": [
    {"key": "population.income_growth", "distribution": "uniform",
     "params": {"lower": 0.04, "upper": 0.14}, "basis": "test"},
    {"key": "shocks.illness.rate", "distribution": "uniform",
     "params": {"lower": 0.096, "upper": 0.182}, "basis": "test"},
]}


def _write_priors(path: Path, data: dict = PRIORS) -> Path:
    import yaml

    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def test_design_values_are_prior_quantiles() -> None:
    pri = priors_from_mapping({"priors": [
        {"key": "a", "distribution": "uniform", "params": {"lower": 0.1, "upper": 0.3},
         "basis": "t"},
        {"key": "b", "distribution": "lognormal", "params": {"median": 3000.0, "sigma": 0.4},
         "basis": "t"},
    ]})
    x = to_values(pri, np.array([[0.0, 0.5], [0.5, 0.0], [1.0, 1.0]]))
    # uniform: linear between the bounds; lognormal: 0.5 is the median, 0 and 1 the 1 % and 99 %
    # quantiles: 3000 * exp(-/+ 2.3263 * 0.4) (not the support's 0: no prior weight there)
    np.testing.assert_allclose(x[:, 0], [0.1, 0.2, 0.3])
    np.testing.assert_allclose(x[:, 1], [3000.0, 3000.0 * np.exp(-2.326348 * 0.4),
                                         3000.0 * np.exp(2.326348 * 0.4)], rtol=1e-5)


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> dict:
    tmp = tmp_path_factory.mktemp("sa")
    priors = _write_priors(tmp / "priors.yaml")
    res = sensitivity(BASELINE, priors=priors, replicates=1, trajectories=2, levels=4, top=1,
                      sobol_samples=2, bootstrap=20, scale=SMALL_SCALE, workers=1,
                      output_dir=tmp / "out", seed=5)
    return {"tmp": tmp, "priors": priors, "res": res}


def test_morris_mu_star_is_the_mean_absolute_elementary_effect(small: dict) -> None:
    res = small["res"]
    u = res.morris_outputs["design"]
    assert u.shape == (2 * 3, 2)  # 2 trajectories of (2 parameters + 1) points
    for name in SENSITIVITY_OUTPUTS:
        y = res.morris_outputs[name]
        ee: dict[int, list[float]] = {0: [], 1: []}
        for t in range(2):
            for i in range(t * 3, t * 3 + 2):
                j = int(np.flatnonzero(u[i + 1] != u[i])[0])
                ee[j].append((y[i + 1] - y[i]) / (u[i + 1, j] - u[i, j]))
        rows = res.table[(res.table["stage"] == "morris") & (res.table["output"] == name)]
        for j, key in enumerate(("population.income_growth", "shocks.illness.rate")):
            got = float(rows[rows["parameter"] == key]["mu_star"].iloc[0])
            assert got == pytest.approx(np.mean(np.abs(ee[j])), rel=1e-9, abs=1e-9)


def test_sobol_stage_runs_on_the_most_influential(small: dict) -> None:
    res = small["res"]
    m = res.table[res.table["stage"] == "morris"]
    rel = {}
    for name, g in m.groupby("output"):
        peak = g["mu_star"].max()
        for r in g.itertuples():
            rel[r.parameter] = max(rel.get(r.parameter, 0.0), r.mu_star / peak if peak else 0)
    assert res.selected == [max(rel, key=rel.get)]
    s = res.table[res.table["stage"] == "sobol"]
    assert set(s["parameter"]) == set(res.selected)
    assert set(s["output"]) == set(SENSITIVITY_OUTPUTS)
    assert res.sobol_outputs["design"].shape == (2 * (1 + 2), 1)
    assert res.runs == {"computed": 12, "already": 0, "total": 12}
    out = small["tmp"] / "out"
    table = pd.read_csv(out / "sensitivity.csv")
    assert len(table) == len(res.table) and (out / "sensitivity.png").stat().st_size > 10_000
    text = format_sensitivity(res)
    assert "Morris screening" in text and "Sobol indices" in text


def test_rerun_resumes_from_the_stores_and_the_cli_prints_the_table(small: dict,
                                                                   capsys) -> None:
    rc = main(["sensitivity", str(BASELINE), "--priors", str(small["priors"]), "--output-dir",
               str(small["tmp"] / "out"), "-n", "1", "--trajectories", "2", "--top", "1",
               "--sobol-samples", "2", "--bootstrap", "20", "--scale", str(SMALL_SCALE),
               "--seed", "5", "--workers", "1", "-q"])
    assert rc == 0
    assert "registered_poor_2020" in capsys.readouterr().out
    again = sensitivity(BASELINE, priors=small["priors"], replicates=1, trajectories=2, top=1,
                        sobol_samples=2, bootstrap=20, scale=SMALL_SCALE, workers=1,
                        output_dir=small["tmp"] / "out", seed=5)
    assert again.runs["computed"] == 0 and again.runs["already"] == 12
    pd.testing.assert_frame_equal(again.table, small["res"].table)


def test_unknown_parameter_in_the_priors(tmp_path: Path) -> None:
    bad = {"priors": [dict(PRIORS["priors"][0], key="pathways.production.no_such_gain")]}
    path = _write_priors(tmp_path / "priors.yaml", bad)
    with pytest.raises(ScenarioError) as err:
        sensitivity(BASELINE, priors=path, workers=1)
    assert str(err.value) == (
        f"{path}: priors.0.key: pathways.production.no_such_gain is not a parameter of "
        "scenario 'baseline' (see `povsim show SCENARIO`)")


@pytest.mark.parametrize(("option", "kwargs"), [
    ("--replicates", {"replicates": 0}), ("--trajectories", {"trajectories": 1}),
    ("--top", {"top": -1}), ("--sobol-samples", {"sobol_samples": 1.5}),
])
def test_bad_counts(option: str, kwargs: dict, tmp_path: Path) -> None:
    low = {"--trajectories": 2, "--sobol-samples": 2, "--top": 0}.get(option, 1)
    with pytest.raises(PovsimError) as err:
        sensitivity(BASELINE, priors=_write_priors(tmp_path / "p.yaml"), workers=1, **kwargs)
    assert str(err.value) == (f"{option} must be a whole number of at least {low}, got "
                              f"{next(iter(kwargs.values()))!r}")


def test_bad_figure_is_refused_before_any_run(tmp_path: Path) -> None:
    with pytest.raises(PovsimError, match=r"--figure: unsupported file type '.txt'"):
        sensitivity(BASELINE, priors=_write_priors(tmp_path / "p.yaml"), workers=1,
                    figure=tmp_path / "f.txt")


@pytest.mark.slow
@pytest.mark.cluster
def test_sensitivity_of_the_full_priors_on_a_local_cluster(tmp_path: Path) -> None:
    """Every prior of calibration/priors.yaml screened at 1:1000 on a 2-worker cluster."""
    priors = Path(__file__).resolve().parents[2] / "calibration" / "priors.yaml"
    res = sensitivity(BASELINE, priors=priors, replicates=2, trajectories=4, top=3,
                      sobol_samples=8, scale=1000, workers=2, output_dir=tmp_path)
    keys = [p.key for p in load_priors(priors)]
    m = res.table[res.table["stage"] == "morris"]
    assert set(m["parameter"]) == set(keys) and len(res.selected) == 3
    assert (tmp_path / "sensitivity.png").is_file()
