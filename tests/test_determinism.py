"""Reproducibility: one scenario and seed give one Dataset; seeds and processes are independent."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from _support import MODEL_SETTINGS, SCENARIOS, SMALL_SCALE, run_small, small
from hypothesis import given, settings
from hypothesis import strategies as st

import povsim
from povsim.scenario import Scenario, load_scenario


def test_same_seed_identical(small_scenario: Scenario, baseline_ds: xr.Dataset) -> None:
    """A fresh run of the same scenario and seed gives an identical Dataset (nothing excluded)."""
    again = povsim.run(small_scenario)
    xr.testing.assert_identical(again, baseline_ds)
    assert again.attrs == baseline_ds.attrs


def test_explicit_seed_equals_scenario_seed(small_scenario: Scenario,
                                            baseline_ds: xr.Dataset) -> None:
    """Passing the scenario's own seed explicitly changes nothing."""
    xr.testing.assert_identical(povsim.run(small_scenario, seed=small_scenario.seed), baseline_ds)


def test_path_and_object_runs_identical(baseline_ds: xr.Dataset) -> None:
    """Running the file with ``scale=`` equals running the loaded, overridden scenario."""
    xr.testing.assert_identical(povsim.run(SCENARIOS / "baseline.yaml", scale=SMALL_SCALE),
                                baseline_ds)


def test_no_state_leaks_between_runs(small_scenario: Scenario, baseline_ds: xr.Dataset) -> None:
    """A different run in the same process in between does not change the baseline's results."""
    povsim.run(small({"pathways.dibao.enabled": False, "budget.scale": 0.3}), seed=99)
    xr.testing.assert_identical(povsim.run(small_scenario), baseline_ds)


def test_stepping_equals_run(small_scenario: Scenario, baseline_ds: xr.Dataset) -> None:
    """Stepping month by month and reading results() equals run()."""
    model = povsim.PovertyModel(small_scenario)
    while model.running:
        model.step()
    assert model.month == model.n_steps
    xr.testing.assert_identical(model.results(), baseline_ds)


def test_other_seed_differs(baseline_ds: xr.Dataset) -> None:
    """Another seed gives another population and another history."""
    other = run_small(seed=baseline_ds.attrs["seed"] + 1)
    assert other.attrs["seed"] == baseline_ds.attrs["seed"] + 1
    assert not other.identical(baseline_ds)
    assert not np.array_equal(other["county_registered_poor"].values,
                              baseline_ds["county_registered_poor"].values)
    assert not np.array_equal(other["mean_income"].values, baseline_ds["mean_income"].values)


@settings(MODEL_SETTINGS, max_examples=5)
@given(seed=st.integers(0, 2**31 - 1))
def test_any_seed_reproducible(seed: int) -> None:
    """For any seed, two runs are identical and record that seed."""
    scn = load_scenario(SCENARIOS / "baseline.yaml",
                        overrides={"population.scale": SMALL_SCALE, "calendar.end_year": 2016})
    a = povsim.run(scn, seed=seed)
    b = povsim.run(scn, seed=seed)
    xr.testing.assert_identical(a, b)
    assert a.attrs["seed"] == seed


def test_common_random_numbers_population(baseline_ds: xr.Dataset) -> None:
    """Policy settings do not change the synthetic population (same seed, other budget)."""
    other = run_small({"budget.scale": 0.5, "pathways.dibao.enabled": False})
    start = {"year": baseline_ds["year"].values[0]}
    for name in ("county_registered_poor", "rural_population", "true_poor", "income_quantiles"):
        xr.testing.assert_identical(other[name].sel(start), baseline_ds[name].sel(start))
    assert other.attrs["n_households"] == baseline_ds.attrs["n_households"]
    assert other.attrs["scenario_sha256"] != baseline_ds.attrs["scenario_sha256"]




@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_bad_seed_rejected(small_scenario: Scenario, bad: object) -> None:
    """A negative, fractional or boolean seed is refused rather than silently used."""
    with pytest.raises(povsim.PovsimError, match="non-negative integer"):
        povsim.PovertyModel(small_scenario, seed=bad)  # type: ignore[arg-type]


def test_draws_made_ahead_in_a_thread_are_the_same(small_scenario: Scenario,
                                                   baseline_ds: xr.Dataset,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """Next month's illness draws made in the helper thread (large tables) change nothing."""
    import povsim.context as context

    monkeypatch.setattr(context, "PREFETCH_ROWS", 1)
    model = povsim.PovertyModel(small_scenario)
    model.step()
    assert any(k[0] == "illness" and k[1] == (1,) for k in model.run_state._prefetched)
    while model.running:
        model.step()
    xr.testing.assert_identical(model.results(), baseline_ds)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs os.fork")
def test_forked_child_draws_ahead_with_a_thread_of_its_own() -> None:
    """A child forked after the helper thread started gets a new one (the parent's thread
    does not exist in the child: drawing ahead would wait for it forever)."""
    import os

    import povsim.context as context

    context._prefetcher().submit(int).result()  # the parent's thread exists
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if a draw made ahead completes
        code = 1
        try:
            code = 0 if context._prefetcher().submit(lambda: 7).result(timeout=20) == 7 else 1
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
