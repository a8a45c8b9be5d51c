"""The ``povsim`` command line: validate, run, show, and clean errors (exit 2, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import xarray as xr
from _support import BROKEN, REQUIRED_ATTRS, SCENARIO_FILES, SCENARIOS, SMALL_SCALE

from povsim.cli import main


def povsim_cli(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run ``python -m povsim.cli ARGS`` in a subprocess of this interpreter."""
    return subprocess.run(
        [sys.executable, "-m", "povsim.cli", *map(str, args)],
        capture_output=True, text=True, cwd=cwd, timeout=300, stdin=subprocess.DEVNULL, check=False,
    )


def assert_clean_error(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Exit status 2, one ``povsim: error:`` line, no traceback; the message names ``needles``."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr
    assert "povsim: error:" in proc.stderr, proc.stderr
    for needle in needles:
        assert needle in proc.stderr, (needle, proc.stderr)


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[p.stem for p in SCENARIO_FILES])
def test_validate_each_library_file(path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``povsim validate FILE`` exits 0 for every file in scenarios/."""
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid scenario" in out and str(path) in out


def test_validate_all_files_subprocess() -> None:
    """``povsim validate scenarios/*.yaml`` in a real process exits 0 and reports each file."""
    proc = povsim_cli("validate", *SCENARIO_FILES)
    assert proc.returncode == 0, proc.stderr
    for path in SCENARIO_FILES:
        assert str(path) in proc.stdout
    assert "Traceback" not in proc.stderr


def test_run_writes_netcdf_and_prints_targets(tmp_path: Path) -> None:
    """``povsim run baseline.yaml --scale 2000 --output tmp.nc -q`` exits 0, prints the target
    table and writes a netCDF file with provenance attributes."""
    out = tmp_path / "tmp.nc"
    proc = povsim_cli("run", SCENARIOS / "baseline.yaml", "--scale", SMALL_SCALE,
                      "--output", out, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    # the target table
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:2] == ["target", "held"]
    assert set(lines[1]) <= {"-", " "}
    body = "\n".join(lines[2:])
    for label in ("registered poor", "poor villages", "poor counties", "income"):
        assert label in body, (label, proc.stdout)
    assert not (tmp_path / "tmp.nc.tmp").exists()
    with xr.open_dataset(out) as ds:
        for key in REQUIRED_ATTRS:
            assert key in ds.attrs, key
        assert int(ds.attrs["scale"]) == SMALL_SCALE
        assert int(ds.attrs["seed"]) == 7
        assert int(ds.attrs["n_steps"]) == 72
        assert int(ds.attrs["n_households"]) > 1000
        assert len(ds.attrs["scenario_sha256"]) == 64
        assert "registered_poor" in ds


def test_run_seed_and_set_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``--seed``, ``--budget-scale`` and ``--set`` reach the run (in-process)."""
    out = tmp_path / "r.nc"
    code = main(["run", str(SCENARIOS / "baseline.yaml"), "--scale", str(SMALL_SCALE),
                 "--seed", "5", "--budget-scale", "0.5", "--set", "calendar.end_year=2016",
                 "--output", str(out), "-q"])
    assert code == 0
    with xr.open_dataset(out) as ds:
        assert int(ds.attrs["seed"]) == 5
        assert float(ds.attrs["budget_scale"]) == 0.5
        assert list(ds["year"].values) == [2014, 2015, 2016]
    assert "target" in capsys.readouterr().out


def test_show_lists_parameters_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    """``povsim show --sources`` prints parameters with units and their sources."""
    assert main(["show", str(SCENARIOS / "baseline.yaml"), "--sources"]) == 0
    out = capsys.readouterr().out
    assert "population.scale = 10 " in out  # the default, 1:10
    assert "# " in out


BROKEN_SAMPLES = ["unknown_key_top.yaml", "not_utf8.yaml"]


@pytest.mark.parametrize("name", BROKEN_SAMPLES)
def test_broken_file_validate(name: str) -> None:
    """``povsim validate BROKEN`` exits 2 with one error line naming the file, no traceback."""
    path = BROKEN / name
    assert path.exists(), path
    assert_clean_error(povsim_cli("validate", path), name)


def test_broken_file_run(tmp_path: Path) -> None:
    """``povsim run BROKEN`` exits 2 without a traceback and writes nothing."""
    out = tmp_path / "x.nc"
    assert_clean_error(povsim_cli("run", BROKEN / "unknown_key_top.yaml", "-o", out, "-q"),
                       "budjet")
    assert not out.exists()


@pytest.mark.parametrize("name", sorted(p.name for p in BROKEN.glob("*.yaml")))
def test_every_broken_file_exits_2_in_process(name: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Every file of the broken corpus: exit status 2 and a ``povsim: error:`` message."""
    assert main(["validate", str(BROKEN / name)]) == 2
    assert "povsim: error:" in capsys.readouterr().err


def in_process(capsys: pytest.CaptureFixture[str], *args: str | Path
               ) -> subprocess.CompletedProcess[str]:
    """Call ``povsim.cli.main(ARGS)`` here and capture its result like a subprocess."""
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, out, err)


def test_missing_file_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A scenario path that does not exist: exit 2, no traceback."""
    assert_clean_error(in_process(capsys, "validate", "no/such/file.yaml"), "file.yaml")


def test_unknown_event_county_is_a_clean_error(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """A model-build error (an event in an unknown county) is reported without a traceback."""
    path = tmp_path / "bad_event.yaml"
    path.write_text(
        f"extends: {SCENARIOS / 'baseline.yaml'}\n"
        "shocks:\n  disasters:\n    events:\n"
        "      - {kind: flood, year: 2016, month: 7, counties: [不存在县]}\n",
        encoding="utf-8",
    )
    assert_clean_error(in_process(capsys, "run", path, "--scale", SMALL_SCALE,
                                  "-o", tmp_path / "o.nc", "-q"), "不存在县")
    assert not (tmp_path / "o.nc").exists()


def test_output_directory_missing_is_a_clean_error(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    """``--output`` into a missing directory: exit 2 before any simulation, no traceback."""
    assert_clean_error(in_process(capsys, "run", SCENARIOS / "baseline.yaml", "--scale",
                                  SMALL_SCALE, "-o", tmp_path / "nope" / "o.nc", "-q"),
                       "does not exist")


def test_bad_override_is_a_clean_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A ``--set`` override naming an unknown key: exit 2 with a message naming it."""
    assert_clean_error(in_process(capsys, "validate", SCENARIOS / "baseline.yaml",
                                  "--set", "budget.scael=2"), "scael")


# --------------------------------------------------------------------------------------------
# validate checks everything run needs (one shared check: population.data.check_inputs)
# --------------------------------------------------------------------------------------------


def _extending(tmp_path: Path, name: str, body: str) -> Path:
    path = tmp_path / name
    path.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\n{body}", encoding="utf-8")
    return path


EVENT_IN_UNKNOWN_COUNTY = (
    "shocks:\n  disasters:\n    events:\n"
    "      - {kind: flood, year: 2016, month: 7, counties: [九寨沟县, 不存在县]}\n"
)


def test_validate_refuses_an_unknown_event_county(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """Before the fix ``validate`` passed this file and only ``run`` failed."""
    path = _extending(tmp_path, "bad_event.yaml", EVENT_IN_UNKNOWN_COUNTY)
    proc = in_process(capsys, "validate", path)
    assert_clean_error(proc, f"{path}: shocks.disasters.events.0.counties.1: unknown county "
                             "'不存在县' (expected a county of calibration:counties.csv")


def test_run_gives_the_validate_message_before_simulating(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _extending(tmp_path, "bad_event.yaml", EVENT_IN_UNKNOWN_COUNTY)
    proc = in_process(capsys, "run", path, "--scale", SMALL_SCALE, "-o", tmp_path / "o.nc", "-q")
    assert_clean_error(proc, f"{path}: shocks.disasters.events.0.counties.1: unknown county")
    assert "households" not in proc.stderr  # the model was never built


def test_validate_refuses_a_missing_data_file(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = _extending(tmp_path, "nodata.yaml", "population:\n  counties_file: my_counties.csv\n")
    proc = in_process(capsys, "validate", path)
    assert_clean_error(proc, f"{path}: population.counties_file: cannot use the data file "
                             "'my_counties.csv'", "not found", str(tmp_path / "my_counties.csv"))


def test_validate_refuses_an_unreadable_data_file(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "regions.csv").write_text("series,region,value\nx,qinba,1\n", encoding="utf-8")
    path = _extending(tmp_path, "badcsv.yaml", "population:\n  regions_file: regions.csv\n")
    proc = in_process(capsys, "validate", path)
    assert_clean_error(proc, f"{path}: population.regions_file: cannot use the data file "
                             "'regions.csv'", "missing column(s) source")


def test_validate_refuses_a_data_file_missing_a_series(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "regions.csv").write_text(
        "series,region,year,value,unit,source,confidence\n"
        "registered_poor,qinba,2014,1,persons,x,high\n", encoding="utf-8")
    path = _extending(tmp_path, "short.yaml", "population:\n  regions_file: regions.csv\n")
    proc = in_process(capsys, "validate", path)
    assert_clean_error(proc, f"{path}: population.regions_file: the data file 'regions.csv' "
                             "has no 'registered_poor' row for wumeng")
