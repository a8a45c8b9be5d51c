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


PLUGIN = '''
import numpy as np
import povsim
from povsim.households import Column
from povsim.scenario.schema import PathwayConfig, param


class RangerConfig(PathwayConfig):
    wage: float = param(9500.0, "calibration/parameters.csv: eco_ranger_annual_pay", unit="yuan")


class Ranger(povsim.Pathway):
    owns = (Column("ranger_gain", np.float32, "yuan/year", "ranger pay", "ranger"),)
    reads = ("registered", "n_labour")
    modifies = ("monthly_income",)

    def eligible(self, model, year):
        hh = model.households
        return hh.registered & (hh.n_labour > 0) & (hh.ranger_gain == 0)

    def cost(self, model, idx, year):
        return np.full(len(idx), self.config.wage)

    def enrol(self, model, idx, year, month, credit_ok):
        model.households.ranger_gain[idx] = self.config.wage
        model.add_income(idx, self.config.wage)

    def income(self, model):
        return model.households.ranger_gain.astype(np.float64)


povsim.register_pathway("cli_ranger", RangerConfig, Ranger, replace=True)
'''


def test_plugin_registers_a_pathway_for_the_cli(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """`povsim --plugin MODULE run` imports a study's module, whose pathway then runs."""
    from povsim.registry import unregister

    (tmp_path / "cli_ranger_study.py").write_text(PLUGIN, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    scn = tmp_path / "rangers.yaml"
    scn.write_text(
        f"extends: {ROOT / 'scenarios' / 'baseline.yaml'}\n"
        "pathways:\n  cli_ranger: {capacity: 20000}\n"
        "budget:\n  sources:\n    special_poverty_funds:\n"
        "      pathways: [production, relocation, medical, cli_ranger]\n",
        encoding="utf-8",
    )
    out = tmp_path / "r.nc"
    try:
        rc = cli.main(["--plugin", "cli_ranger_study", "run", str(scn), "--scale", "500",
                       "--output", str(out), "-q"])
        assert rc == 0
        with xr.open_dataset(out) as ds:
            assert float(ds["spending"].sel(pathway="cli_ranger").sum()) > 0
    finally:
        unregister("pathway", "cli_ranger")


def test_missing_plugin_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    rc = cli.main(["--plugin", "no_such_module_anywhere", "validate",
                   str(ROOT / "scenarios" / "baseline.yaml")])
    assert rc == 2
    err = capsys.readouterr().err
    assert "--plugin: cannot import 'no_such_module_anywhere'" in err
    assert "Traceback" not in err
