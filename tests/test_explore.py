"""``povsim explore``: the explorer's numbers (no user interface), its cache, its command, and
the page in a real browser.

The runs are tiny (1 household in 5000, 2 replicates) and share one cache directory: the page
in the browser test reads the runs the tests before it stored, so the browser test measures the
page, not the model. The browser test drives the system's Chromium like tests/test_report.py;
outside CI it skips, saying why, when the browser (or Solara) is missing, and under ``CI=true``
a missing browser or Solara is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from _support import SCENARIOS, console_errors, headless_chromium

import povsim
from povsim import cli
from povsim.errors import PovsimError, ScenarioError
from povsim.explore import (
    ExplorerSettings,
    RunCache,
    policy_overrides,
    policy_scenarios,
    run_explorer,
)
from povsim.rng import replicate_seed

SCALE = 5000  # 1 simulated household in 5000: the explorer's plumbing, not precision
REPLICATES = 2
SEED = 7  # the baseline file's seed


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("explore-cache")


def _settings(**kw: object) -> ExplorerSettings:
    return ExplorerSettings(scale=SCALE, replicates=REPLICATES, **kw)  # type: ignore[arg-type]


#: the comparison the tests run (and the page in the browser test asks for again): the baseline
#: against the baseline file with no money at all
POLICY = {"budget_scale": 0.0}


@pytest.fixture(scope="module")
def cache(cache_dir: Path) -> RunCache:
    return RunCache(cache_dir)


@pytest.fixture(scope="module")
def comparison(cache: RunCache) -> tuple[object, list[tuple[int, int, str]]]:
    seen: list[tuple[int, int, str]] = []
    res = run_explorer(_settings(**POLICY), cache=cache,
                       on_progress=lambda d, t, m: seen.append((d, t, m)))
    return res, seen


# ---------------------------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------------------------
def test_policy_overrides() -> None:
    assert policy_overrides(ExplorerSettings()) == {}
    s = ExplorerSettings(budget_scale=0.5, merge_year="never",
                         pathways={"relocation": False, "dibao": True})
    assert policy_overrides(s) == {"budget.scale": 0.5, "lines.merge.year": None,
                                   "pathways.dibao.enabled": True,
                                   "pathways.relocation.enabled": False}
    assert policy_overrides(ExplorerSettings(merge_year=2019)) == {"lines.merge.year": 2019}
    # frozen and hashable: the page compares settings
    assert hash(s) == hash(ExplorerSettings(budget_scale=0.5, merge_year="never",
                                            pathways={"dibao": True, "relocation": False}))
    with pytest.raises(TypeError):
        s.pathways["medical"] = False  # type: ignore[index]


@pytest.mark.parametrize(("kw", "fragment"), [
    ({"scale": 0}, "'scale' must be a positive integer"),
    ({"replicates": True}, "'replicates' must be a positive integer"),
    ({"budget_scale": "1.2"}, "'budget_scale' must be a number"),
    ({"merge_year": "soon"}, "'merge_year' must be a year, 'never' or 'file'"),
    ({"pathways": {"dibao": "off"}}, "'pathways': 'dibao' must be true or false"),
])
def test_settings_refuse_bad_values(kw: dict[str, object], fragment: str) -> None:
    with pytest.raises(PovsimError, match=fragment):
        ExplorerSettings(**kw)  # type: ignore[arg-type]


def test_bad_choices_are_povsim_errors(cache_dir: Path) -> None:
    with pytest.raises(PovsimError, match="no_such_policy: no such scenario file, and not a "
                                          "library name .*baseline"):
        run_explorer(_settings(policy="no_such_policy"), cache=RunCache(cache_dir))
    # the schema refuses the value, naming the file and the key (nothing is run)
    with pytest.raises(PovsimError, match=r"^baseline \(baseline.yaml\) with the explorer's "
                                          r"overrides: budget.scale: out of range"):
        run_explorer(_settings(budget_scale=-1.0), cache=RunCache(cache_dir))
    # a broken file: the loader's own message, naming the file and the key
    bad = cache_dir.parent / "bad.yaml"
    bad.write_text(f"extends: {SCENARIOS / 'baseline.yaml'}\nbudget:\n  scael: 1.0\n",
                   encoding="utf-8")
    with pytest.raises(ScenarioError, match="bad.yaml.*scael"):
        run_explorer(_settings(policy=str(bad)), cache=RunCache(cache_dir))


# ---------------------------------------------------------------------------------------------
# a comparison
# ---------------------------------------------------------------------------------------------
def test_policy_scenarios_apply_the_levers_to_the_policy_file() -> None:
    s = _settings(policy="budget_minus30", budget_scale=0.7, merge_year=2019,
                  pathways={"relocation": False, "dibao": True})
    base, base_dir, pol, pol_dir, changed = policy_scenarios(s)
    assert base.name == "baseline" and pol.name == "budget_minus30"
    assert Path(base_dir) == Path(pol_dir)  # both from the installed library
    expected = povsim.load_scenario(SCENARIOS / "budget_minus30.yaml", overrides={
        "lines.merge.year": 2019, "pathways.relocation.enabled": False,
        "population.scale": SCALE})
    assert pol.sha256() == expected.sha256()
    assert base.population.scale == SCALE and base.budget.scale == 1.0
    # what the page says the policy is: only the keys that change the file (its budget.scale
    # is already 0.7, dibao is already on)
    assert changed == {"lines.merge.year": 2019, "pathways.relocation.enabled": False}


def test_comparison_runs_the_policy_it_describes(comparison: tuple) -> None:
    res, seen = comparison
    assert res.computed == 2 * REPLICATES
    # the progress callback: from 0 to every run, never backwards
    assert seen[0][:2] == (0, 2 * REPLICATES) and seen[-1][:2] == (2 * REPLICATES,) * 2
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and set(range(2 * REPLICATES + 1)) <= set(done)
    assert res.overrides == {"budget.scale": 0.0}
    assert res.describe().startswith("policy: baseline with budget.scale = 0; baseline: "
                                      f"baseline; {REPLICATES} runs each at 1:{SCALE}, root "
                                      f"seed {SEED}")
    # the runs are those of the overridden file, with the ensemble's replicate seeds
    expected = povsim.load_scenario(SCENARIOS / "baseline.yaml", overrides={
        "budget.scale": 0.0, "population.scale": SCALE})
    assert str(res.runs["scenario_sha256"].sel(scenario="policy").values) == expected.sha256()
    assert list(res.runs["seed"].values) == [replicate_seed(SEED, r) for r in range(REPLICATES)]


def test_comparison_tables(comparison: tuple) -> None:
    res, _ = comparison
    table = res.table()
    assert list(table.columns) == ["baseline", "policy", "difference", "low", "high"]
    assert "All registered poor out" in table.index
    p = res.summary["p_held"]
    np.testing.assert_allclose(table["baseline"].values, p.sel(scenario="baseline").values)
    np.testing.assert_allclose(table["policy"].values, p.sel(scenario="policy").values)
    # every run finished: the paired mean difference is the difference of the means
    np.testing.assert_allclose(table["difference"].values,
                               (table["policy"] - table["baseline"]).values, atol=1e-12)
    out = res.outcomes()
    stock = res.runs["registered_poor"].sum("region").isel(year=-1).mean("replicate")
    np.testing.assert_allclose(out["baseline"].iloc[0], float(stock.sel(scenario="baseline")))
    np.testing.assert_allclose(out["difference"].iloc[0],
                               float(stock.sel(scenario="policy") - stock.sel(scenario="baseline")))
    # no money: more poor are left, nothing is spent
    assert out["policy"].iloc[0] > out["baseline"].iloc[0]
    assert out["policy"].iloc[1] == 0.0 < out["baseline"].iloc[1]
    html = res.table_html()
    assert html.startswith("<table class='povsim-targets'>")
    assert f"{out['policy'].iloc[0]:,.0f}" in html
    fig = res.figure()
    labels = [ln.get_label() for ln in fig.axes[0].get_lines()]
    assert "baseline: median" in labels and "policy: median" in labels


def test_cache_reuses_stored_runs(comparison: tuple, cache_dir: Path) -> None:
    res, _ = comparison
    fresh = RunCache(cache_dir)  # a new cache over the same directory: the stores on disk
    seen: list[tuple[int, int, str]] = []
    again = run_explorer(_settings(**POLICY), cache=fresh,
                         on_progress=lambda d, t, m: seen.append((d, t, m)))
    assert again.computed == 0 and fresh.computed == 0
    assert seen[-1][:2] == (2 * REPLICATES,) * 2
    np.testing.assert_array_equal(again.runs["registered_poor"].values,
                                  res.runs["registered_poor"].values)
    # the baseline against itself: one scenario, read from the cache
    same = run_explorer(_settings(), cache=fresh)
    assert same.computed == 0 and same.overrides == {}
    np.testing.assert_array_equal(same.runs["registered_poor"].sel(scenario="policy").values,
                                  res.runs["registered_poor"].sel(scenario="baseline").values)
    # the key covers seed and replicates: another seed is another entry
    scn = povsim.load_scenario(SCENARIOS / "baseline.yaml", overrides={"population.scale": SCALE})
    keys = {RunCache.key(scn, SEED, REPLICATES), RunCache.key(scn, SEED + 1, REPLICATES),
            RunCache.key(scn, SEED, REPLICATES + 1),
            RunCache.key(scn.with_overrides({"population.scale": SCALE + 1}), SEED, REPLICATES)}
    assert len(keys) == 4
    assert RunCache.key(scn, SEED, REPLICATES) in fresh


def test_explorer_component_in_a_kernel(comparison: tuple, cache: RunCache) -> None:
    """The Solara component as a notebook shows it (widgets in the kernel, no browser): its
    controls start at the policy file's values, and Run shows the target table."""
    _need_solara()
    import ipyvuetify as v
    import solara

    from povsim.explore import Explorer

    box, rc = solara.render(Explorer(scale=SCALE, replicates=REPLICATES, cache=cache,
                                     run_on_start=False), handle_error=False)
    try:
        switches = rc.find(v.Switch).widgets
        assert {s.label for s in switches} >= {"production", "relocation", "dibao", "medical"}
        assert all(s.v_model is True for s in switches)  # the baseline file: every pathway on
        slider = rc.find(v.Slider, label="budget.scale").widget
        assert slider.v_model == 1.0
        rc.find(v.Btn, children=["Run"]).widget.click()

        def table() -> str | None:
            for h in rc.find(solara.widgets.HTML).widgets:
                if "povsim-targets" in (h.unsafe_innerHTML or ""):
                    return str(h.unsafe_innerHTML)
            return None

        html = _wait(table, 60, "the target table in the kernel")
        assert "All registered poor out" in html
    finally:
        rc.close()


# ---------------------------------------------------------------------------------------------
# the command
# ---------------------------------------------------------------------------------------------
def test_explore_without_solara_says_what_to_install(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from povsim.explore import server

    monkeypatch.setattr(server, "_find", lambda name: None)
    assert cli.main(["explore", "--no-browser"]) == 2
    err = capsys.readouterr().err
    assert 'pip install "povsim[explore]"' in err and "Traceback" not in err


def test_explore_help_lists_the_options_and_imports_nothing_heavy() -> None:
    """``povsim explore --help`` (like ``povsim --help``, which lists it) imports neither Solara
    nor numpy: the command needs them only when it serves."""
    code = ("import sys\nfrom povsim import cli\ntry:\n    cli.main(['explore', '--help'])\n"
            "except SystemExit:\n    pass\nheavy = [m for m in ('solara', 'numpy', 'xarray', "
            "'matplotlib', 'pandas') if m in sys.modules]\nprint('HEAVY=' + ','.join(heavy))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=False)
    for opt in ("--port", "--host", "--no-browser", "--scale", "--replicates", "--cache"):
        assert opt in res.stdout, res.stderr
    assert "HEAVY=\n" in res.stdout, res.stdout[-300:]


# ---------------------------------------------------------------------------------------------
# the page in a real browser
# ---------------------------------------------------------------------------------------------
def _have_solara() -> bool:
    import importlib.util

    return (importlib.util.find_spec("solara") is not None
            and importlib.util.find_spec("solara_assets") is not None)


def _need_solara() -> None:
    if not _have_solara():
        why = 'Solara is not installed (pip install -e ".[test]" installs it)'
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true but the explorer's browser test cannot run: {why}")
        pytest.skip(f"explorer browser test skipped outside CI: {why}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, proc: subprocess.Popen, log: Path, seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if proc.poll() is not None:
            raise AssertionError(f"povsim explore exited with {proc.returncode}: "
                                 f"{log.read_text(encoding='utf-8')[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"povsim explore did not listen on port {port} in {seconds} s")


def _wait(fn, seconds: float, what: str):  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        value = fn()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {seconds} s waiting for {what}")


@pytest.fixture(scope="module", autouse=True)
def explorer_server(cache_dir: Path, tmp_path_factory: pytest.TempPathFactory
                    ) -> Iterator[tuple[int, subprocess.Popen, Path] | None]:
    """``povsim explore`` on a free port, serving the tests' cache directory.

    Started when the module starts (autouse): the server imports its page while the tests
    above run the model, so the browser test does not wait for it. ``None`` when Solara is not
    installed (the browser test then skips, or fails under CI).
    """
    if not _have_solara():
        yield None
        return
    port = _free_port()
    cmd = [sys.executable, "-c", "import sys; from povsim.cli import main; "
           "sys.exit(main(sys.argv[1:]))", "explore", "--port", str(port), "--no-browser",
           "--scale", str(SCALE), "--replicates", str(REPLICATES), "--cache", str(cache_dir)]
    log = tmp_path_factory.mktemp("explore-server") / "server.log"
    with open(log, "w", encoding="utf-8") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, text=True,
                                cwd=log.parent)
    try:
        yield port, proc, log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_explorer_in_headless_chromium(
        explorer_server: tuple[int, subprocess.Popen, Path] | None, tmp_path: Path,
        comparison: tuple) -> None:
    """Load the page, move budget.scale to 0, run, and see the target table change; nothing is
    logged as an error. A screenshot is kept (``POVSIM_EXPLORE_SCREENSHOT`` names the path).

    The page's runs are those of ``comparison`` (the same settings), read from the cache."""
    _need_solara()
    browser = headless_chromium(tmp_path, size="1400,1250")  # skips/fails first if no browser
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    assert explorer_server is not None  # Solara is there (_need_solara)
    port, proc, log = explorer_server
    try:
        _wait_for_port(port, proc, log, 60)
        browser.get(f"http://127.0.0.1:{port}/")

        def table() -> str | None:
            return browser.execute_script(
                "const t = document.querySelector('.povsim-targets'); "
                "return t ? t.innerText : null")

        first = _wait(table, 90, "the first target table")
        _wait(lambda: browser.title == "povsim explorer", 10, "the page title")
        assert "All registered poor out" in first
        slider = browser.find_element(By.CSS_SELECTOR, ".povsim-budget [role=slider]")
        assert slider.get_attribute("aria-valuenow") == "1"  # the baseline file's budget.scale
        browser.execute_script("arguments[0].focus()", slider)
        ActionChains(browser).send_keys(Keys.HOME).perform()  # the slider's minimum: no money
        _wait(lambda: slider.get_attribute("aria-valuenow") == "0", 10, "the slider to move")
        browser.find_element(By.CSS_SELECTOR, ".povsim-run").click()
        second = _wait(lambda: (t := table()) and t != first and t, 90, "the table to change")
        describe = browser.find_element(By.CSS_SELECTOR, ".povsim-describe").text
        assert describe.startswith("policy: baseline with budget.scale = 0;")
        rows = {line.split("\t")[0]: line.split("\t")[1:] for line in second.splitlines()}
        spent = rows["money spent, all years (yuan)"]
        assert spent[1] == "0.00 bn" and spent[0] != "0.00 bn"
        left = rows["registered poor at year end 2020 (persons)"]
        assert float(left[1].replace(",", "")) > float(left[0].replace(",", ""))
        # the same numbers as the comparison run by the tests above
        res, _ = comparison
        assert left[1] == f"{res.outcomes()['policy'].iloc[0]:,.0f}"
        # the fan chart is drawn (an image with a size)
        assert _wait(lambda: browser.execute_script(
            "const i = document.querySelector('.povsim-figure img'); "
            "return i && i.complete && i.naturalWidth > 0"), 30, "the fan chart")
        errors = console_errors(browser)
        assert not errors, errors
        shot = Path(os.environ.get("POVSIM_EXPLORE_SCREENSHOT", tmp_path / "explore.png"))
        assert browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000
    finally:
        browser.quit()
