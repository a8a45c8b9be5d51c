"""An interrupted single run keeps what it computed: completed years are written, marked
incomplete, and the exit status is 130."""

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
