"""``povsim report``: one self-contained HTML file, checked as text and in a real browser.

The browser test drives the system's Chromium with its driver (Debian packages ``chromium`` and
``chromium-driver``; ``scripts/test.sh`` installs them when it runs as root) through Selenium.
Outside CI it is skipped, saying why, when the browser is missing; under CI (``CI=true``) a
missing browser is a failure.
"""

from __future__ import annotations

import base64
import dataclasses
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from _support import SCENARIOS, console_errors, headless_chromium

from povsim import cli
from povsim.results import write_dataset

REPORT_SCALE = 5000  # 1 simulated household in 5000: a report needs shapes, not precision
#: a pilot fit in the format povsim calibrate writes (tests/data/calibration_pilot/README.md),
#: so that the tests do not depend on whether, or which, posterior povsim ships
PILOT = Path(__file__).resolve().parent / "data" / "calibration_pilot" / "posterior.csv"


@pytest.fixture(scope="module")
def scenario_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``povsim report baseline.yaml budget_minus30.yaml`` at a tiny scale, 2 runs each, with
    the pilot calibration fit."""
    out = tmp_path_factory.mktemp("report") / "report.html"
    rc = cli.main(["report", str(SCENARIOS / "baseline.yaml"),
                   str(SCENARIOS / "budget_minus30.yaml"), "--replicates", "2", "--scale",
                   str(REPORT_SCALE), "--workers", "1", "--output", str(out), "-q",
                   "--posterior", str(PILOT)])
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
    assert len(_images(text)) == 9  # 7 of the results, 2 of the calibration fit
    # parameters with their sources; the variant shows what differs
    assert "budget.scale" in text
    assert "seed (三)" in text  # a source from the schema's field metadata
    assert "parameters that differ from the reference" in text
    # provenance, and the calibration section (checked in test_report_calibration_fit)
    assert "scenario sha256" in text and "replicate seeds" in text
    assert "<li><a href='#calibration'>Calibration fit</a></li>" in text


def test_report_from_stored_run(baseline_ds: xr.Dataset, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    """From a results file; povsim ships no posterior here, and the section says so."""
    import povsim.calibration.fit as fit

    monkeypatch.setattr(fit, "shipped_posterior", lambda: None)
    nc = write_dataset(baseline_ds, tmp_path / "results.nc")
    out = tmp_path / "run.html"
    assert cli.main(["report", str(nc), "-o", str(out), "-q"]) == 0
    text = out.read_text(encoding="utf-8")
    check_self_contained(text)
    assert re.search(r"id='calibration'>Calibration fit</h2>\s*<p class='note'><b>No "
                     r"calibration fit\.</b> This povsim ships no posterior", text)
    assert "--posterior FILE" in text and 'id="calibration-fit"' not in text
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
# the calibration fit
# ---------------------------------------------------------------------------------------------
def _weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The weighted median as the calibration defines it: interpolated at cumulative weight
    0.5, each particle standing at the middle of its own weight."""
    order = np.argsort(values)
    v, w = values[order], weights[order] / weights.sum()
    mid = np.cumsum(w) - w / 2
    return float(np.interp(0.5, mid, v))


def _cells(text: str, name: str) -> list[str]:
    """The cells of the calibration table row of ``name`` (tags stripped)."""
    section = text[text.index("id='calibration'>"):text.index("id='parameters'>")]
    m = re.search(rf"<tr><td><code>{re.escape(name)}</code>.*?</tr>", section)
    assert m, f"no row for {name}"
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<td[^>]*>(.*?)</td>", m.group(0))]


def test_report_calibration_fit(scenario_report: Path) -> None:
    """Every target of the targets file has a row whose numbers are the pilot posterior's
    weighted medians (computed here from posterior.csv); the parameters likewise."""
    from povsim.calibration.fit import _shipped
    from povsim.calibration.targets import load_targets

    text = scenario_report.read_text(encoding="utf-8")
    table = pd.read_csv(PILOT)
    final = table[table["generation"] == table["generation"].max()]
    w = final["weight"].to_numpy(float)
    settings = text[text.index("id='calibration-settings'"):text.index("id='calibration-resid")]
    assert "<th>final epsilon (tolerance units)</th><td>33.25</td>" in settings
    assert "<th>generations</th><td>4</td>" in settings
    assert f"<td>{len(final)}</td>" in settings and "2026-12-01 20:50 UTC" in settings
    assert "residual / tolerance</i> is (posterior median &minus; observed) / tolerance" in text
    targets = load_targets(_shipped("targets.yaml"))
    for t in targets.targets:
        cells = _cells(text, t.name)
        if f"sim:{t.name}" not in table:
            assert "not in this posterior" in cells[1], t.name
            continue
        med = _weighted_median(final[f"sim:{t.name}"].to_numpy(float), w)
        z = (med - t.observed) / t.tolerance
        observed, tolerance, weight, median, _band, resid, source = cells[1:]
        assert float(observed.replace(",", "")) == pytest.approx(t.observed, rel=5e-3), t.name
        assert float(tolerance.replace(",", "")) == pytest.approx(t.tolerance, rel=5e-3)
        assert float(weight) == t.weight
        assert float(median.replace(",", "")) == pytest.approx(med, rel=5e-3, abs=1), t.name
        assert resid == f"{z:+.2f}", t.name
        assert source.startswith(t.source["file"])
        assert (" (check)" in cells[0]) == (t.weight == 0)
    # the fit figure and the parameters' medians with their priors
    assert '<figure id="calibration-fit">' in text and '<figure id="calibration-marginals">' in text
    for key in [c for c in table.columns if "." in c and not c.startswith("sim:")]:
        row = re.search(rf"<tr><td><code>{re.escape(key)}</code></td><td>([^<]*)</td><td "
                        rf"class='num'>([^<]*)</td>", text)
        assert row, key
        assert float(row.group(2)) == pytest.approx(
            _weighted_median(final[key].to_numpy(float), w), rel=1e-3), key
        assert row.group(1).split("(")[0] in ("uniform", "normal", "lognormal", "beta",
                                              "truncnorm"), key


def test_calibration_fit_against_other_targets(tmp_path: Path) -> None:
    """A posterior without a target's column, or with a column that is no longer a target,
    is shown with what it has: the missing row says so; no calibrated.yaml: date not recorded."""
    from povsim import report
    from povsim.calibration.fit import load_fit

    table = pd.read_csv(PILOT).drop(columns=["sim:villages_exited_2016"])
    table["sim:old_target"] = 1.0
    table.to_csv(tmp_path / "posterior.csv", index=False)
    fit = load_fit(tmp_path / "posterior.csv")
    assert fit is not None and fit.missing == ["villages_exited_2016"]
    assert fit.extra == ["old_target"] and fit.calibrated is None
    assert dict(fit.settings())["date"].startswith("not recorded")
    assert all(r["target"] != "villages_exited_2016" for r in fit.rows)
    # one panel and no marginals: the figures are not what this test is about
    body = report._calibration(dataclasses.replace(fit, rows=fit.rows[:1], priors=[]), None)
    assert re.search(r"<code>villages_exited_2016</code></td><td colspan='7'>not in this "
                     "posterior", body)
    assert "no longer targets: <code>old_target</code>" in body


def test_report_without_calibration(baseline_ds: xr.Dataset,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """``calibration=False`` (``--no-calibration``) leaves the section and its link out and
    reads no posterior; the figures are stubbed out, they do not depend on it."""
    from povsim import report

    monkeypatch.setattr(report, "_figures", lambda ds, log: [])
    text = report.render_html(baseline_ds, ["x.nc"], calibration=False,
                              posterior="/no/such/posterior.csv")
    assert "id='calibration'" not in text and "#calibration" not in text
    assert "id='targets'" in text and "id='provenance'" in text
    args = cli._parser().parse_args(["report", "a.yaml", "--no-calibration"])
    assert args.no_calibration and args.posterior is None


def test_report_bad_posterior(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A missing, unreadable or malformed --posterior is one error naming the file and what a
    posterior is, before anything runs."""
    garbage = tmp_path / "garbage.csv"
    garbage.write_text("a,b\n1,2\n", encoding="utf-8")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe" * 20)
    words = tmp_path / "words.csv"
    table = pd.read_csv(PILOT)
    table["weight"] = table["weight"].astype(object)
    table.loc[3, "weight"] = "heavy"
    table.to_csv(words, index=False)
    nosim = tmp_path / "nosim.csv"
    pd.read_csv(PILOT)[["generation", "particle", "weight", "distance", "epsilon"]].to_csv(
        nosim, index=False)
    cases = {tmp_path / "missing.csv": "no such posterior file",
             garbage: "not a posterior table (missing columns generation",
             binary: "cannot read the posterior table",
             words: "column 'weight' holds 'heavy', not a number",
             nosim: "no sim:<target> column"}
    for path, what in cases.items():
        rc = cli.main(["report", str(SCENARIOS / "baseline.yaml"), "--posterior", str(path),
                       "-o", str(tmp_path / "r.html"), "-q"])
        err = capsys.readouterr().err
        assert rc == 2, path
        assert str(path) in err and what in err, err
        assert "expected the posterior.csv written by povsim calibrate" in err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "r.html").exists()


def test_shipped_posterior_is_the_calibration_folders() -> None:
    from povsim.calibration.fit import shipped_posterior

    repo = Path(__file__).resolve().parents[1] / "calibration" / "posterior.csv"
    assert shipped_posterior() == (repo if repo.is_file() else None)


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
        assert len(images) == 9
        for alt, complete, width in images:
            assert complete and width > 0, f"image {alt!r} did not load"
        errors = console_errors(browser)
        assert not errors, errors
        shot = Path(os.environ.get("POVSIM_SCREENSHOT", scenario_report.with_suffix(".png")))
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
        # the calibration section is there, with its table and its two figures loaded
        text = browser.find_element("id", "calibration").find_element(
            "xpath", "following-sibling::p").text
        assert text.startswith("The fit of 12 free parameters")
        fig = browser.find_element("css selector", "#calibration-fit img")
        assert browser.execute_script("return arguments[0].naturalWidth", fig) > 0
    finally:
        browser.quit()
