"""Sweep designs and --set parsing."""

from __future__ import annotations

from pathlib import Path

import pytest
from ensemble_helpers import BASELINE, SCALE

import povsim
from povsim.ensembles import design_points, parse_set, sweep
from povsim.ensembles.sweep import split_values


def test_split_values_respects_brackets() -> None:
    assert split_values("0.5,0.75, 1") == ["0.5", "0.75", "1"]
    assert split_values("[1, 2],[3]") == ["[1, 2]", "[3]"]
    assert split_values("{2017: 3300, 2018: 3400},{2017: 3000}") == [
        "{2017: 3300, 2018: 3400}", "{2017: 3000}"]
    assert split_values("'a,b',c") == ["'a,b'", "c"]


def test_parse_set_reads_yaml() -> None:
    assert parse_set("budget.scale=0.5,1,1.25") == ("budget.scale", [0.5, 1, 1.25])
    assert parse_set("lines.merge.year=2017,null") == ("lines.merge.year", [2017, None])
    _, vals = parse_set("lines.poverty={2017: 3300},{2017: 3400}")
    assert vals == [{2017: 3300}, {2017: 3400}]
    for bad in ("budget.scale", "=1,2", "budget.scale=1,,2", "budget.scale=[1,2"):
        with pytest.raises(povsim.ScenarioError):
            parse_set(bad)


def test_factorial_and_lhs_designs() -> None:
    pts = design_points({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(pts) == 6 and pts[0] == {"a": 1, "b": "x"} and pts[1] == {"a": 1, "b": "y"}
    lhs = design_points({"a": [0.5, 1.5], "n": [1, 10], "c": ["p", "q"]}, "lhs", 8, seed=4)
    assert lhs == design_points({"a": [0.5, 1.5], "n": [1, 10], "c": ["p", "q"]}, "lhs", 8,
                                seed=4)
    assert len(lhs) == 8
    a = sorted(p["a"] for p in lhs)
    # one point per stratum of width 1/8
    assert all(0.5 + i / 8 <= v <= 0.5 + (i + 1) / 8 for i, v in enumerate(a))
    assert all(isinstance(p["n"], int) and 1 <= p["n"] <= 10 for p in lhs)
    assert sorted(p["c"] for p in lhs).count("p") == 4
    with pytest.raises(povsim.PovsimError, match="--samples"):
        design_points({"a": [1, 2]}, "lhs")


def test_sweep_over_the_merge_year(tmp_path: Path) -> None:
    ds = sweep(BASELINE, {"lines.merge.year": [2016, 2019]}, replicates=1, scale=SCALE,
               workers=1)
    assert list(ds["lines_merge_year"].values) == [2016, 2019]
    assert list(ds["experiment"].values) == ["lines.merge.year=2016", "lines.merge.year=2019"]
    dl = ds["dibao_line"].sel(year=2017).values[:, 0]
    assert dl[0] != dl[1]  # the merge year changes the dibao line path


def test_lhs_sweep_two_keys(tmp_path: Path) -> None:
    ds = sweep(BASELINE, {"budget.scale": [0.5, 1.5], "lines.merge.year": [2017, 2019]},
               replicates=1, design="lhs", samples=2, scale=SCALE, workers=1,
               output=tmp_path / "lhs.zarr")
    assert ds.sizes["experiment"] == 2
    assert ds["experiment"].values[0].startswith("000:budget.scale=")
    assert ((ds["budget_scale"] >= 0.5) & (ds["budget_scale"] <= 1.5)).all()


def test_bad_keys_are_clear_errors() -> None:
    with pytest.raises(povsim.ScenarioError, match=r"budget\.scal.*did you mean 'scale'"):
        sweep(BASELINE, {"budget.scal": [0.5]}, replicates=1, workers=1)
    with pytest.raises(povsim.ScenarioError, match="wrong type"):
        sweep(BASELINE, {"budget.scale": [0.5, "abc"]}, replicates=1, workers=1)
