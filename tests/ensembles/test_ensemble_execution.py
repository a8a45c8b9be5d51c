"""Execution: seeds, serial vs a local cluster, failures, the store's identity, progress."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from ensemble_helpers import BASELINE, SWEEP, root_group

import povsim
from povsim.ensembles import Plan, Runner, run_seeds, sweep
from povsim.ensembles.store import Experiment
from povsim.rng import replicate_seed


def test_seeds_common_random_numbers() -> None:
    scn = povsim.load_scenario(BASELINE)
    plans = [Plan("experiment", [Experiment("a", scn), Experiment("b", scn)])]
    crn = run_seeds(plans, 4, 11, crn=True)[0]
    assert crn.shape == (4,)
    assert list(crn) == [replicate_seed(11, r) for r in range(4)]
    ind = run_seeds(plans, 4, 11, crn=False)[0]
    assert ind.shape == (2, 4)
    assert len(set(ind.ravel().tolist())) == 8


def test_serial_store_layout(serial_sweep: tuple[Path, xr.Dataset]) -> None:
    path, ds = serial_sweep
    assert ds.sizes["experiment"] == 2 and ds.sizes["replicate"] == 3
    assert ds["registered_poor"].dims[:2] == ("experiment", "replicate")
    # a swept key is a coordinate with an identifier name; the dotted key is its attribute
    assert list(ds["budget_scale"].values) == [0.5, 1.0]
    assert ds["budget_scale"].attrs["key"] == "budget.scale"
    assert ds.budget_scale.dims == ("experiment",)
    assert (ds["done"] == 1).all()
    assert list(ds["seed"].values) == [replicate_seed(11, r) for r in range(3)]
    # a chunk holds the replicates of one experiment (up to REPLICATE_CHUNK of them)
    import zarr

    arr = zarr.open_group(str(path), mode="r")["registered_poor"]
    assert arr.chunks[:2] == (1, 3)
    # a run equals povsim.run with the replicate's seed
    one = povsim.run(BASELINE, seed=int(ds["seed"].values[1]), scale=2000,
                     overrides={"budget.scale": 1.0})
    np.testing.assert_array_equal(ds["registered_poor"].isel(experiment=1, replicate=1).values,
                                  one["registered_poor"].values)


def test_local_cluster_equals_serial(serial_sweep: tuple[Path, xr.Dataset],
                                     tmp_path: Path) -> None:
    _, serial = serial_sweep
    out = tmp_path / "cluster.zarr"
    sweep(BASELINE, **SWEEP, workers=2, output=out)
    xr.testing.assert_identical(root_group(out), serial)


def test_failed_runs_are_reported_and_retried(serial_sweep: tuple[Path, xr.Dataset],
                                              tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    import povsim.ensembles.execution as ex

    real = ex.simulate
    bad_seed = replicate_seed(11, 1)

    def flaky(scenario, seed, base_dir=None, **kw):  # type: ignore[no-untyped-def]
        if seed == bad_seed:
            raise RuntimeError("worker crashed")
        return real(scenario, seed, base_dir, **kw)

    monkeypatch.setattr(ex, "simulate", flaky)
    out = tmp_path / "flaky.zarr"
    args = dict(SWEEP, sets={"budget.scale": [1.0]}, replicates=2)
    with pytest.raises(povsim.PovsimError, match=r"1 of 2 runs failed.*worker crashed"):
        sweep(BASELINE, **args, workers=1, output=out)
    done = root_group(out)["done"].values
    assert done.tolist() == [[1, 0]]
    monkeypatch.setattr(ex, "simulate", real)
    logs: list[str] = []
    ds = sweep(BASELINE, **args, workers=1, output=out, log=logs.append).load()
    assert any("1 already stored, computing the other 1" in m for m in logs)
    # same root seed, same replicate seeds: equal to the reference sweep's runs at 1.0
    ref = serial_sweep[1].isel(experiment=[1], replicate=[0, 1])
    for v in ("registered_poor", "exits_by_pathway", "target_held", "spending"):
        np.testing.assert_array_equal(ds[v].values, ref[v].values)


def test_store_of_another_ensemble_is_refused(serial_sweep: tuple[Path, xr.Dataset],
                                              tmp_path: Path) -> None:
    path, _ = serial_sweep
    with pytest.raises(povsim.PovsimError, match="replicates: store has 3"):
        sweep(BASELINE, **dict(SWEEP, replicates=2), workers=1, output=path)
    with pytest.raises(povsim.PovsimError, match="experiments differ"):
        sweep(BASELINE, **dict(SWEEP, sets={"budget.scale": [0.5, 0.75]}), workers=1,
              output=path)
    other = tmp_path / "not_a_store.zarr"
    other.mkdir()
    (other / "file.txt").write_text("x")
    with pytest.raises(povsim.PovsimError, match="not created by povsim"):
        sweep(BASELINE, **SWEEP, workers=1, output=other)
    with pytest.raises(povsim.PovsimError, match="not created by povsim"):
        sweep(BASELINE, **SWEEP, workers=1, output=other, overwrite=True)
    assert (other / "file.txt").read_text() == "x"
    copy = tmp_path / "copy.zarr"
    one = dict(SWEEP, sets={"budget.scale": [1.0]}, replicates=1)
    sweep(BASELINE, **one, workers=1, output=copy)
    with pytest.raises(povsim.PovsimError, match="root_seed"):
        sweep(BASELINE, **dict(one, seed=12), workers=1, output=copy)
    ds = sweep(BASELINE, **dict(one, seed=12), workers=1, output=copy, overwrite=True)
    assert int(ds["seed"].values[0]) == replicate_seed(12, 0)


def test_progress_bar_shows_runs_and_time_left(capsys: pytest.CaptureFixture[str],
                                               tmp_path: Path) -> None:
    sweep(BASELINE, {"budget.scale": [1.0]}, replicates=2, scale=2000, workers=1,
          output=tmp_path / "p.zarr", progress=True)
    err = capsys.readouterr().err
    assert "2/2" in err and "run" in err
    assert "<" in err  # tqdm's "elapsed<remaining"


def test_bad_worker_count() -> None:
    with pytest.raises(povsim.PovsimError, match="--workers"):
        Runner(workers=0)
