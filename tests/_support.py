"""Shared helpers of the engine tests: small scenarios, cached runs and invariant checks.

Imported by the test modules (``from _support import ...``); pytest puts ``tests/`` on the path.
"""

from __future__ import annotations

import itertools
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from hypothesis import HealthCheck, settings

import povsim
from povsim.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
SCENARIO_FILES = sorted(SCENARIOS.glob("*.yaml"))
BROKEN = ROOT / "tests" / "broken_scenarios"

#: 1 simulated household for 2000 real ones: about 3,800 households, well under a second a run
SMALL_SCALE = 2000
#: the registered-poor stock at the end of 2014 (seed (一))
START_STOCK = 4_976_500
#: seeds used where a comparison is averaged over a few replicates (common random numbers)
POLICY_SEEDS = (1, 2, 3)

#: hypothesis settings for tests that run the model: few examples, no deadline, no database in
#: the work tree; derandomized so CI is reproducible (set POVSIM_TEST_RANDOM=1 to explore)
MODEL_SETTINGS = settings(
    max_examples=10,
    deadline=None,
    database=None,
    derandomize=os.environ.get("POVSIM_TEST_RANDOM") is None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    print_blob=True,
)

#: variables every results Dataset must carry (issue: required outputs)
REQUIRED_VARIABLES = (
    "registered_poor",
    "exited",
    "returned",
    "new_poor",
    "incidence",
    "mean_income",
    "spending",
    "households_served",
    "households_waiting",
    "villages_exited",
    "counties_exited",
    "disaster_households_hit",
    "illness_stays",
)
REQUIRED_ATTRS = ("seed", "scenario_sha256", "povsim_version", "n_households", "n_steps", "scale")
FIVE_PATHWAYS = ("production", "relocation", "dibao", "medical", "reconstruction")
FLOWS = ("exited", "returned", "new_poor")


@lru_cache(maxsize=1)
def baseline_small() -> Scenario:
    """The baseline scenario file at the small test scale."""
    return load_scenario(SCENARIOS / "baseline.yaml", overrides={"population.scale": SMALL_SCALE})


def small(overrides: dict[str, Any] | None = None) -> Scenario:
    """The small baseline with dotted-key overrides."""
    base = baseline_small()
    return base.with_overrides(overrides) if overrides else base


def _key(overrides: dict[str, Any] | None) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted((overrides or {}).items()))


@lru_cache(maxsize=64)
def _cached_run(key: tuple[tuple[str, Any], ...], seed: int | None) -> xr.Dataset:
    return povsim.run(small(dict(key)), seed=seed)


def run_small(overrides: dict[str, Any] | None = None, seed: int | None = None) -> xr.Dataset:
    """Run the small baseline with ``overrides`` (cached per session; do not modify the result)."""
    return _cached_run(_key(overrides), seed)


def simulated(da: xr.DataArray) -> xr.DataArray:
    """``da`` without the base year (the starting stock, where flows are NaN)."""
    return da.isel(year=slice(1, None))


# --------------------------------------------------------------------------------------------
# invariant checks (raise AssertionError with a precise message)
# --------------------------------------------------------------------------------------------


def check_stock_flow(ds: xr.Dataset) -> None:
    """registered(t) = registered(t-1) - exited + returned + new_poor, per region and county."""
    for prefix, dim in (("", "region"), ("county_", "county")):
        stock = ds[f"{prefix}registered_poor"]
        assert not stock.isnull().any(), f"{prefix}registered_poor has NaN"
        for flow in FLOWS:
            base = ds[f"{prefix}{flow}"].isel(year=0)
            assert bool(base.isnull().all()), f"{prefix}{flow} must be NaN in the base year"
            rest = simulated(ds[f"{prefix}{flow}"])
            assert not bool(rest.isnull().any()), f"{prefix}{flow} has NaN in a simulated year"
            assert float(rest.min()) >= 0, f"{prefix}{flow} is negative"
        expected = (
            stock.shift(year=1)
            - ds[f"{prefix}exited"]
            + ds[f"{prefix}returned"]
            + ds[f"{prefix}new_poor"]
        )
        diff = simulated(stock - expected)
        bad = np.argwhere(np.abs(diff.values) > 1e-6)
        assert bad.size == 0, (
            f"stock-flow identity broken by {prefix or 'region '}: first at "
            f"year={int(diff.year[bad[0][0]])}, {dim}={diff[dim].values[bad[0][1]]}, "
            f"off by {float(diff.values[tuple(bad[0])]):g} persons"
        )


def check_region_county_consistent(ds: xr.Dataset) -> None:
    """Per-county stocks and flows add up to the per-region ones."""
    for name in ("registered_poor", *FLOWS):
        by_county = simulated(ds[f"county_{name}"]).groupby(ds["county_region"]).sum()
        by_county = by_county.rename(county_region="region").reindex(region=ds["region"],
                                                                     fill_value=0.0)
        np.testing.assert_allclose(by_county.values, simulated(ds[name]).values, rtol=0,
                                   atol=1e-6, err_msg=name)


def check_budget(ds: xr.Dataset, scenario: Scenario) -> None:
    """Spending never exceeds the money available, per year and source (and per region)."""
    from povsim.budget import source_amounts

    spend = simulated(ds["spending"])
    avail = simulated(ds["available"])
    alloc = simulated(ds["allocated"])
    assert not bool(spend.isnull().any()), "spending has NaN in a simulated year"
    assert float(spend.min()) >= -1e-6, "negative spending"
    assert bool(ds["spending"].isel(year=0).isnull().all()), "base-year spending must be NaN"
    tol = 1e-3  # yuan; the ledger itself allows 1e-3
    per_region = spend.sum("pathway") - avail
    assert float(per_region.max()) <= tol, (
        f"spending exceeds the money available in a region by {float(per_region.max()):g} yuan"
    )
    total = spend.sum(["pathway", "region"]) - avail.sum("region")
    assert float(total.max()) <= tol, (
        f"spending exceeds the money available province-wide by {float(total.max()):g} yuan"
    )
    # new money is the scenario's source amounts times budget.scale, split across regions
    for year in alloc["year"].values:
        amounts = source_amounts(scenario, int(year))
        np.testing.assert_allclose(alloc.sel(year=year).sum("region").values, amounts,
                                   rtol=1e-9, atol=1e-3, err_msg=f"allocated in {year}")
    # money available = new money + what was left unspent last year (or new money only)
    years = alloc["year"].values
    for prev, year in itertools.pairwise(years):
        left = avail.sel(year=prev) - spend.sel(year=prev).sum("pathway")
        carry = left if scenario.budget.carry_over else 0.0 * left
        np.testing.assert_allclose(
            avail.sel(year=year).values, (alloc.sel(year=year) + carry).values,
            rtol=1e-9, atol=1e-2, err_msg=f"available in {year} != allocated + carry-over",
        )


def check_people(ds: xr.Dataset) -> None:
    """The rural population is constant and the register never exceeds it."""
    pop = ds["rural_population"]
    np.testing.assert_array_equal(pop.values, np.broadcast_to(pop.isel(year=0).values,
                                                              pop.shape))
    assert bool((ds["registered_poor"] <= pop + 1e-6).all())
    inc = ds["incidence"]
    assert bool(((inc >= 0) & (inc <= 1)).all())


# --------------------------------------------------------------------------------------------
# a real browser (the report's and the explorer's tests)
# --------------------------------------------------------------------------------------------
#: where the system packages put Chromium and its driver (Debian: chromium, chromium-driver)
CHROMIUM = ("/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome")
DRIVER = ("/usr/bin/chromedriver",)


def find_browser() -> tuple[str, str] | None:
    """``(chromium, chromedriver)`` paths, or ``None`` when either is missing."""
    import shutil

    chrome = next((p for p in CHROMIUM if Path(p).exists()), None) or shutil.which("chromium")
    driver = next((p for p in DRIVER if Path(p).exists()), None) or shutil.which("chromedriver")
    if chrome and driver:
        return chrome, driver
    return None


def need_browser() -> tuple[str, str]:
    """The browser for a test; skips outside CI (saying why) and fails under ``CI=true``."""
    import importlib.util

    import pytest

    found = find_browser()
    if importlib.util.find_spec("selenium") is None:
        found = None
        why = "selenium is not installed (pip install -e '.[test]')"
    else:
        why = ("no Chromium and chromedriver (apt-get install chromium chromium-driver; "
               "scripts/test.sh does it when run as root)")
    if found is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the browser test cannot run: {why}")
        pytest.skip(f"browser test skipped outside CI: {why}")
    return found


def headless_chromium(tmp_path: Path, size: str = "1280,1800") -> Any:
    """A headless Chromium driven by Selenium, logging the console (``get_log("browser")``);
    quit it when done."""
    import tempfile

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chrome, driver = need_browser()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chrome
    profile = tempfile.mkdtemp(prefix="povsim-chromium-", dir=tmp_path)
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
                f"--window-size={size}"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver), options=opts)


def console_errors(browser: Any) -> list[dict[str, Any]]:
    """The entries the page logged as errors (level SEVERE or ERROR)."""
    return [e for e in browser.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]
