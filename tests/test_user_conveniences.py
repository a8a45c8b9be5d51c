"""Small things users expect (issue 8, part 6): ``rerun``, provenance, ``show --yaml``, readable
reprs, the installed scenario library, ``export --csv``, and a quiet, quick command line."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import xarray as xr
from _support import ROOT, SCENARIO_FILES, SCENARIOS, SMALL_SCALE

import povsim
from povsim.cli import main
from povsim.provenance import VOLATILE_ATTRS
from povsim.scenario import Scenario, load_scenario

#: a short run: 1 in 2000 households, two simulated years
SHORT = ["--scale", str(SMALL_SCALE), "--set", "calendar.end_year=2016", "--quiet"]


@pytest.fixture(scope="module")
def short_nc(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Results of ``povsim run no_line_merge`` (a library name) at a small scale."""
    out = tmp_path_factory.mktemp("run") / "short.nc"
    assert main(["run", "no_line_merge", "--output", str(out), *SHORT]) == 0
    return out


# ------------------------------------------------------------------------------------------
# rerun
# ------------------------------------------------------------------------------------------
def test_rerun_reproduces_bit_for_bit(short_nc: Path, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: no ``rerun`` command. ``povsim rerun`` gives identical data variables."""
    new = tmp_path / "again.nc"
    assert main(["rerun", str(short_nc), "--output", str(new), "--quiet"]) == 0
    assert "identical to" in capsys.readouterr().out
    a, b = xr.load_dataset(short_nc), xr.load_dataset(new)
    assert set(a.data_vars) == set(b.data_vars)
    for name in a.data_vars:
        xr.testing.assert_identical(a[name], b[name])
    keep = [k for k in a.attrs if k not in VOLATILE_ATTRS]
    assert {k: a.attrs[k] for k in keep} == {k: b.attrs[k] for k in keep}


def test_rerun_default_output_and_python_api(short_nc: Path) -> None:
    """Without --output the rerun goes next to the results; the Python function reruns too."""
    from povsim.commands import rerun

    ds = xr.load_dataset(short_nc)
    again = rerun(ds)
    for name in ds.data_vars:
        xr.testing.assert_identical(ds[name], again[name])


def test_run_on_results_says_rerun(short_nc: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: ``povsim run results.nc`` said "not UTF-8 text"."""
    assert main(["run", str(short_nc)]) == 2
    err = capsys.readouterr().err
    assert f"povsim rerun {short_nc}" in err and "UTF-8" not in err
    assert main(["validate", str(short_nc)]) == 2
    assert "results file" in capsys.readouterr().err


def test_rerun_refuses_what_is_not_a_run(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    """A netCDF without a recorded run, or a scenario file, is one clear error (exit 2)."""
    other = tmp_path / "other.nc"
    xr.Dataset({"x": ("t", [1.0, 2.0])}).to_netcdf(other)
    assert main(["rerun", str(other)]) == 2
    assert "do not record a single run" in capsys.readouterr().err
    assert main(["rerun", str(SCENARIOS / "baseline.yaml")]) == 2
    assert "not a results file" in capsys.readouterr().err
    assert main(["rerun", str(tmp_path / "missing.nc")]) == 2
    assert "no such file" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# provenance
# ------------------------------------------------------------------------------------------
def test_provenance_versions_and_git(baseline_ds: xr.Dataset) -> None:
    """Old code: no versions, no git commit. Both are recorded (this tree is a checkout)."""
    versions = json.loads(baseline_ds.attrs["versions"])
    for name in ("povsim", "numpy", "scipy", "mesa", "xarray", "pydantic", "dask"):
        assert versions.get(name), name
    assert versions["povsim"] == povsim.__version__
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    if head.returncode != 0:
        pytest.skip("git is not available here")
    assert baseline_ds.attrs["git_commit"] == head.stdout.strip()
    assert baseline_ds.attrs["git_dirty"] in (0, 1)


def test_git_state_absent_outside_a_checkout(tmp_path: Path) -> None:
    """A package directory outside any checkout records no commit (and nothing fails)."""
    from povsim.provenance import git_state

    pkg = tmp_path / "site-packages" / "povsim"
    pkg.mkdir(parents=True)
    assert git_state.__wrapped__(str(pkg)) is None
    # inside another project's repository, povsim's files are not that project's
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=False, capture_output=True)
    assert git_state.__wrapped__(str(pkg)) is None


def test_written_results_record_time_and_command(baseline_ds: xr.Dataset, short_nc: Path,
                                                 tmp_path: Path) -> None:
    """Old code: neither. The CLI records its command line, Python calls say "python API"."""
    a = xr.load_dataset(short_nc).attrs
    assert a["command"].startswith("povsim run no_line_merge --output ")
    datetime.strptime(a["created_utc"], "%Y-%m-%dT%H:%M:%SZ")
    b = xr.load_dataset(povsim.write_dataset(baseline_ds, tmp_path / "api.nc")).attrs
    assert b["command"] == "python API"
    assert "created_utc" not in baseline_ds.attrs  # the in-memory results stay deterministic


# ------------------------------------------------------------------------------------------
# show
# ------------------------------------------------------------------------------------------
def test_show_yaml_round_trip(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: no --yaml. show --yaml > f.yaml; validate f.yaml; the same sha256."""
    args = ["no_line_merge", "--set", "budget.scale=0.7", "--set", "seed=11"]
    assert main(["show", "--yaml", *args]) == 0
    text = capsys.readouterr().out
    f = tmp_path / "f.yaml"
    f.write_text(text, encoding="utf-8")
    assert main(["validate", str(f)]) == 0
    expected = load_scenario("no_line_merge", overrides={"budget.scale": 0.7, "seed": 11})
    assert f"sha256 {expected.sha256()[:12]}" in capsys.readouterr().out
    assert load_scenario(f).sha256() == expected.sha256()


def test_show_lines_load_back(capsys: pytest.CaptureFixture[str]) -> None:
    """Old code printed Python reprs (``None``, tuples, quoted text with newlines). Every line
    of ``povsim show`` is now a ``--set`` override that loads back to the same scenario."""
    from povsim.scenario.loader import parse_override

    assert main(["show", "baseline"]) == 0
    lines = [ln for ln in capsys.readouterr().out.splitlines() if ln.strip()]
    assert len(lines) > 50
    overrides = dict(parse_override(ln) for ln in lines)
    assert "population.scale" in overrides and overrides["population.scale"] == 10
    scn = load_scenario("baseline")
    assert Scenario().with_overrides(overrides).sha256() == scn.sha256()


# ------------------------------------------------------------------------------------------
# repr
# ------------------------------------------------------------------------------------------
def test_scenario_repr_is_short_and_readable() -> None:
    """Old code: one line of thousands of characters."""
    scn = load_scenario("no_relocation")
    text = repr(scn)
    lines = text.splitlines()
    assert 5 <= len(lines) <= 15 and max(map(len, lines)) < 120
    assert lines[0] == "Scenario 'no_relocation'"
    for part in ("2015-2020", "1:10 ", "budget scale", "relocation", scn.sha256()[:12], "seed"):
        assert part in text, part
    assert re.search(r"pathways off\s+relocation", text)
    html = scn._repr_html_()
    assert "<table>" in html and "no_relocation" in html and scn.sha256()[:12] in html


def test_results_summary(baseline_ds: xr.Dataset) -> None:
    """Old code: no summary object. ``povsim.summarize`` shows targets and key figures."""
    s = povsim.summarize(baseline_ds)
    text = repr(s)
    assert "targets held:" in text and "registered poor at the end of 2020" in text
    assert str(s.seed) in text and s.sha256[:12] in text
    n_held = sum(r.held for r in povsim.evaluate_targets(baseline_ds))
    assert f"targets held: {n_held} of {len(s.targets)}" in text
    html = s._repr_html_()
    assert html.count("<tr>") == len(s.targets) + 1 + len(s.figures)
    assert "micro-credit" in html  # credit kept apart from the money spent


# ------------------------------------------------------------------------------------------
# the library
# ------------------------------------------------------------------------------------------
def test_scenarios_lists_the_library(capsys: pytest.CaptureFixture[str]) -> None:
    """Old code: no ``scenarios`` command."""
    assert main(["scenarios"]) == 0
    out = capsys.readouterr().out.splitlines()
    names = [ln.split()[0] for ln in out if ln.strip()]
    assert names[0] == "baseline"
    assert sorted(names) == sorted(p.stem for p in SCENARIO_FILES)
    assert any("dibao line is never raised" in ln for ln in out if ln.startswith("no_line_merge"))


def test_library_resolves_through_package_data(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """Old code: "file not found" for a library name. The name resolves to the package-data
    copy (povsim.scenarios_data) from any directory, and ``extends:`` works inside it."""
    import importlib.resources

    from povsim import library

    pkg = Path(str(importlib.resources.files("povsim.scenarios_data")))
    assert library.library_dir() == pkg
    assert sorted(p.name for p in pkg.glob("*.yaml")) == sorted(p.name for p in SCENARIO_FILES)
    monkeypatch.chdir(tmp_path)
    assert load_scenario("no_line_merge").sha256() == \
        load_scenario(SCENARIOS / "no_line_merge.yaml").sha256()
    # an installed copy elsewhere (as in site-packages): resolution and extends use it
    copy = tmp_path / "installed"
    shutil.copytree(pkg, copy)
    (copy / "baseline.yaml").write_text(
        (copy / "baseline.yaml").read_text(encoding="utf-8").replace("seed: 7", "seed: 8"),
        encoding="utf-8")
    monkeypatch.setattr(library, "library_dir", lambda: copy)
    assert library.resolve_scenario_path("merge_2019") == copy / "merge_2019.yaml"
    assert load_scenario("merge_2019").seed == 8  # extends: baseline.yaml next to it
    # a file that exists wins over the library name; an unknown name is still "not found"
    (tmp_path / "baseline").write_text("name: mine\n", encoding="utf-8")
    assert load_scenario("baseline").name == "mine"
    with pytest.raises(povsim.ScenarioError, match="nope"):
        load_scenario("nope")


# ------------------------------------------------------------------------------------------
# export
# ------------------------------------------------------------------------------------------
def test_export_csv_tables(short_nc: Path, tmp_path: Path) -> None:
    """Old code: no ``export``. One long table per set of dimensions, with units."""
    out = tmp_path / "tables"
    assert main(["export", str(short_nc), "--csv", str(out)]) == 0
    ds = xr.load_dataset(short_nc)
    files = {p.name for p in out.iterdir()}
    dimsets = {"_".join(ds[v].dims) or "scalars" for v in ds.data_vars}
    assert files == {f"{d}.csv" for d in dimsets} | {"attributes.csv"}
    t = pd.read_csv(out / "year_region.csv")
    assert list(t.columns) == ["variable", "year", "region", "value", "units"]
    row = t[(t.variable == "registered_poor") & (t.year == 2016) & (t.region == "qinba")]
    assert float(row.value.iloc[0]) == float(ds["registered_poor"].sel(year=2016,
                                                                        region="qinba"))
    assert set(row.units) == {"persons"}
    spend = pd.read_csv(out / "year_region_pathway_source.csv")
    assert len(spend) == ds["spending"].size
    attrs = pd.read_csv(out / "attributes.csv")
    assert "seed" in set(attrs.name)


def test_export_refuses_a_file_as_directory(short_nc: Path, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("x")
    assert main(["export", str(short_nc), "--csv", str(f)]) == 2
    assert "not a directory" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------
# a quiet, quick command line
# ------------------------------------------------------------------------------------------
_HEAVY_CHECK = """
import runpy, sys
sys.argv = ["povsim", *{args!r}]
try:
    runpy.run_module("povsim.cli", run_name="__main__")
except SystemExit:
    pass
heavy = sorted(m for m in ("numpy", "xarray", "mesa", "dask", "distributed", "scipy", "pandas",
                           "pydantic", "matplotlib") if m in sys.modules)
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
"""


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["run", "--help"],
                                  ["compare", "--help"]])
def test_version_and_help_import_nothing_heavy(args: list[str]) -> None:
    """Old code imported everything (~2 s). --version and --help import no numpy/xarray/
    mesa/dask (which is what keeps them well under 0.3 s)."""
    res = subprocess.run([sys.executable, "-c", _HEAVY_CHECK.format(args=args)],
                         capture_output=True, text=True, timeout=120, check=False)
    assert "povsim" in res.stdout, res.stderr
    assert re.search(r"^HEAVY=$", res.stderr, re.M), res.stderr


def test_import_povsim_is_light_and_complete() -> None:
    """``import povsim`` imports no numpy; the public names still resolve on first use."""
    code = ("import sys, povsim; assert 'numpy' not in sys.modules, 'numpy'; "
            "assert callable(povsim.run) and povsim.Scenario and povsim.compare; "
            "import povsim.ensembles as e; assert callable(e.compare); "
            "from povsim.ensembles.compare import compare as c; assert e.compare is c; "
            "assert set(povsim.__all__) <= set(dir(povsim)); print('ok')")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    assert res.stdout.strip() == "ok", res.stderr


def test_no_iprogress_warning_in_a_kernel_without_ipywidgets() -> None:
    """Old code: ``tqdm.auto`` warned "IProgress not found" in every notebook whose kernel has
    no ipywidgets. Now the plain bar is used there and nothing warns."""
    code = (
        "import sys, types, warnings\n"
        "sys.modules['ipykernel.zmqshell'] = types.ModuleType('ipykernel.zmqshell')\n"
        "sys.modules['ipywidgets'] = None  # not installed\n"
        "from tqdm.std import TqdmWarning\n"
        "warnings.simplefilter('error', TqdmWarning)\n"
        "import povsim\n"
        f"ds = povsim.run('baseline', scale={SMALL_SCALE * 2}, "
        "overrides={'calendar.end_year': 2016}, progress=False)\n"
        "from povsim.progress import tqdm_class\n"
        "import tqdm.std\n"
        "assert tqdm_class() is tqdm.std.tqdm\n"
        "print('ok')\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=False)
    assert res.stdout.strip() == "ok", res.stderr
    assert "IProgress" not in res.stderr


def test_readme_says_how_to_get_jupyter() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install -e ".[notebooks]"' in text

