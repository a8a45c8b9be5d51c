"""povsim.plotting and the ensemble figures: every figure renders to PNG (Agg) and shows what it
promises — targets, marks, bands, readable English labels with pinyin place names, no glyph a
font cannot draw, legends off the data, and nothing left open in pyplot (shown once in Jupyter).
"""

from __future__ import annotations

import csv
import io
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr
from _support import ROOT, SCENARIOS
from matplotlib.collections import PolyCollection
from matplotlib.image import AxesImage
from matplotlib.text import Text

from povsim import plotting as P
from povsim.errors import PovsimError
from povsim.plotting.common import source_kinds, swept_keys
from povsim.plotting.names import cjk_font, county_labels, font_covers

#: 1 simulated household in 5000 (~1,500 households): figures need shapes, not precision
FIG_SCALE = 5000
REGION_IDS = ("qinba", "wumeng", "liangshan_yi", "tibetan_plateau", "rest_of_province")


@pytest.fixture(scope="module")
def ens() -> xr.Dataset:
    """Two scenarios x 2 replicates with the counterfactual of one pathway (8 tiny runs)."""
    from povsim.ensembles import compare

    return compare([SCENARIOS / "baseline.yaml", SCENARIOS / "budget_minus30.yaml"],
                   replicates=2, scale=FIG_SCALE, workers=1, counterfactual=True,
                   pathways=["production"]).load()


@pytest.fixture(scope="module")
def sweep2() -> xr.Dataset:
    """A two-key factorial sweep, 2 x 2 points, one replicate each."""
    from povsim.ensembles import sweep

    return sweep(SCENARIOS / "baseline.yaml",
                 {"budget.scale": [0.6, 1.2], "lines.merge.year": [2017, 2019]},
                 replicates=1, scale=FIG_SCALE, workers=1).load()


def render(fig: Any) -> bytes:
    """Draw ``fig`` to PNG; fail on any missing-glyph warning."""
    buf = io.BytesIO()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fig.savefig(buf, format="png", dpi=60)
    glyphs = [str(w.message) for w in caught if "missing from" in str(w.message)
              or "Glyph" in str(w.message)]
    assert not glyphs, glyphs
    data = buf.getvalue()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return data


def texts(fig: Any) -> list[str]:
    return [t.get_text() for t in fig.findobj(Text) if t.get_text()]


def check_readable(fig: Any) -> None:
    """English labels: no region identifier; Chinese only where a font can draw it."""
    for s in texts(fig):
        for rid in REGION_IDS:
            assert rid not in s, f"identifier {rid!r} on a figure: {s!r}"
        if not s.isascii():
            han = "".join(ch for ch in s if ord(ch) >= 0x2E80)
            if han:
                assert cjk_font(han) is not None, f"Chinese without a CJK font: {s!r}"


def visible_axes(fig: Any) -> list[Any]:
    return [a for a in fig.axes if a.get_visible() and a.get_label() != "<colorbar>"]


def check_panels(fig: Any, n: int | None = None) -> None:
    axes = [a for a in visible_axes(fig) if a.get_title() or a.get_xlabel() or a.get_ylabel()]
    if n is not None:
        assert len(axes) >= n
    for a in axes:
        assert a.get_title() or a.get_xlabel(), "a panel without a title or axis label"


def legend_clear_of_data(fig: Any) -> None:
    """Every axes legend lies outside its axes (never on the bars)."""
    fig.canvas.draw()
    for a in visible_axes(fig):
        leg = a.get_legend()
        if leg is None:
            continue
        lb = leg.get_window_extent()
        ab = a.get_window_extent()
        overlap = lb.overlaps(ab) and lb.y1 > ab.y0 + 2
        assert not overlap, f"legend of {a.get_title()!r} covers the axes"


# ---------------------------------------------------------------------------------------------
FIGURES: dict[str, Callable[[xr.Dataset], Any]] = {
    "trajectory": P.plot_trajectory,
    "exits": P.plot_exits,
    "spending": P.plot_spending,
    "counties": P.plot_county_timeline,
    "hindcast": P.plot_hindcast,
}


@pytest.mark.parametrize("name", sorted(FIGURES))
@pytest.mark.parametrize("which", ["run", "ensemble"])
def test_every_figure_renders_readably(name: str, which: str, baseline_ds: xr.Dataset,
                                       ens: xr.Dataset) -> None:
    ds = baseline_ds if which == "run" else ens
    before = set(plt.get_fignums())
    fig = FIGURES[name](ds)
    assert set(plt.get_fignums()) == before, "the figure is left open in pyplot"
    render(fig)
    check_readable(fig)
    check_panels(fig, 1)
    legend_clear_of_data(fig)


def test_plot_run_counts_grants_not_credit(baseline_ds: xr.Dataset, tmp_path: Path) -> None:
    """The 'money spent' panel leaves micro-credit principal out (it included it before)."""
    fig = P.plot_run(baseline_ds, tmp_path / "run.png")
    assert (tmp_path / "run.png").stat().st_size > 10_000
    render(fig)
    check_readable(fig)
    ax = next(a for a in fig.axes if "Grants spent" in a.get_title())
    drawn = sum(p.get_height() for p in ax.patches)
    kinds = source_kinds(baseline_ds)
    credit = [s for s, k in kinds.items() if k == "credit"]
    assert credit, "the baseline has a micro-credit source"
    sp = baseline_ds["spending"].isel(year=slice(1, None))
    grants = float(sp.drop_sel(source=credit).sum()) / 1e9
    everything = float(sp.sum()) / 1e9
    assert drawn == pytest.approx(grants, rel=1e-9)
    assert everything - grants > 1.0  # billions of credit lent: the test can tell them apart
    # the villages/counties panel carries the target line and a held/not-held mark
    places = next(a for a in fig.axes if "villages and counties" in a.get_title())
    labels = [ln.get_label() for ln in places.get_lines()]
    assert any(lab.startswith("target: all by") for lab in labels)
    assert len([ln for ln in places.get_lines() if ln.get_marker() in ("o", "X")
                and len(ln.get_xdata()) == 1]) == 2
    legend_clear_of_data(fig)


def test_trajectory_fan_and_line(baseline_ds: xr.Dataset, ens: xr.Dataset) -> None:
    one = P.plot_trajectory(baseline_ds)
    ax = one.axes[0]
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)], \
        "a single run draws a line, not a band"
    labels = [ln.get_label() for ln in ax.get_lines()]
    assert any("target path" in s for s in labels)
    assert any("pace" in s for s in labels)
    # a held/not-held mark on each pace year and one at the target year
    marks = [ln for ln in ax.get_lines() if len(ln.get_xdata()) == 1 and ln.get_marker() in
             ("o", "X")]
    assert len(marks) == 5 + 1
    fan = P.plot_trajectory(ens)
    bands = [c for c in fan.axes[0].collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2 * 2  # two bands (5-95, 25-75) per scenario
    assert any("held in" in s for s in texts(fan))


def test_exits_against_targets(ens: xr.Dataset) -> None:
    fig = P.plot_exits(ens)
    assert len(visible_axes(fig)) == 3
    for ax in fig.axes:
        assert any("target" in ln.get_label() for ln in ax.get_lines()) or \
            any("target" in str(c.get_label()) for c in ax.collections)
    villages = fig.axes[1]
    goal = next(ln for ln in villages.get_lines() if ln.get_label().startswith("target"))
    assert goal.get_ydata()[0] == pytest.approx(min(11501, float(ens["poor_villages"]
                                                                  .isel(scenario=0, replicate=0)
                                                                  .sum())), rel=1e-6)
    legend_clear_of_data(fig)


def test_attribution_stacked_and_counterfactual(ens: xr.Dataset,
                                                baseline_ds: xr.Dataset) -> None:
    fig = P.plot_attribution(ens)
    render(fig)
    check_readable(fig)
    stacks = [a for a in fig.axes if "carried" in a.get_title()]
    assert len(stacks) == 2
    assert all(isinstance(c, PolyCollection) for c in stacks[0].collections)
    assert len(stacks[0].collections) >= 3
    cf = [a for a in fig.axes if a.get_title().startswith("Counterfactual")]
    assert len(cf) == 1 and len(cf[0].patches) == 2  # one pathway, two scenarios
    with pytest.raises(PovsimError, match="no attribution"):
        P.plot_attribution(baseline_ds.drop_vars(["exits_by_pathway", "exits_direct"],
                                                 errors="ignore"))


def test_comparison_panels_labelled_and_shown_once(ens: xr.Dataset, tmp_path: Path) -> None:
    """plot_comparison leaves no figure open in pyplot (Jupyter showed it twice), labels every
    panel, keeps legends off the bars, and draws the counterfactual when it is there."""
    from povsim.ensembles import plot_comparison

    plt.close("all")
    fig = plot_comparison(ens, tmp_path / "cmp.png")
    assert plt.get_fignums() == []
    render(fig)
    check_readable(fig)
    axes = visible_axes(fig)
    assert len(axes) == 6
    for a in axes:
        assert a.get_title(), "every panel has a title"
    titles = " | ".join(a.get_title() for a in axes)
    assert "Paired difference" in titles and "Counterfactual" in titles
    legend_clear_of_data(fig)


def test_two_key_sweep_is_a_heat_map_per_target(sweep2: xr.Dataset) -> None:
    from povsim.ensembles import frontier, plot_frontier, plot_sweep

    fig = plot_sweep(sweep2)
    render(fig)
    images = [im for a in fig.axes for im in a.get_images()]
    n_targets = sweep2.sizes["target"]
    assert len(images) == n_targets
    assert all(im.get_array().shape == (2, 2) for im in images)
    xlabels = {a.get_xlabel() for a in fig.axes if a.get_images()}
    assert xlabels == {"budget (x the scenario's money)"}
    fr = frontier(sweep2, key="budget.scale", n_boot=50)
    fig2 = plot_frontier(fr, sweep2)
    assert len([im for a in fig2.axes for im in a.get_images()]) == n_targets
    zigzag = [ln for a in fig2.axes for ln in a.get_lines() if len(ln.get_xdata()) > 2]
    assert not zigzag, "a two-key sweep must not be drawn as one line over all points"


def test_sweep_keys_as_identifiers(sweep2: xr.Dataset) -> None:
    """Swept coordinates renamed to identifiers (budget_scale) with the dotted key kept."""
    from povsim.ensembles import plot_sweep

    found = dict(swept_keys(sweep2))
    assert sorted(found.values()) == ["budget.scale", "lines.merge.year"]
    ident = sweep2.rename({c: k.replace(".", "_") for c, k in found.items()
                           if c != k.replace(".", "_")})
    for c, k in found.items():
        ident[k.replace(".", "_")].attrs["key"] = k
    dotted = sweep2.rename({c: k for c, k in found.items() if c != k})
    for c in found.values():
        dotted[c].attrs.pop("key", None)
    for form in (ident, dotted):
        assert [k for _, k in swept_keys(form)] == ["budget.scale", "lines.merge.year"]
        assert len([im for a in plot_sweep(form).axes for im in a.get_images()]) == \
            sweep2.sizes["target"]
    renamed = ident
    fig = plot_sweep(renamed)
    assert len([im for a in fig.axes for im in a.get_images()]) == sweep2.sizes["target"]


def test_county_timeline_88_counties_in_pinyin(baseline_ds: xr.Dataset) -> None:
    fig = P.plot_county_timeline(baseline_ds)
    render(fig)
    ax = fig.axes[0]
    ticks = [t.get_text() for t in ax.get_yticklabels()]
    assert len(ticks) == 88
    assert "Nanbu County" in " ".join(ticks) and "Zhaojue County" in " ".join(ticks)
    if cjk_font("南部县昭觉县") is None:
        assert all(t.isascii() for t in ticks)
    else:
        assert any("南部县" in t for t in ticks)
    im = next(c for c in ax.get_children() if isinstance(c, AxesImage))
    assert im.get_array().shape == (88, baseline_ds.sizes["year"] - 1)
    all_text = " ".join(texts(fig))
    for name in ("Qinba mountains", "Wumeng mountains", "Liangshan Yi area",
                 "Tibetan plateau"):
        assert name in all_text


def test_counties_csv_has_sourced_pinyin() -> None:
    with open(ROOT / "calibration" / "counties.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    poor = [r for r in rows if r["poor_county"] == "1"]
    assert len(poor) == 88
    names = [r["name_pinyin"] for r in poor]
    assert all(n and n.isascii() and n[0].isupper() for n in names)
    assert len(set(names)) == 88
    assert all(r["name_pinyin_source"].strip() for r in rows)
    by = {r["county"]: r["name_pinyin"] for r in rows}
    assert by["筠连县"] == "Junlian County"  # 筠 read jun in this place name
    assert by["北川羌族自治县"] == "Beichuan Qiang Autonomous County"
    assert county_labels(["理县"], chinese=False) == ["Li County"]


def test_fonts_cover_only_what_they_have() -> None:
    from matplotlib import font_manager

    dejavu = font_manager.findfont("DejaVu Sans")
    assert font_covers(dejavu, "Nanbu County")
    assert not font_covers(dejavu, "南部县")
    found = cjk_font("南部县")
    if found is not None:
        assert "last resort" not in found.lower()
        path = font_manager.findfont(found)
        assert font_covers(path, "南部县")


def test_hindcast_observations(ens: xr.Dataset) -> None:
    obs = P.read_observations()
    stock = obs[obs["variable"] == "registered_poor"]
    assert sorted(stock["year"]) == [2013, 2014, 2015, 2016]
    assert float(stock[stock["year"] == 2015]["value"].iloc[0]) == 3_800_000
    assert obs["source"].str.len().min() > 5
    fig = P.plot_hindcast(ens)
    ax = fig.axes[0]
    observed = next(ln for ln in ax.get_lines() if ln.get_marker() == "D")
    assert list(observed.get_xdata()) == [2013, 2014, 2015, 2016]
    assert [c for c in ax.collections if isinstance(c, PolyCollection)], "a band over runs"
    own = [{"variable": "registered_poor", "year": 2016, "value": 2.7e6, "source": "mine"}]
    fig = P.plot_hindcast(ens, own)
    assert len(visible_axes(fig)) == 1
    with pytest.raises(PovsimError, match="missing column"):
        P.plot_hindcast(ens, [{"variable": "registered_poor", "year": 2016}])


def test_region_labels_are_display_names(baseline_ds: xr.Dataset) -> None:
    fig = P.plot_run(baseline_ds)
    all_text = " ".join(texts(fig))
    assert "Liangshan Yi area" in all_text
    assert "liangshan_yi" not in all_text
    assert np.all([P.region_label(r) for r in REGION_IDS])


def test_comparison_shown_once_in_jupyter(ens: xr.Dataset, tmp_path: Path) -> None:
    """In a Jupyter kernel (inline backend), a cell returning plot_comparison(...) displays
    one image, not two (pyplot kept the figure open and the inline backend showed it again)."""
    import nbformat
    from nbclient import NotebookClient

    from povsim.results import write_dataset

    path = write_dataset(ens, tmp_path / "cmp.nc")
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(
        "import xarray as xr\n"
        "from povsim.ensembles import plot_comparison\n"
        f"ds = xr.open_dataset({str(path)!r}).load()\n"
        "plot_comparison(ds)")]
    NotebookClient(nb, timeout=120, kernel_name="python3").execute()
    outputs = nb.cells[0].outputs
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == 1, [o.get("output_type") for o in outputs]


@pytest.mark.slow  # 8 runs (one per pathway switched off); the default run tests the figure on
# a counterfactual ensemble of one pathway (test_comparison_panels_labelled_and_shown_once)
def test_compare_cli_counterfactual_figure_draws_it(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """`povsim compare --attribution counterfactual --figure` draws the counterfactual
    attribution too (it drew only the direct one)."""
    from povsim import cli
    from povsim.ensembles import plotting as ep

    drawn: list[Any] = []
    original = ep.plot_comparison

    def spy(ds: xr.Dataset, path: Any = None) -> Any:
        fig = original(ds, path)
        drawn.append(fig)
        return fig

    monkeypatch.setattr(ep, "plot_comparison", spy)
    fig_path = tmp_path / "cmp.png"
    rc = cli.main(["compare", str(SCENARIOS / "baseline.yaml"), "--replicates", "1",
                   "--scale", str(FIG_SCALE), "--workers", "1", "--attribution",
                   "counterfactual", "--output", str(tmp_path / "cmp.zarr"), "--figure",
                   str(fig_path), "-q"])
    assert rc == 0 and fig_path.stat().st_size > 10_000
    titles = [a.get_title() for a in drawn[0].axes if a.get_visible()]
    assert any(t.startswith("Counterfactual") for t in titles), titles
    assert any("direct accounting" in t for t in titles), titles
