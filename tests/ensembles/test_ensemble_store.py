"""Ensemble stores: one writer at a time, checksummed runs (a damaged or missing chunk is found on
open and recomputed on resume), growth to more replicates, netCDF and CSV outputs that
``open_ensemble`` reads, identifier coordinates, units and version on every variable, public
zarr API only."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from ensemble_helpers import BASELINE, SCALE, SWEEP, root_group

import povsim
from povsim.ensembles import compare, open_ensemble, sweep
from povsim.ensembles.store import StoreLock

ONE = dict(SWEEP, sets={"budget.scale": [1.0]}, replicates=1)


def _chunk_files(store: Path, var: str, e: int, b: int) -> list[Path]:
    """The files of chunk ``b`` of experiment ``e`` of ``var`` (zarr 3: var/c/e/b/...; zarr 2:
    var/e.b....); chunk ``b`` holds replicates ``b * B`` to ``b * B + B - 1``, ``B`` being the
    store's replicates per chunk."""
    v3 = store / var / "c" / str(e) / str(b)
    if v3.exists():
        return [f for f in v3.rglob("*") if f.is_file()] if v3.is_dir() else [v3]
    return sorted((store / var).glob(f"{e}.{b}.*")) + sorted((store / var).glob(f"{e}.{b}"))


def _holder(path: Path) -> subprocess.Popen:
    code = ("import sys, time\nfrom povsim.ensembles.store import StoreLock\n"
            f"StoreLock({str(path)!r}).acquire()\nprint('locked', flush=True)\ntime.sleep(120)\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "locked"
    return proc


def test_second_writer_is_refused_and_a_dead_ones_lock_is_not_stale(tmp_path: Path) -> None:
    """Old code: two sweeps on one store ran at once (no lock) and corrupted or mislabelled it."""
    out = tmp_path / "s.zarr"
    proc = _holder(out)
    try:
        with pytest.raises(povsim.PovsimError,
                           match=rf"being written by process {proc.pid} on host .*one writer"):
            sweep(BASELINE, **ONE, workers=1, output=out)
        assert not out.exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    # the holder died without releasing: its lock file is left, but the lock is free
    assert out.with_name("s.zarr.lock").exists()
    ds = sweep(BASELINE, **ONE, workers=1, output=out)
    assert int(ds["done"].sum()) == 1
    assert not out.with_name("s.zarr.lock").exists()


def test_lock_is_reentrant_in_one_process(tmp_path: Path) -> None:
    lock = StoreLock(tmp_path / "x.zarr")
    with lock, StoreLock(tmp_path / "x.zarr"):
        assert lock.holder()["pid"] == os.getpid()
    assert not lock.path.exists()


def test_damaged_runs_are_reported_on_open_and_recomputed_on_resume(
        serial_sweep: tuple[Path, xr.Dataset], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code: a deleted chunk read back as NaN (wrong summary, exit 0); a garbage chunk was a
    traceback. A chunk holds several replicates: all its runs are damaged and computed again,
    the runs of other chunks are not touched."""
    from povsim.ensembles import store as st

    _, ref = serial_sweep
    out = tmp_path / "s.zarr"
    monkeypatch.setattr(st, "REPLICATE_CHUNK", 2)  # replicates 0-1 and 2 in two chunks
    sweep(BASELINE, **SWEEP, workers=1, output=out)
    xr.testing.assert_identical(root_group(out), ref)  # chunking changes no value
    deleted = _chunk_files(out, "registered_poor", 1, 1)  # the run (1, 2)
    garbage = _chunk_files(out, "spending", 0, 0)  # the runs (0, 0) and (0, 1)
    assert deleted and garbage
    for f in deleted:
        f.unlink()
    for f in garbage:
        f.write_bytes(os.urandom(64))
    with pytest.raises(povsim.PovsimError) as info:
        open_ensemble(out)
    msg = str(info.value)
    assert "3 stored runs are damaged" in msg and "run the command that wrote it again" in msg
    assert "'budget.scale=0.5' replicate 0 (a chunk of 'spending' is unreadable)" in msg
    assert "'budget.scale=0.5' replicate 1 (a chunk of 'spending' is unreadable)" in msg
    logs: list[str] = []
    intact = {str(f): f.stat().st_mtime_ns
              for e, b in [(0, 1), (1, 0)] for f in _chunk_files(out, "registered_poor", e, b)}
    sweep(BASELINE, **SWEEP, workers=1, output=out, log=logs.append)
    assert any("3 stored runs are damaged and will be computed again" in m for m in logs), logs
    assert any("'budget.scale=1' replicate 2 (its values do not match its checksum" in m
               for m in logs), logs
    assert any("3 already stored, computing the other 3" in m for m in logs), logs
    xr.testing.assert_identical(root_group(out), ref)
    # the intact runs were not written again
    assert {f: Path(f).stat().st_mtime_ns for f in intact} == intact


def test_store_grows_to_more_replicates(serial_sweep: tuple[Path, xr.Dataset],
                                        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code: a larger --replicates was refused ("replicates: store has 1"). A growth
    interrupted after the store was marked as growing is finished by the next command."""
    from povsim.ensembles import store as st

    out = tmp_path / "g.zarr"
    sweep(BASELINE, **ONE, workers=1, output=out)
    before = {str(f): f.read_bytes() for f in _chunk_files(out, "registered_poor", 0, 0)}
    real = st.EnsembleStore._grow

    def crash(self: st.EnsembleStore, replicates: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(st.EnsembleStore, "_grow", crash)
    with pytest.raises(KeyboardInterrupt):
        sweep(BASELINE, **dict(ONE, replicates=2), workers=1, output=out)
    monkeypatch.setattr(st.EnsembleStore, "_grow", real)
    logs: list[str] = []
    ds = sweep(BASELINE, **dict(ONE, replicates=2), workers=1, output=out,
               log=logs.append).load()
    assert any("1 already stored, computing the other 1" in m for m in logs), logs
    assert {f: Path(f).read_bytes() for f in before} == before  # kept bit for bit
    # equal to the reference sweep's runs at budget.scale 1.0 (same seeds)
    ref = serial_sweep[1].isel(experiment=[1], replicate=[0, 1])
    for v in ("registered_poor", "exits_by_pathway", "target_held", "spending", "seed",
              "run_checksum"):
        np.testing.assert_array_equal(ds[v].values, ref[v].values)
    assert '"replicates": 2' in ds.attrs["povsim_ensemble"]
    with pytest.raises(povsim.PovsimError, match="can grow to more replicates, not shrink"):
        sweep(BASELINE, **ONE, workers=1, output=out)


@pytest.mark.parametrize("suffix", [".nc", ".csv"])
def test_compare_file_outputs(suffix: str, tmp_path: Path) -> None:
    """Old code: ``open_ensemble("cmp.nc")`` failed on the file ``compare -o cmp.nc`` wrote."""
    out = tmp_path / f"cmp{suffix}"
    ds = compare([BASELINE], replicates=1, scale=SCALE, seed=5, workers=1, output=out)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # the runs store is gone
    if suffix == ".nc":
        back = open_ensemble(out).load()
        assert "p_held" in back and "registered_poor" in back
        np.testing.assert_array_equal(back["registered_poor"].values,
                                      ds["registered_poor"].values)
        assert back.attrs["povsim_ensemble"]
    else:
        import pandas as pd

        table = pd.read_csv(out, low_memory=False)  # as docs/outputs.md says
        assert {"variable", "scenario", "replicate", "year", "value", "units"} <= set(table)
        rows = table[(table["variable"] == "registered_poor") & (table["year"] == 2020)]
        assert rows["value"].sum() == pytest.approx(
            float(ds["registered_poor"].sel(year=2020).sum()))


def test_every_variable_has_units_description_and_version(
        serial_sweep: tuple[Path, xr.Dataset]) -> None:
    """Old code: per-run variables lost their units; no povsim_version anywhere."""
    _, ds = serial_sweep
    for name, var in ds.variables.items():
        assert var.attrs.get("units"), name
        assert var.attrs.get("description"), name
        assert var.attrs.get("povsim_version") == povsim.__version__, name
    assert ds["registered_poor"].attrs["units"] == "persons"


def test_swept_keys_are_identifiers(serial_sweep: tuple[Path, xr.Dataset]) -> None:
    """Old code: the coordinate was named ``budget.scale`` (no attribute access)."""
    _, ds = serial_sweep
    assert ds.budget_scale.attrs["key"] == "budget.scale"
    assert "budget.scale" not in ds.variables
    from povsim.ensembles.store import coord_name

    assert coord_name("lines.merge.year") == "lines_merge_year"
    assert coord_name("seed") == "param_seed"
    assert coord_name("2x") == "_2x"


def test_old_store_format_is_refused_with_a_message(serial_sweep: tuple[Path, xr.Dataset],
                                                    tmp_path: Path) -> None:
    import zarr

    out = tmp_path / "old.zarr"
    shutil.copytree(serial_sweep[0], out)
    root = zarr.open_group(str(out), mode="r+")
    root.attrs["povsim_ensemble"] = root.attrs["povsim_ensemble"].replace(
        "povsim-ensemble/2", "povsim-ensemble/1")
    with pytest.raises(povsim.PovsimError, match="format: store has 'povsim-ensemble/1'.*"
                                                 "--overwrite"):
        sweep(BASELINE, **SWEEP, workers=1, output=out)
    # it is povsim's own (its legacy identity counts as the marker): --overwrite may delete it
    from povsim.outputs import is_povsim_dir

    assert is_povsim_dir(out, "ensemble")
    del root.attrs["povsim_store"]
    assert is_povsim_dir(out, "ensemble")


def test_store_uses_only_public_zarr_api() -> None:
    """Old code wrote through ``zarr.core.sync`` and ``Array._async_array``."""
    src = (Path(povsim.__file__).parent / "ensembles" / "store.py").read_text(encoding="utf-8")
    for private in ("zarr.core", "_async_array", "zarr.storage._", "from zarr._"):
        assert private not in src, private


def test_lock_file_names_the_holder(tmp_path: Path) -> None:
    proc = _holder(tmp_path / "h.zarr")
    try:
        info = StoreLock(tmp_path / "h.zarr").holder()
        assert info is not None and info["pid"] == proc.pid and info["host"]
    finally:
        proc.kill()
        proc.wait(timeout=10)
    time.sleep(0.05)


def _one_experiment(replicates: int) -> tuple[list, dict]:
    from povsim.ensembles.store import Experiment, Plan

    scn = povsim.load_scenario(BASELINE).with_overrides({"population.scale": SCALE})
    plan = Plan("experiment", [Experiment("baseline", scn, base_dir=str(BASELINE.parent))])
    return [plan], {"replicates": replicates, "root_seed": 11, "workers": 1, "progress": False}


def _flags(path: Path) -> int:
    import zarr

    return int(np.asarray(zarr.open_group(str(path), mode="r")["done"][...]).sum())


def test_runs_are_written_by_the_chunk_and_everything_held_is_written_on_ctrl_c(
        tmp_path: Path) -> None:
    """A finished run waits in memory for the rest of its chunk; Ctrl-C writes what is held,
    so nothing computed is lost, and the next command computes only the rest."""
    from povsim.ensembles import execute
    from povsim.ensembles.execution import EnsembleInterrupted
    from povsim.ensembles.store import REPLICATE_CHUNK

    assert REPLICATE_CHUNK >= 4
    plans, kw = _one_experiment(4)
    out = tmp_path / "c.zarr"
    on_disk: list[int] = []

    def stop_after_three(done: int, _total: int) -> None:
        if done:
            on_disk.append(_flags(out))
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(EnsembleInterrupted) as info:
        execute(plans, path=out, on_run=stop_after_three, **kw)
    assert on_disk == [0, 0, 0]  # held: their chunk of 4 is not complete
    assert info.value.report.computed == 3 and _flags(out) == 3  # written at Ctrl-C
    rep = execute(plans, path=out, **kw)
    assert (rep.already, rep.computed) == (3, 1)


def test_long_runs_are_written_as_they_arrive(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A run is not held when the next one is not expected within FLUSH_SECONDS (here each
    run takes 20 s of the store's clock)."""
    import povsim.ensembles.execution as ex
    from povsim.ensembles import store as st

    now = [0.0]
    real = ex.simulate

    def twenty_seconds(*args, **kw):  # type: ignore[no-untyped-def]
        now[0] += 20.0
        return real(*args, **kw)

    monkeypatch.setattr(st, "_clock", lambda: now[0])
    monkeypatch.setattr(ex, "simulate", twenty_seconds)
    assert st.FLUSH_SECONDS < 20
    assert _stored_after_each_run(tmp_path / "l.zarr") == [1, 2, 3]


def test_a_run_waits_at_most_flush_seconds(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from povsim.ensembles import store as st

    monkeypatch.setattr(st, "FLUSH_SECONDS", 0.0)
    assert _stored_after_each_run(tmp_path / "f.zarr") == [1, 2, 3]


def _stored_after_each_run(out: Path) -> list[int]:
    """Runs stored on disk after each of 3 runs finishes (all 3 stored at the end)."""
    from povsim.ensembles import execute

    plans, kw = _one_experiment(3)
    on_disk: list[int] = []
    rep = execute(plans, path=out, on_run=lambda d, _t: d and on_disk.append(_flags(out)), **kw)
    assert rep.computed == 3 and _flags(out) == 3
    return on_disk


def test_a_store_of_one_run_a_chunk_is_resumed_as_it_is(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Stores written before chunks held several replicates keep their layout on resume."""
    import zarr

    from povsim.ensembles import execute
    from povsim.ensembles import store as st
    from povsim.ensembles.execution import EnsembleInterrupted

    plans, kw = _one_experiment(3)
    ref = tmp_path / "ref.zarr"
    execute(plans, path=ref, **kw)
    out = tmp_path / "old.zarr"
    monkeypatch.setattr(st, "REPLICATE_CHUNK", 1)

    def stop(done: int, _total: int) -> None:
        if done == 2:
            raise KeyboardInterrupt

    with pytest.raises(EnsembleInterrupted):
        execute(plans, path=out, on_run=stop, **kw)
    monkeypatch.setattr(st, "REPLICATE_CHUNK", 16)
    rep = execute(plans, path=out, **kw)
    assert (rep.already, rep.computed) == (2, 1)
    assert zarr.open_group(str(out), mode="r")["registered_poor"].chunks[:2] == (1, 1)
    assert zarr.open_group(str(ref), mode="r")["registered_poor"].chunks[:2] == (1, 3)
    xr.testing.assert_identical(root_group(out), root_group(ref))
