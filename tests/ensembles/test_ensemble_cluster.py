"""A real dask scheduler and two workers on 127.0.0.1: the sweep equals the serial one, even
when a worker is killed mid-way."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from ensemble_helpers import BASELINE, SWEEP, root_group

pytestmark = pytest.mark.cluster


def _dask_cmd(what: str) -> list[str]:
    exe = Path(sys.executable).parent / "dask"
    if exe.exists():
        return [str(exe), what]
    mod = {"scheduler": "distributed.cli.dask_scheduler",
           "worker": "distributed.cli.dask_worker"}[what]
    return [sys.executable, "-m", mod]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """``dask scheduler`` + two ``dask worker`` processes; yields their address and processes."""
    tmp = tmp_path_factory.mktemp("cluster")
    sched_file = tmp / "scheduler.json"
    env = dict(os.environ, DASK_DISTRIBUTED__LOGGING__DISTRIBUTED="error")
    procs: list[subprocess.Popen] = []
    logs = []
    try:
        log = open(tmp / "scheduler.log", "w")  # noqa: SIM115 - closed in finally
        logs.append(log)
        procs.append(subprocess.Popen(
            _dask_cmd("scheduler") + ["--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                                      "--scheduler-file", str(sched_file)],
            stdout=log, stderr=subprocess.STDOUT, env=env))
        deadline = time.monotonic() + 60
        while not sched_file.exists() or not sched_file.read_text().strip():
            if procs[0].poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the dask scheduler did not start: "
                                   + (tmp / "scheduler.log").read_text())
            time.sleep(0.1)
        time.sleep(0.2)
        address = json.loads(sched_file.read_text())["address"]
        workers = []
        for i in range(2):
            wlog = open(tmp / f"worker{i}.log", "w")  # noqa: SIM115
            logs.append(wlog)
            w = subprocess.Popen(
                _dask_cmd("worker") + ["--scheduler-file", str(sched_file), "--host",
                                       "127.0.0.1", "--nthreads", "1", "--no-nanny",
                                       "--no-dashboard", "--name", f"w{i}"],
                stdout=wlog, stderr=subprocess.STDOUT, env=env)
            procs.append(w)
            workers.append(w)
        from distributed import Client

        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
        yield {"address": address, "workers": workers, "tmp": tmp}
    finally:
        for p in reversed(procs):
            _stop(p)
        for f in logs:
            f.close()


def test_address_is_loopback(cluster: dict) -> None:
    assert cluster["address"].startswith("tcp://127.0.0.1:")


@pytest.mark.slow  # long: run with -m slow (default suite kept under ~6 min)
def test_sweep_on_cluster_equals_serial(cluster: dict, serial_sweep: tuple[Path, xr.Dataset],
                                        tmp_path: Path) -> None:
    from povsim.ensembles import sweep

    out = tmp_path / "remote.zarr"
    logs: list[str] = []
    sweep(BASELINE, **SWEEP, scheduler=cluster["address"], output=out, log=logs.append)
    assert any("2 workers" in m for m in logs)
    xr.testing.assert_identical(root_group(out), serial_sweep[1])


@pytest.mark.slow
def test_killed_worker_changes_nothing(cluster: dict, serial_sweep: tuple[Path, xr.Dataset],
                                       tmp_path: Path) -> None:
    """Kill one worker after the first run is stored; the other finishes the sweep."""
    import zarr

    from povsim.ensembles import sweep

    out = tmp_path / "killed.zarr"
    errors: list[BaseException] = []

    def go() -> None:
        try:
            sweep(BASELINE, **SWEEP, scheduler=cluster["address"], output=out)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    th = threading.Thread(target=go)
    th.start()
    victim = cluster["workers"][1]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and th.is_alive():
        if (out / "zarr.json").exists():
            try:
                if np.asarray(zarr.open_group(str(out), mode="r")["done"][...]).sum() >= 1:
                    break
            except Exception:  # noqa: BLE001 - store being created
                pass
        time.sleep(0.02)
    at_kill = np.asarray(zarr.open_group(str(out), mode="r")["done"][...]).sum()
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    th.join(timeout=180)
    assert not th.is_alive()
    assert not errors, errors
    assert at_kill < 6, "the sweep finished before the worker was killed"
    xr.testing.assert_identical(root_group(out), serial_sweep[1])
    shutil.rmtree(out)
