"""``povsim report``: one self-contained HTML file, checked as text and in a real browser.

The browser test drives the system's Chromium with its driver (Debian packages ``chromium`` and
``chromium-driver``; ``scripts/test.sh`` installs them when it runs as root) through Selenium.
Outside CI it is skipped, saying why, when the browser is missing; under CI (``CI=true``) a
missing browser is a failure.
"""

from __future__ import annotations

import base64
import os
import re
from pathlib import Path

import pytest
import xarray as xr
from _support import SCENARIOS, console_errors, headless_chromium

from povsim import cli
from povsim.results import write_dataset

REPORT_SCALE = 5000  # 1 simulated household in 5000: a report needs shapes, not precision


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``povsim report baseline.yaml budget_minus30.yaml`` at a tiny scale, 2 runs each."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    rc = cli.main(["report", str(SCENARIOS / "baseline.yaml"),
                   str(SCENARIOS / "budget_minus30.yaml"), "--replicates", "2", "--scale",
                   str(REPORT_SCALE), "--workers", "1", "--output", str(out), "-q"])
    assert rc == 0
    return out


def _images(text: str) -> list[str]:
    return re.findall(r"<img\b[^>]*>", text)


def check_self_contained(text: str) -> None:
    """No resource outside the file: no link/script elements, every src an embedded PNG."""
    assert "<link" not in text.lower()
    assert "<script" not in text.lower()
    assert "@import" not in text and "url(" not in text
    srcs = re.findall(r"""\bsrc\s*=\s*["']([^"']*)["']""", text)
    assert srcs, "the report has figures"
    for src in srcs:
        assert src.startswith("data:image/png;base64,"), src[:60]
        png = base64.b64decode(src.split(",", 1)[1])
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(png) > 5_000


def test_report_from_scenarios(scenario_report: Path) -> None:
    text = scenario_report.read_text(encoding="utf-8")
    check_self_contained(text)
    # the target table, both scenarios, P(holds) with intervals, the paired differences
    assert "all registered poor out of poverty by 2020" in text
    assert "<h3>baseline" in text and "<h3>budget_minus30" in text
    assert "90% interval" in text and "minus the first scenario" in text
    # the figures that apply to a comparison
    for anchor in ("trajectory", "exits", "attribution", "spending", "comparison",
                   "counties", "hindcast"):
        assert f'<figure id="{anchor}">' in text, anchor
    assert len(_images(text)) == 7
    # parameters with their sources; the variant shows what differs
    assert "budget.scale" in text
    assert "seed (三)" in text  # a source from the schema's field metadata
    assert "parameters that differ from the reference" in text
    # provenance and the calibration section that says plainly there is no fit yet
    assert "scenario sha256" in text and "replicate seeds" in text
    assert re.search(r"id='calibration'>Calibration fit</h2>\s*<p class='note'><b>Not "
                     r"available yet\.</b>", text)


def test_report_from_stored_run(baseline_ds: xr.Dataset, tmp_path: Path) -> None:
    nc = write_dataset(baseline_ds, tmp_path / "results.nc")
    out = tmp_path / "run.html"
    assert cli.main(["report", str(nc), "-o", str(out), "-q"]) == 0
    text = out.read_text(encoding="utf-8")
    check_self_contained(text)
    assert '<figure id="trajectory">' in text and '<figure id="comparison">' not in text
    assert "<th>held</th>" in text  # one run: held yes/no, not probabilities
    assert "povsim_version" in text and str(baseline_ds.attrs["scenario_sha256"]) in text


def test_report_bad_inputs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    fake = tmp_path / "results.nc"
    fake.write_text("not a netCDF file\n", encoding="utf-8")
    assert cli.main(["report", str(fake), "-o", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err
    assert "results.nc: not a povsim results file" in err and "Traceback" not in err
    assert cli.main(["report", str(tmp_path / "missing.nc")]) == 2
    assert "no such results file" in capsys.readouterr().err
    assert cli.main(["report", str(SCENARIOS / "baseline.yaml"), str(fake)]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["report", str(SCENARIOS / "baseline.yaml"), "-o",
                     str(tmp_path / "no" / "dir" / "r.html")]) == 2
    assert "--output: directory" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------
# in a real browser
# ---------------------------------------------------------------------------------------------
def test_report_in_headless_chromium(scenario_report: Path, tmp_path: Path) -> None:
    """Every image of the report loads and nothing is logged as an error; a screenshot is
    kept next to the report (``POVSIM_SCREENSHOT`` names another path)."""
    browser = headless_chromium(tmp_path)
    try:
        browser.get(scenario_report.resolve().as_uri())
        assert browser.title.startswith("povsim report")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth])")
        assert len(images) == 7
        for alt, complete, width in images:
            assert complete and width > 0, f"image {alt!r} did not load"
        errors = console_errors(browser)
        assert not errors, errors
        shot = Path(os.environ.get("POVSIM_SCREENSHOT", scenario_report.with_suffix(".png")))
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        # the calibration section is there, and says what it says
        text = browser.find_element("id", "calibration").find_element(
            "xpath", "following-sibling::p").text
        assert text.startswith("Not available yet.")
    finally:
        browser.quit()
