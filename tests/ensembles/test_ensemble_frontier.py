"""The budget frontier: the curve rule, bootstrap intervals, a tiny real budget sweep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import povsim
from povsim.ensembles import format_frontier, frontier, plot_frontier
from povsim.ensembles.frontier import frontier_curve


def test_curve_rule() -> None:
    x = np.array([0.5, 1.0, 1.5, 2.0])
    # crosses 0.9 between 1.0 (0.5) and 1.5 (1.0): interpolated 1.0 + 0.4/0.5 * 0.5 = 1.4
    assert frontier_curve(x, np.array([0.0, 0.5, 1.0, 1.0]), 0.9) == pytest.approx(
        (1.5, 1.4, ""))
    # dips below again: the frontier is where it stays above
    g, f, c = frontier_curve(x, np.array([1.0, 0.5, 0.95, 1.0]), 0.9)
    assert g == 1.5 and 1.0 < f <= 1.5 and c == ""
    assert frontier_curve(x, np.array([0.95, 1, 1, 1]), 0.9) == (0.5, 0.5, "below")
    g, f, c = frontier_curve(x, np.array([0.0, 0.2, 0.5, 0.8]), 0.9)
    assert np.isnan(g) and np.isnan(f) and c == "above"


def _synthetic(p_true: list[float], reps: int = 40, seed: int = 0) -> xr.Dataset:
    """A sweep-shaped Dataset where one target holds with probability p_true[i]."""
    rng = np.random.default_rng(seed)
    held = (rng.random((len(p_true), reps)) < np.array(p_true)[:, None]).astype(float)
    held = np.stack([held, np.ones_like(held)], axis=-1)  # second target always holds
    x = np.linspace(0.5, 1.5, len(p_true))
    ds = xr.Dataset(
        {"target_held": (("experiment", "replicate", "target"), held),
         "done": (("experiment", "replicate"), np.ones(held.shape[:2], np.int8)),
         "total_allocated": (("experiment", "replicate"),
                             np.repeat(x[:, None] * 4e11, reps, axis=1))},
        coords={"experiment": [f"budget.scale={v:g}" for v in x], "budget.scale": ("experiment", x),
                "target": ["a", "b"]},
    )
    ds.attrs.update(dim="experiment", swept_keys='["budget.scale"]')
    return ds


def test_frontier_and_interval_on_synthetic_sweep(tmp_path: Path) -> None:
    ds = _synthetic([0.0, 0.1, 0.5, 0.97, 1.0])
    fr = frontier(ds, level=0.9, n_boot=300)
    a = fr.sel(target="a")
    assert float(a["frontier"]) == 1.25
    assert 1.0 < float(a["frontier_interp"]) <= 1.25
    assert float(a["frontier_lo"]) <= float(a["frontier_interp"]) <= float(a["frontier_hi"])
    assert float(a["p_reached"]) > 0.5
    assert float(a["frontier_budget"]) == pytest.approx(float(a["frontier_interp"]) * 4e11)
    b = fr.sel(target="b")
    assert str(b["frontier_censored"].values) == "below" and float(b["frontier"]) == 0.5
    text = format_frontier(fr)
    assert "frontier" in text and "<= 0.5" in text
    plot_frontier(fr, path=tmp_path / "f.png")
    assert (tmp_path / "f.png").exists()
    # a higher level cannot give a smaller frontier
    fr99 = frontier(ds, level=0.99, n_boot=50)
    f99 = float(fr99.sel(target="a")["frontier_interp"])
    assert np.isnan(f99) or f99 >= float(a["frontier_interp"])


def test_frontier_on_a_tiny_budget_sweep(serial_sweep: tuple[Path, xr.Dataset],
                                         tmp_path: Path) -> None:
    _, ds = serial_sweep
    fr = frontier(ds, key="budget.scale", level=0.9, n_boot=100)
    assert list(fr["budget_scale"].values) == [0.5, 1.0]
    assert fr.attrs["key"] == "budget.scale" and fr.attrs["coord"] == "budget_scale"
    assert fr["p_held"].dims == ("budget_scale", "target")
    np.testing.assert_allclose(fr["p_held"].values,
                               ds["target_held"].mean("replicate").values)
    for t in fr["target"].values:
        f = float(fr["frontier"].sel(target=t))
        p = fr["p_held"].sel(target=t).values
        if np.isnan(f):
            assert p[-1] < 0.9
        else:
            assert f in (0.5, 1.0) and (p[fr["budget_scale"].values >= f] >= 0.9).all()
    assert (fr["budget"].values > 0).all()
    plot_frontier(fr, ds, tmp_path / "frontier.png")
    assert (tmp_path / "frontier.png").stat().st_size > 10_000


def test_frontier_needs_the_key(serial_sweep: tuple[Path, xr.Dataset]) -> None:
    _, ds = serial_sweep
    with pytest.raises(povsim.PovsimError, match="sweep over 'lines.merge.year'"):
        frontier(ds, key="lines.merge.year")
    with pytest.raises(povsim.PovsimError, match="level"):
        frontier(ds, level=1.5)
