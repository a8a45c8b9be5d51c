"""`povsim run`: an interrupted run keeps what it computed (completed years written, marked
incomplete, exit status 130), and the summary figure."""

from __future__ import annotations

from pathlib import Path

import pytest
import xarray as xr

from povsim import cli
from povsim.model import PovertyModel

ROOT = Path(__file__).resolve().parents[1]


def test_ctrl_c_writes_completed_years(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    original = PovertyModel.step

    def step(self: PovertyModel) -> None:
        if self.month == 30:  # July of the third year: 2015 and 2016 are complete
            raise KeyboardInterrupt
        original(self)

    monkeypatch.setattr(PovertyModel, "step", step)
    out = tmp_path / "partial.nc"
    rc = cli.main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--scale", "2000",
                   "--output", str(out), "-q"])
    assert rc == 130
    assert "interrupted after 30 of 72 months" in capsys.readouterr().err
    with xr.open_dataset(out) as ds:
        assert list(ds["year"].values) == [2014, 2015, 2016]
        assert ds.attrs["complete"] == 0
        assert ds.attrs["steps_completed"] == 30
        stock = ds["registered_poor"].sum("region").values
        assert stock[0] == pytest.approx(4_976_000)
    assert not out.with_name(out.name + ".tmp").exists()


def test_run_figure(tmp_path: Path) -> None:
    """`povsim run --figure` draws the summary figure next to the results."""
    fig = tmp_path / "run.png"
    rc = cli.main(["run", str(ROOT / "scenarios" / "baseline.yaml"), "--scale", "2000",
                   "--output", str(tmp_path / "r.nc"), "--figure", str(fig), "-q"])
    assert rc == 0
    assert fig.stat().st_size > 10_000
