"""The scale-bias table: hand-computed means, standard errors and z; a small real run."""

from __future__ import annotations

import numpy as np
import pytest
from _support import SCENARIOS

from povsim.analysis.scale_bias import bias_table, format_scale_bias, scale_bias
from povsim.errors import PovsimError


def test_bias_table_by_hand() -> None:
    # scale 100: values 10, 12 -> mean 11, se = sd/sqrt(2) = 1.41421/1.41421 = 1
    # scale 10 (reference): 14, 14 -> mean 14, se 0; z = (11 - 14) / hypot(1, 0) = -3
    res = {(100, 0): {"m": 10.0, "c": 5.0, "_seconds": 1.0},
           (100, 1): {"m": 12.0, "c": 5.0, "_seconds": 3.0},
           (10, 0): {"m": 14.0, "c": 5.0, "_seconds": 4.0},
           (10, 1): {"m": 14.0, "c": 5.0, "_seconds": 6.0}}
    t = bias_table(res, [100, 10], 2).set_index(["measure", "scale"])
    assert t.loc[("m", 100), "mean"] == 11.0
    assert t.loc[("m", 100), "se"] == pytest.approx(1.0)
    assert t.loc[("m", 100), "z"] == pytest.approx(-3.0)
    assert t.loc[("m", 10), "z"] == 0.0 and t.loc[("m", 10), "seconds"] == 5.0
    assert t.loc[("c", 100), "z"] == 0.0  # no noise, no difference: no bias
    text = format_scale_bias(bias_table(res, [100, 10], 2))
    assert "-3.0*" in text and "1:100" in text and "z vs 1:10" in text


def test_scale_bias_runs_every_measure_at_every_scale() -> None:
    t = scale_bias(SCENARIOS / "baseline.yaml", scales=[4000, 2000], replicates=2, workers=1,
                   seed=3)
    assert set(t["scale"]) == {4000, 2000}
    names = set(t["measure"])
    assert {"calibration:registered_poor_2016", "target:counties:shortfall",
            "target:registered_poor:held", "registered_poor_2020"} <= names
    start = t[t["measure"] == "calibration:registered_poor_2014"]
    # the 2014 register is the sourced stock at every scale (seed (一): 4,976,500)
    np.testing.assert_allclose(start["mean"], 4_976_500, rtol=1e-3)
    assert (t["n"] == 2).all()


def test_one_replicate_has_no_standard_error() -> None:
    with pytest.raises(PovsimError) as err:
        scale_bias(SCENARIOS / "baseline.yaml", replicates=1, workers=1)
    assert str(err.value) == "--replicates must be at least 2 for a standard error, got 1"


@pytest.mark.slow
def test_scale_bias_at_1_to_100_and_1_to_10() -> None:
    """The table of the benchmark at its real scales (values are evidence, not asserted)."""
    t = scale_bias(SCENARIOS / "baseline.yaml", scales=[100, 10], replicates=4, workers=2)
    assert set(t["scale"]) == {100, 10} and np.isfinite(t["mean"]).all()


@pytest.mark.slow
def test_the_default_scale_agrees_with_full_scale() -> None:
    """The default scale is the coarsest unbiased one (docs/model.md, Scale): every measure at
    the baseline's scale agrees with 1:1 within replicate noise (|z| <= 3 over ~29 measures),
    or, for a calibration observation, within a quarter of its tolerance (at 1:1 the replicate
    standard errors are so small that a difference far below what the calibration can tell
    apart still has a large z: the 2016 Tibetan-plateau incidence, 0.004 apart against a
    tolerance of 0.02). About 2-3 minutes on 2 workers (three full-scale runs)."""
    from povsim.calibration import load_targets
    from povsim.scenario import load_scenario

    default = load_scenario(SCENARIOS / "baseline.yaml").population.scale
    assert default == 10
    tol = {f"calibration:{t.name}": t.tolerance
           for t in load_targets(SCENARIOS.parent / "calibration" / "targets.yaml").targets}
    t = scale_bias(SCENARIOS / "baseline.yaml", scales=[default, 1], replicates=3, workers=2)
    full = t[t["scale"] == 1].set_index("measure")["mean"]
    rows = t[t["scale"] == default].set_index("measure")
    diff = (rows["mean"] - full).abs()
    close = diff <= rows.index.map(lambda m: 0.25 * tol.get(m, 0.0)).to_numpy()
    bad = rows[~((rows["z"].abs() <= 3.0) | close)]
    assert bad.empty, f"biased at 1:{default} against 1:1:\n{bad[['mean', 'se', 'z']]}"
