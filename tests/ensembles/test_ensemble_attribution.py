"""Attribution: direct accounting sums to the exits; counterfactual = paired knock-out."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from ensemble_helpers import BASELINE, SCALE

import povsim
from povsim.ensembles import attribution, compare, direct_attribution, open_ensemble


def test_direct_attribution_sums_to_exits(serial_sweep: tuple[Path, xr.Dataset]) -> None:
    _, ds = serial_sweep
    by = ds["exits_by_pathway"].isel(year=slice(1, None))
    exited = ds["exited"].isel(year=slice(1, None))
    np.testing.assert_allclose(by.sum("attribution").values, exited.values)
    assert (by.values >= 0).all()
    labels = list(ds["attribution"].values)
    for p in ("production", "relocation", "dibao", "medical", "no_pathway", "review"):
        assert p in labels
    summ = direct_attribution(ds)
    assert summ["exits_direct"].dims == ("experiment", "year", "region", "attribution")
    np.testing.assert_allclose(summ["exits_direct_total"].sum("attribution").values,
                               exited.sum(["year", "region"]).mean("replicate").values)
    np.testing.assert_allclose(
        summ["spending_total"].sum("pathway").values,
        ds["spending"].sum(["year", "region", "pathway", "source"]).mean("replicate").values)
    # a pathway that carried exits did so with money
    assert float(summ["exits_direct_total"].sel(attribution="production").sum()) > 0
    xr.testing.assert_identical(attribution(ds), summ)


def test_counterfactual_is_the_paired_knockout(tmp_path: Path) -> None:
    out = tmp_path / "cf.zarr"
    ds = compare([BASELINE], replicates=2, scale=SCALE, workers=1, output=out,
                 counterfactual=True, pathways=["dibao"])
    assert ds["cf_exits_total"].dims == ("scenario", "switched_off")
    assert list(ds["switched_off"].values) == ["dibao"]
    knock = open_ensemble(out, "knockouts").load()
    assert knock.sizes["scenario"] == 1
    assert list(knock["scenario"].values) == ["baseline without dibao"]
    scn = povsim.Scenario.model_validate_json(str(knock["scenario_json"].values[0]))
    assert scn.pathways.dibao.enabled is False and scn.pathways.production.enabled is True
    assert (knock["seed"].values == ds["seed"].values).all()  # common random numbers
    i = int(np.flatnonzero(knock["switched_off"].values == "dibao")[0])
    full = ds["exited"].isel(scenario=0).sum(["year", "region"])
    off = knock["exited"].isel(scenario=i).sum(["year", "region"])
    np.testing.assert_allclose(float(ds["cf_exits_total"].isel(scenario=0).sel(switched_off="dibao")),
                               float((full - off).mean("replicate")))
    stock_full = ds["registered_poor"].isel(scenario=0, year=-1).sum("region")
    stock_off = knock["registered_poor"].isel(scenario=i, year=-1).sum("region")
    np.testing.assert_allclose(float(ds["cf_poor_averted_end"].isel(scenario=0).sel(switched_off="dibao")),
                               float((stock_off - stock_full).mean("replicate")))
    assert (ds["cf_exits_total_lo"] <= ds["cf_exits_total_hi"]).all()
    from povsim.ensembles import format_comparison

    assert "exits added (counterfactual)" in format_comparison(ds)


def test_attribution_api_on_a_scenario() -> None:
    att = attribution(BASELINE, replicates=1, scale=SCALE, workers=1, pathways=["medical"])
    assert set(att.data_vars) >= {"exits_direct", "cf_exits_total", "cf_poor_averted",
                                  "spending_by_pathway", "cost_per_exit"}
    assert list(att["switched_off"].values) == ["medical"]
