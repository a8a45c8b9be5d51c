"""povsim hindcast: posterior draws per replicate, bands, the figure and exact error messages."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from _support import SCENARIOS, SMALL_SCALE
from conftest import write_posterior

import povsim
from povsim.analysis.hindcast import HINDCAST_VARIABLES, draw_parameters, hindcast
from povsim.calibration.posterior import load_posterior
from povsim.cli import main
from povsim.errors import PovsimError, ScenarioError
from povsim.scenario import Scenario

HINDCAST = SCENARIOS / "hindcast.yaml"
#: the mechanics of drawing, storing and summarising do not need households: 1 in 8,000
TINY = 8000


def test_hindcast_scenario_is_in_the_library_and_extends_the_baseline() -> None:
    names = {s.name for s in povsim.scenarios()}
    assert "hindcast" in names
    text = HINDCAST.read_text(encoding="utf-8")
    assert "extends: baseline.yaml" in text
    assert text.startswith("# Question:")
    scn = povsim.load_scenario("hindcast")  # resolved from the library by name
    events = {e.name.split(" (")[0]: e for e in scn.shocks.disasters.events}
    assert set(events) == {"Maoxian landslide, Xinmo village", "Jiuzhaigou earthquake",
                           "July 2018 floods, Deyang/Mianyang/Guangyuan",
                           "Changning earthquake", "August 2020 floods, 142 counties"}
    xinmo = events["Maoxian landslide, Xinmo village"]
    assert (xinmo.kind, xinmo.year, xinmo.month, xinmo.counties) == ("landslide", 2017, 6,
                                                                    ["茂县"])
    quake = events["Jiuzhaigou earthquake"]
    assert (quake.kind, quake.year, quake.month) == ("earthquake", 2017, 8)
    assert "九寨沟县" in quake.counties
    # policy inputs as the baseline's sourced defaults: the merge, the lines, the budget
    base = povsim.load_scenario(SCENARIOS / "baseline.yaml")
    assert scn.lines == base.lines and scn.budget == base.budget
    # the relocation plan is a hard cap here (the baseline's money alone limits relocation)
    assert scn.pathways.relocation.capacity == {2015: 100000.0, 2016: 332600.0,
                                                2017: 330000.0, 2018: 340000.0,
                                                2019: 178700.0, 2020: 178700.0}
    # every value in the file carries its source (or assumption) on its line
    for i, line in enumerate(text.splitlines()):
        body = line.split("#")[0].strip().removeprefix("- ")
        key, sep, value = body.partition(":")
        if sep and value.strip() and key.strip().isidentifier() | key.strip().isdigit() \
                and key.strip() not in ("extends", "name", "description"):
            assert "#" in line, f"hindcast.yaml line {i + 1} has no source: {line}"


def test_hindcast_events_strike_the_named_counties() -> None:
    """The replayed Jiuzhaigou earthquake hits households of Aba in August 2017 (and the
    scenario builds: every county name is known)."""
    ds = povsim.run(HINDCAST, scale=SMALL_SCALE)  # the baseline's seed
    plan = povsim.load_scenario(HINDCAST).pathways.relocation.capacity
    # the baseline with the hindcast's relocation plan: the replayed events are the difference
    base = povsim.run(SCENARIOS / "baseline.yaml", scale=SMALL_SCALE,
                      overrides={"pathways.relocation.capacity": plan})
    hit = ds["disaster_households_hit"].sel(year=2017, region="tibetan_plateau").sum()
    hit0 = base["disaster_households_hit"].sel(year=2017, region="tibetan_plateau").sum()
    assert float(hit) > float(hit0)
    # before the first replayed event (June 2017) nothing differs
    xr.testing.assert_identical(ds["registered_poor"].sel(year=[2015, 2016]),
                                base["registered_poor"].sel(year=[2015, 2016]))


def test_each_replicate_draws_its_parameters_from_the_posterior(posterior_file: Path,
                                                                tmp_path: Path) -> None:
    out = tmp_path / "h.nc"
    ds = hindcast(HINDCAST, posterior=posterior_file, replicates=3, scale=TINY, workers=1,
                  output=out, seed=11)
    post = load_posterior(posterior_file)
    want = draw_parameters(post, 3, 11)
    final = post.final
    for key, coord in (("population.income_growth", "param_population_income_growth"),
                       ("shocks.illness.rate", "param_shocks_illness_rate")):
        got = ds[coord].values
        np.testing.assert_allclose(got, [w[key] for w in want])
        assert set(np.round(got, 12)) <= set(np.round(final[key].to_numpy(), 12))
        assert ds[coord].attrs["key"] == key
    # each run was made with its draw: the scenario stored with the run has the value
    for r in range(3):
        scn = Scenario.model_validate_json(str(ds["scenario_json"].values[r]))
        assert scn.shocks.illness.rate == pytest.approx(want[r]["shocks.illness.rate"])
    # and its own seed
    assert len(set(int(s) for s in ds["seed"].values)) == 3
    # bands over 2015-2020: the median of three runs is the middle one
    for var in HINDCAST_VARIABLES:
        band = ds[f"{var}_band"]
        assert set(range(2015, 2021)) <= {int(y) for y in band["year"].values}
        tot = ds[f"{var}_total"].sel(year=2020).values
        assert float(band.sel(band="median", year=2020)) == pytest.approx(np.median(tot))
        assert float(band.sel(band="low", year=2020)) <= float(band.sel(band="high", year=2020))
    assert ds.attrs["parameter_uncertainty"] == 1
    with xr.open_dataset(out) as f:
        assert "registered_poor_band" in f and f.attrs["replicates"] == 3
    assert not (tmp_path / "h.nc.runs.zarr").exists()  # the runs store is dropped once written


def test_cli_no_posterior_writes_the_table_and_the_figure(tmp_path: Path, capsys) -> None:
    out, fig = tmp_path / "h.nc", tmp_path / "h.png"
    rc = main(["hindcast", str(HINDCAST), "--no-posterior", "-n", "2", "-o", str(out),
               "--figure", str(fig), "--scale", str(TINY), "--workers", "1", "-q"])
    assert rc == 0
    text = capsys.readouterr().out
    assert "registered poor at year end" in text and "chance only (no posterior)" in text
    assert fig.stat().st_size > 10_000
    with xr.open_dataset(out) as ds:
        assert ds.attrs["parameter_uncertainty"] == 0
        assert not [c for c in ds.coords if str(c).startswith("param_")]


def test_an_interrupted_hindcast_resumes_with_the_same_draws(posterior_file: Path,
                                                           tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import sys

    mod = sys.modules["povsim.analysis.hindcast"]  # (the package's `hindcast` is the function)

    out = tmp_path / "h.nc"

    def stop(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mod, "_tidy", stop)  # every run is stored, then Ctrl-C
    with pytest.raises(KeyboardInterrupt):
        hindcast(HINDCAST, posterior=posterior_file, replicates=2, scale=TINY, workers=1,
                 output=out)
    assert (tmp_path / "h.nc.runs.zarr").is_dir() and not out.exists()
    monkeypatch.undo()
    said: list[str] = []
    ds = hindcast(HINDCAST, posterior=posterior_file, replicates=2, scale=TINY, workers=1,
                  output=out, log=said.append)
    assert any(m.startswith("all 2 runs already in") for m in said), said
    want = draw_parameters(load_posterior(posterior_file), 2, 7)
    np.testing.assert_allclose(ds["param_shocks_illness_rate"].values,
                               [w["shocks.illness.rate"] for w in want])
    assert out.is_file()


def test_missing_posterior_says_to_calibrate_first(tmp_path: Path) -> None:
    missing = tmp_path / "nope.csv"
    with pytest.raises(PovsimError) as err:
        hindcast(HINDCAST, posterior=missing, replicates=2, workers=1)
    assert str(err.value) == (
        f"posterior file not found: {missing}; run `povsim calibrate {HINDCAST} --targets "
        "calibration/targets.yaml` first (it writes calibration/posterior.csv), or pass "
        "--no-posterior to run the scenario's own parameters in every replicate")


def test_cli_missing_posterior_is_one_line(tmp_path: Path, capsys) -> None:
    rc = main(["hindcast", "--posterior", str(tmp_path / "p.csv"), "-n", "2", "-o",
               str(tmp_path / "h.nc")])
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("povsim: error: posterior file not found:")
    assert not (tmp_path / "h.nc").exists()


def test_unknown_parameter_in_the_posterior(tmp_path: Path) -> None:
    p = write_posterior(tmp_path / "posterior.csv",
                        keys=("population.income_growth", "pathways.relocation.no_such_rate"))
    with pytest.raises(PovsimError) as err:
        hindcast(HINDCAST, posterior=p, replicates=2, workers=1)
    assert str(err.value) == (
        f"{p}: unknown parameter 'pathways.relocation.no_such_rate' (column of the posterior "
        "table; expected a dotted key of scenario 'hindcast', see `povsim show SCENARIO "
        "--sources`)")


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "4"])
def test_bad_replicate_count(bad: object, posterior_file: Path) -> None:
    with pytest.raises(PovsimError) as err:
        hindcast(HINDCAST, posterior=posterior_file, replicates=bad, workers=1)  # type: ignore
    assert str(err.value) == f"--replicates must be a whole number of at least 1, got {bad!r}"


def test_bad_output_suffix_is_refused_before_any_run(posterior_file: Path,
                                                     tmp_path: Path) -> None:
    with pytest.raises(PovsimError, match=r"a hindcast is written as a netCDF \(.nc\) or CSV"):
        hindcast(HINDCAST, posterior=posterior_file, replicates=2, output=tmp_path / "h.txt")


def test_a_calendar_short_of_2020_is_refused(posterior_file: Path) -> None:
    scn = povsim.load_scenario(SCENARIOS / "baseline.yaml").with_overrides(
        {"calendar.end_year": 2018})
    with pytest.raises(PovsimError, match="does not cover the hindcast years 2015-2020"):
        hindcast(scn, posterior=posterior_file, replicates=2)


def test_scenario_error_is_not_swallowed(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("extends: nowhere.yaml\nname: x\n", encoding="utf-8")
    with pytest.raises(ScenarioError):
        hindcast(bad, posterior=None, replicates=1)


@pytest.mark.slow
@pytest.mark.cluster
def test_hindcast_at_1_to_100_on_a_local_cluster(posterior_file: Path, tmp_path: Path) -> None:
    """The real thing at the ensembles' scale: 20 posterior draws on a 2-worker dask cluster,
    bit-identical to the same draws run in this process."""
    real = Path(__file__).resolve().parents[2] / "calibration" / "posterior.csv"
    post = real if real.is_file() else posterior_file
    a = hindcast(HINDCAST, posterior=post, replicates=20, scale=100, workers=2,
                 output=tmp_path / "a.nc", figure=tmp_path / "a.png")
    assert a.sizes["replicate"] == 20
    b = hindcast(HINDCAST, posterior=post, replicates=4, scale=100, workers=1)
    xr.testing.assert_identical(a["registered_poor"].isel(replicate=slice(0, 4)),
                                b["registered_poor"])
    stock = a["registered_poor_band"].sel(band="median")
    assert float(stock.sel(year=2020)) < float(stock.sel(year=2015))
