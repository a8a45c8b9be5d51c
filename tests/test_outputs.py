"""Outputs that lose nothing: the path is checked before the run, writes are atomic, povsim never
deletes a directory it did not create, and ``.csv`` is a tidy table (not netCDF under that name).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _support import SCENARIOS, SMALL_SCALE

import povsim
from povsim import cli
from povsim.model import PovertyModel
from povsim.outputs import MARKER, check_output, read_marker, tidy_table

BASELINE = SCENARIOS / "baseline.yaml"


def _run(capsys: pytest.CaptureFixture[str], *args: object) -> tuple[int, str]:
    rc = cli.main([str(a) for a in args])
    return rc, capsys.readouterr().err


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count model runs: a refused output must be refused before any simulation."""
    calls: list[int] = []
    original = PovertyModel.run

    def run(self: PovertyModel, *a: object, **k: object) -> xr.Dataset:
        calls.append(1)
        return original(self, *a, **k)

    monkeypatch.setattr(PovertyModel, "run", run)
    return calls


@pytest.mark.parametrize("name, message", [
    ("nodir/o.nc", "does not exist"),
    ("o.txt", "povsim cannot write '.txt'"),
    ("o", "a file without a suffix"),
    ("existing_dir.nc", "is an existing directory"),
    ("existing_dir.csv", "is an existing directory"),
])
def test_bad_output_is_refused_before_the_run(name: str, message: str, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              no_simulation: list[int]) -> None:
    """Old code: ``o.txt`` was written as netCDF, an existing directory failed with a traceback
    after the whole simulation."""
    (tmp_path / "existing_dir.nc").mkdir()
    (tmp_path / "existing_dir.csv").mkdir()
    rc, err = _run(capsys, "run", BASELINE, "--scale", SMALL_SCALE, "-o", tmp_path / name, "-q")
    assert rc == 2, err
    assert message in err and "Traceback" not in err
    assert err.startswith("povsim: error:")
    assert not no_simulation


def test_read_only_folder_is_refused_before_the_run(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str],
                                                    no_simulation: list[int],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A folder where no file can be created (simulated: root ignores permission bits)."""
    import tempfile

    real = tempfile.mkstemp

    def refuse(*a: object, dir: object = None, **k: object):  # type: ignore[no-untyped-def]
        if dir is not None and Path(str(dir)) == tmp_path / "ro":
            raise PermissionError(13, "Permission denied")
        return real(*a, dir=dir, **k)

    (tmp_path / "ro").mkdir()
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    rc, err = _run(capsys, "run", BASELINE, "--scale", SMALL_SCALE, "-o",
                   tmp_path / "ro" / "o.nc", "-q")
    assert rc == 2 and "is not writable (Permission denied)" in err, err
    assert not no_simulation


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_folder_really(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(povsim.PovsimError, match="not writable"):
            check_output(ro / "o.nc")
    finally:
        ro.chmod(0o755)


def test_foreign_directory_is_never_deleted(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            no_simulation: list[int]) -> None:
    """Old code: ``run --output thesis.zarr`` deleted the existing directory of that name."""
    thesis = tmp_path / "thesis.zarr"
    thesis.mkdir()
    (thesis / "chapter1.tex").write_text("years of work")
    rc, err = _run(capsys, "run", BASELINE, "--scale", SMALL_SCALE, "-o", thesis, "-q")
    assert rc == 2 and "not created by povsim" in err and "never deletes" in err
    assert (thesis / "chapter1.tex").read_text() == "years of work"
    assert not no_simulation
    # the ensemble commands refuse it too, with or without --overwrite
    for extra in ([], ["--overwrite"]):
        rc, err = _run(capsys, "sweep", BASELINE, "--set", "budget.scale=1", "-n", "1",
                       "--workers", "1", "--scale", SMALL_SCALE, "-o", thesis, *extra)
        assert rc == 2 and "not created by povsim" in err, err
    assert sorted(p.name for p in thesis.iterdir()) == ["chapter1.tex"]


def test_povsim_zarr_is_replaced_atomically(baseline_ds: xr.Dataset, tmp_path: Path) -> None:
    out = tmp_path / "r.zarr"
    povsim.write_dataset(baseline_ds.isel(year=slice(0, 2)), out)
    assert read_marker(out)["kind"] == "run"
    povsim.write_dataset(baseline_ds, out)  # a povsim run store: replaced
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        back = xr.open_zarr(out, consolidated=False).load()
    assert back.sizes["year"] == baseline_ds.sizes["year"]
    assert MARKER in back.attrs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.zarr"]  # no temporary left


def test_interrupted_write_keeps_the_old_file(baseline_ds: xr.Dataset, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The write goes to a temporary name: a failure leaves the previous output intact."""
    out = tmp_path / "r.nc"
    povsim.write_dataset(baseline_ds, out)
    before = out.read_bytes()

    def boom(self: xr.Dataset, path: object, *a: object, **k: object) -> None:
        Path(str(path)).write_bytes(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(xr.Dataset, "to_netcdf", boom)
    with pytest.raises(KeyboardInterrupt):
        povsim.write_dataset(baseline_ds, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.nc"]


def test_csv_is_a_tidy_table(tmp_path: Path,
                             capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: ``-o x.csv`` wrote netCDF under that name."""
    out = tmp_path / "x.csv"
    rc, err = _run(capsys, "run", BASELINE, "--scale", SMALL_SCALE, "-o", out, "-q")
    assert rc == 0, err
    assert not out.read_bytes().startswith(b"\x89HDF")
    df = pd.read_csv(out)
    assert list(df.columns[:3]) == ["variable", "year", "region"]
    assert list(df.columns[-2:]) == ["value", "units"]
    rp = df[(df["variable"] == "registered_poor") & (df["year"] == 2020)]
    ds = povsim.run(BASELINE, scale=SMALL_SCALE)
    expected = ds["registered_poor"].sel(year=2020)
    got = rp.set_index("region")["value"]
    for region in expected["region"].values:
        assert got[str(region)] == pytest.approx(float(expected.sel(region=region)))
    assert set(rp["units"]) == {"persons"}
    # every value of every variable is a row
    assert len(tidy_table(ds)) == sum(int(np.prod(v.shape)) for v in ds.data_vars.values())


def test_check_output_accepts_the_three_formats(tmp_path: Path) -> None:
    for suffix in (".nc", ".zarr", ".csv", ".NC"):
        assert check_output(tmp_path / f"o{suffix}") == tmp_path / f"o{suffix}"
    (tmp_path / "f.zarr").write_text("a file")
    with pytest.raises(povsim.PovsimError, match="is a file, not a zarr directory"):
        check_output(tmp_path / "f.zarr")
    empty = tmp_path / "empty.zarr"
    empty.mkdir()
    assert check_output(empty) == empty  # an empty directory loses nothing
