"""Interrupt a sweep (crash or Ctrl-C), rerun the same command: only the missing runs are
computed and the result equals the uninterrupted sweep."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from ensemble_helpers import SWEEP_CLI, root_group


def _cmd(out: Path) -> list[str]:
    return [sys.executable, "-m", "povsim.cli", *SWEEP_CLI, "--workers", "1", "--output",
            str(out)]


def _done(out: Path) -> np.ndarray | None:
    import zarr

    if not (out / "zarr.json").exists():
        return None
    try:
        return np.asarray(zarr.open_group(str(out), mode="r")["done"][...]) == 1
    except Exception:  # noqa: BLE001 - being created
        return None


def _chunk_mtimes(out: Path, done: np.ndarray) -> dict[str, int]:
    stamps = {}
    for e, r in zip(*np.nonzero(done)):
        for var in ("registered_poor", "target_held", "done"):
            for f in (out / var / "c" / str(e) / str(r)).rglob("*") if (
                    out / var / "c" / str(e) / str(r)).is_dir() else [
                    out / var / "c" / str(e) / str(r)]:
                if f.is_file():
                    stamps[str(f)] = f.stat().st_mtime_ns
    return stamps


@pytest.mark.parametrize("sig", [
    signal.SIGKILL,
    # slow: Ctrl-C resume takes ~13 s and was once lost under heavy load; run with -m slow
    pytest.param(signal.SIGINT, marks=pytest.mark.slow),
], ids=["crash", "ctrl-c"])
def test_interrupt_and_resume(sig: int, serial_sweep: tuple[Path, xr.Dataset],
                              tmp_path: Path) -> None:
    out = tmp_path / "sweep.zarr"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(_cmd(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=env, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            d = _done(out)
            if d is not None and d.sum() >= 1:
                break
            time.sleep(0.02)
        assert proc.poll() is None, "the sweep finished before it could be interrupted"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if sig == signal.SIGINT:
        assert proc.returncode == 130, err
        assert "interrupted" in err and "run the same command again" in err
        assert "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    done = _done(out)
    assert done is not None
    n_done = int(done.sum())
    assert 1 <= n_done < done.size
    before = _chunk_mtimes(out, done)
    assert before

    res = subprocess.run(_cmd(out), check=False, capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    m = re.search(r"(\d+) already stored, computing the other (\d+)", res.stderr)
    assert m, res.stderr
    assert int(m.group(1)) == n_done and int(m.group(2)) == done.size - n_done
    # the stored runs were not computed (nor written) again
    after = {f: Path(f).stat().st_mtime_ns for f in before}
    assert after == before
    xr.testing.assert_identical(root_group(out), serial_sweep[1])
