"""``povsim export STORE --csv DIR``: an ensemble store as tidy CSV tables (issue 8, part 6)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import xarray as xr

from povsim.cli import main


def test_export_ensemble_store(serial_sweep: tuple[Path, xr.Dataset], tmp_path: Path,
                               capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: no ``export``. One table per set of dimensions, replicate and experiment as
    columns, values equal to the store's, units on every row."""
    store, ds = serial_sweep
    out = tmp_path / "tables"
    assert main(["export", str(store), "--csv", str(out)]) == 0
    written = [Path(p) for p in capsys.readouterr().out.split()]
    assert all(p.parent == out and p.suffix == ".csv" for p in written)
    dims = tuple(ds["registered_poor"].dims)
    name = "_".join(dims) + ".csv"
    assert out / name in written
    table = pd.read_csv(out / name)
    rows = table[table.variable == "registered_poor"]
    assert len(rows) == ds["registered_poor"].size
    assert {"experiment", "replicate", "year", "region", "value", "units"} <= set(table.columns)
    assert set(rows.units) == {ds["registered_poor"].attrs["units"]}
    assert rows.value.sum() == pytest.approx(float(ds["registered_poor"].sum()))


def test_compare_accepts_library_names(tmp_path: Path) -> None:
    """Old code: "file not found: baseline". ``povsim compare`` takes library names too."""
    out = tmp_path / "cmp.zarr"
    assert main(["compare", "baseline", "no_line_merge", "--replicates", "1", "--workers", "1",
                 "--scale", "4000", "--output", str(out), "--quiet"]) == 0
    from povsim.ensembles import open_ensemble

    ds = open_ensemble(out)
    assert list(ds["scenario"].values) == ["baseline", "no_line_merge"]
