"""``povsim compare`` and ``povsim sweep``: output, exit codes, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from ensemble_helpers import BASELINE, SCALE, SCENARIOS, SWEEP_CLI

from povsim.cli import main


def _run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        rc = main(args)
    except SystemExit as exc:  # argparse
        rc = int(exc.code or 0)
    out, err = capsys.readouterr()
    return rc, out, err


def test_compare_prints_table_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                         ) -> None:
    out = tmp_path / "cmp.zarr"
    fig = tmp_path / "cmp.png"
    rc, text, err = _run(["compare", str(BASELINE), str(SCENARIOS / "budget_plus30.yaml"),
                          "--replicates", "1", "--output", str(out), "--figure", str(fig),
                          "--workers", "1", "--scale", str(SCALE), "--seed", "5"], capsys)
    assert rc == 0, err
    assert "P(holds)" in text and "budget_plus30" in text and "difference in P" in text
    assert out.exists() and fig.exists()
    assert "Traceback" not in err


def test_sweep_prints_frontier(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "s.zarr"
    fig = tmp_path / "s.png"
    rc, text, err = _run([*SWEEP_CLI[:-4], "--replicates", "1", "--scale", str(SCALE),
                          "--workers", "1", "--output", str(out), "--figure", str(fig),
                          "--level", "0.8"], capsys)
    assert rc == 0, err
    assert "frontier: smallest budget.scale at which P(target holds) >= 0.8" in text
    assert fig.exists()
    from povsim.ensembles import open_ensemble

    fr = open_ensemble(out, "frontier")
    assert "frontier_interp" in fr
    assert open_ensemble(out).attrs["povsim_ensemble"]  # the root keeps its identity


@pytest.mark.parametrize(
    "args, message",
    [
        (["--set", "budget.scal=0.5,1"], "unknown key 'scal'"),
        (["--set", "budget.scale=0.5,abc"], "wrong type"),
        (["--set", "budget.scale"], "KEY=V1,V2"),
        (["--set", "budget.scale=[0.5,1"], "malformed YAML"),
        (["--set", "budget.scale=0.5", "--set", "budget.scale=1"], "given twice"),
        (["--set", "budget.scale=0.5", "--replicates", "0"], "--replicates must be at least 1"),
        (["--set", "budget.scale=0.5", "--workers", "0"], "--workers must be at least 1"),
        (["--set", "budget.scale=0.5", "--design", "lhs"], "--samples"),
        (["--set", "budget.scale=0.5", "--level", "2"], "--level"),
        (["--set", "budget.scale=0.5", "--interval", "95"], "--interval"),
        (["--set", "budget.scale=0.5", "--figure", "/nonexistent/dir/f.png"], "--figure"),
        (["--set", "budget.scale=0.5", "--frontier-key", "x.y"], "not swept"),
    ],
)
def test_sweep_errors_are_clear(args: list[str], message: str, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    base = ["sweep", str(BASELINE), "--output", str(tmp_path / "x.zarr"), "--workers", "1",
            "--scale", str(SCALE)]
    if "--replicates" not in args:
        base += ["--replicates", "1"]
    rc, _, err = _run(base + args, capsys)
    assert rc == 2
    assert message in err
    assert "Traceback" not in err
    assert err.startswith("povsim: error:")
    assert not (tmp_path / "x.zarr").exists()


def test_compare_errors_are_clear(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc, _, err = _run(["compare", str(tmp_path / "missing.yaml"), "--replicates", "1",
                       "--output", str(tmp_path / "c.zarr")], capsys)
    assert rc == 2 and "missing.yaml" in err and "Traceback" not in err
    rc, _, err = _run(["compare", str(BASELINE), "--replicates", "1", "--output",
                       str(tmp_path / "nodir" / "c.zarr")], capsys)
    assert rc == 2 and "--output" in err
    rc, _, err = _run(["compare", str(BASELINE), "--output", str(tmp_path / "c.zarr")], capsys)
    assert rc == 2 and "--replicates" in err  # argparse: required


def test_store_mismatch_is_a_clear_error(serial_sweep: tuple[Path, object],
                                         capsys: pytest.CaptureFixture[str]) -> None:
    path, _ = serial_sweep
    rc, _, err = _run([*SWEEP_CLI[:-4], "--replicates", "2", "--scale", str(SCALE),
                       "--workers", "1", "--output", str(path)], capsys)
    assert rc == 2 and "holds a different ensemble" in err and "--overwrite" in err
