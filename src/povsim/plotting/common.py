"""Shared pieces of the figures: creating and saving figures, reading runs out of a Dataset.

A figure is created through :mod:`matplotlib.pyplot` (so that Jupyter knows how to display it)
and immediately released from pyplot's list of open figures: it is shown once, when a notebook
cell returns it, never a second time by the inline backend, and a script that draws many figures
does not accumulate them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError

from .names import cjk_font

__all__ = [
    "ensemble_dim",
    "experiments",
    "new_figure",
    "save",
    "scenario_of",
    "source_kinds",
    "stock",
]

#: colours of held / partly held / not held marks (colour-blind-safe blue/orange/vermillion of
#: the Okabe-Ito palette; assumption: readable in print and on screen)
HELD = "#009E73"
PARTLY = "#E69F00"
MISSED = "#D55E00"
#: colours of the experiments of an ensemble: Okabe-Ito blue, reddish purple, sky blue, black,
#: grey, brown (assumption: kept apart from the held/not-held green, orange and vermillion)
SCENARIO_COLORS = ("#0072B2", "#CC79A7", "#56B4E9", "#000000", "#999999", "#8C564B")


def exp_color(i: int) -> str:
    """Colour of the ``i``-th experiment."""
    return SCENARIO_COLORS[i % len(SCENARIO_COLORS)]


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1,
               **kwargs: Any) -> tuple[Any, np.ndarray]:
    """A figure with a grid of axes (always a 2-D array), not kept open by pyplot."""
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(width, height), layout="constrained")
    plt.close(fig)
    axes = fig.subplots(nrows, ncols, squeeze=False, **kwargs)
    return fig, axes


def _fonts(fig: Any) -> None:
    """Give every text that holds non-ASCII characters a font that has them (if any does)."""
    import matplotlib
    from matplotlib.text import Text

    base = list(matplotlib.rcParams["font.sans-serif"][:1]) or ["DejaVu Sans"]
    for t in fig.findobj(Text):
        s = t.get_text()
        if not s or s.isascii():
            continue
        han = "".join(ch for ch in s if not ch.isascii() and ch not in "−–—×±≥≤·…’✓✗")
        if not han:
            continue
        cjk = cjk_font(han)
        if cjk is not None:
            t.set_fontfamily(base + [cjk])


def save(fig: Any, path: str | Path | None) -> Any:
    """Save ``fig`` to ``path`` (PNG, PDF or SVG by extension) if given, and return it."""
    _fonts(fig)
    if path is not None:
        path = Path(path)
        if not path.parent.exists():
            raise PovsimError(f"--figure: directory {path.parent} does not exist")
        fig.savefig(path, dpi=150, bbox_inches="tight")
    return fig



def ensemble_dim(ds: xr.Dataset) -> str | None:
    """The experiment dimension (``scenario``/``experiment``) of an ensemble, or ``None``."""
    dim = ds.attrs.get("dim")
    if dim in ds.dims:
        return str(dim)
    for d in ("scenario", "experiment"):
        if d in ds.dims:
            return d
    return None


def experiments(ds: xr.Dataset, scenario: str | None = None) -> list[tuple[str, xr.Dataset]]:
    """``(label, runs)`` for each experiment; ``runs`` has a ``replicate`` dimension.

    A single run (from :func:`povsim.run`) is one experiment of one replicate. Runs not yet in
    an ensemble store (``done == 0``) are left out.

    Parameters
    ----------
    ds
        A run, a Dataset of replicates, or an ensemble (``scenario``/``experiment`` dimension).
    scenario
        Keep only this experiment label.
    """
    dim = ensemble_dim(ds)
    if dim is None:
        one = ds if "replicate" in ds.dims else ds.expand_dims(replicate=[0])
        label = str(ds.attrs.get("scenario_name", "run"))
        return [(label, _done(one))]
    all_labels = [str(x) for x in ds[dim].values]
    labels = all_labels
    if scenario is not None:
        if str(scenario) not in all_labels:
            raise PovsimError(f"scenario {scenario!r} is not in this ensemble "
                              f"(it has: {', '.join(all_labels)})")
        labels = [str(scenario)]
    out = []
    for lab in labels:
        out.append((lab, _done(ds.isel({dim: all_labels.index(lab)}))))
    return out


def _done(sub: xr.Dataset) -> xr.Dataset:
    if "done" in sub and "replicate" in sub["done"].dims:
        keep = np.flatnonzero(np.asarray(sub["done"].values) == 1)
        sub = sub.isel(replicate=keep)
    return sub


def scenario_of(ds: xr.Dataset) -> Any:
    """The :class:`~povsim.scenario.Scenario` of a run or of one experiment (``None`` if unknown)."""
    from povsim.scenario import Scenario

    text = None
    if "scenario_json" in ds.coords or "scenario_json" in ds:
        vals = np.asarray(ds["scenario_json"].values).ravel()
        text = str(vals[0]) if vals.size else None
    text = text or ds.attrs.get("scenario_json") or ds.attrs.get("base_scenario")
    if not text:
        return None
    try:
        return Scenario.model_validate_json(text)
    except Exception:  # noqa: BLE001 - an older or foreign scenario: figures use defaults
        return None


def targets_of(ds: xr.Dataset) -> Any:
    """The scenario's targets (schema defaults when the scenario is not recorded)."""
    scn = scenario_of(ds)
    if scn is not None:
        return scn.targets
    from povsim.scenario.schema import Targets

    return Targets()


def source_kinds(ds: xr.Dataset) -> dict[str, str]:
    """``{source: "grant" | "credit"}`` from a ``source_kind`` coordinate or the scenario."""
    if "source_kind" in ds.coords or "source_kind" in ds:
        return {str(s): str(k) for s, k in zip(ds["source"].values, ds["source_kind"].values)}
    text = None
    if "scenario_json" in ds.coords or "scenario_json" in ds:
        vals = np.asarray(ds["scenario_json"].values).ravel()
        text = str(vals[0]) if vals.size else None
    text = text or ds.attrs.get("scenario_json") or ds.attrs.get("base_scenario")
    kinds: dict[str, str] = {}
    if text:
        try:
            sources = json.loads(text).get("budget", {}).get("sources", {})
            kinds = {str(k): str(v.get("kind", "grant")) for k, v in sources.items()}
        except (ValueError, AttributeError):
            kinds = {}
    # assumption: a source the scenario does not describe is a grant, except micro-credit
    return {str(s): kinds.get(str(s), "credit" if "credit" in str(s) else "grant")
            for s in ds["source"].values}


def stock(runs: xr.Dataset) -> xr.DataArray:
    """Registered poor, all regions (persons; dims replicate, year)."""
    return runs["registered_poor"].sum("region", min_count=1)


def band(x: xr.DataArray, q: tuple[float, ...] = (0.05, 0.25, 0.5, 0.75, 0.95)
         ) -> dict[float, np.ndarray]:
    """Quantiles over replicates (NaN-aware) of a (replicate, year) array."""
    v = np.asarray(x.transpose("replicate", ...).values, dtype=float)
    out = {}
    for qq in q:
        with np.errstate(all="ignore"):
            out[qq] = (np.nanquantile(v, qq, axis=0) if np.isfinite(v).any()
                       else np.full(v.shape[1:], np.nan))
    return out


def panel_letter(ax: Any, letter: str) -> None:
    """Mark a panel ``a``, ``b``, ... in its top-left corner, outside the data."""
    ax.text(-0.02, 1.02, letter, transform=ax.transAxes, fontsize=12, fontweight="bold",
            ha="right", va="bottom")


def legend_below(ax: Any, ncol: int = 3, **kwargs: Any) -> Any:
    """A legend under the axes, so that it never hides data."""
    handles, labels = ax.get_legend_handles_labels()
    if not handles:
        return None
    return ax.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, -0.14),
                     ncol=ncol, fontsize=8, frameon=False, **kwargs)


def millions(v: Any) -> Any:
    return np.asarray(v, dtype=float) / 1e6


def swept_keys(ds: xr.Dataset) -> list[tuple[str, str]]:
    """``(coordinate, dotted key)`` of every swept key of a sweep Dataset.

    Accepts the dotted coordinate names of today (``budget.scale``) and identifiers such as
    ``budget_scale`` carrying the dotted key in an attribute (``key``/``dotted_key``).
    """
    dim = ensemble_dim(ds)
    if dim is None:
        return []
    declared: list[str] = []
    raw = ds.attrs.get("swept_keys")
    if raw:
        try:
            declared = [str(k) for k in (json.loads(raw) if isinstance(raw, str) else raw)]
        except ValueError:
            declared = []
    out: list[tuple[str, str]] = []
    for name, coord in ds.coords.items():
        if coord.dims != (dim,) or name == dim:
            continue
        dotted = coord.attrs.get("dotted_key") or coord.attrs.get("key")
        if dotted is None and str(name) in declared:
            dotted = str(name)
        if dotted is None and "." in str(name):
            dotted = str(name)
        if dotted is None:
            for k in declared:
                if k.replace(".", "_") == str(name):
                    dotted = k
        if dotted is not None:
            out.append((str(name), str(dotted)))
    if declared:
        order = {k: i for i, k in enumerate(declared)}
        out.sort(key=lambda t: order.get(t[1], len(order)))
    return out
