"""The calibration report: figures (PNG) and ``report.md``.

* ``calibration_fit.png`` — for every target, the final generation's 5-95 % band and median of
  the simulated measure (replicate means of the particles, weighted) against the observation and
  its tolerance;
* ``calibration_marginals.png`` — each parameter's weighted posterior histogram over its prior
  density;
* ``calibration_correlations.png`` — the weighted correlation matrix of the parameters;
* ``report.md`` — settings, epsilons by generation, the residual table (observed, posterior
  median, 90 % band, residual in tolerance units), the parameter table (prior, median, 90 %
  interval), the correlations, and the observations not used with their reasons.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from povsim.calibration.posterior import Posterior, weighted_quantile, write_calibrated_yaml

__all__ = ["fit_figure", "marginals_figure", "residual_table", "write_outputs", "write_report"]


def residual_table(post: Posterior, targets: Any) -> list[dict[str, Any]]:
    """Per target: observed, tolerance, weight, posterior median and 90 % band, residual."""
    sim = post.simulated()
    w = post.final["weight"].to_numpy(float)
    rows = []
    for t in targets.targets:
        v = sim[t.name].to_numpy(float)
        lo, med, hi = weighted_quantile(v, w, [0.05, 0.5, 0.95])
        rows.append({"target": t.name, "observed": t.observed, "tolerance": t.tolerance,
                     "weight": t.weight, "median": float(med), "low": float(lo),
                     "high": float(hi), "residual": float(med - t.observed),
                     "z": float((med - t.observed) / t.tolerance), "source": t.source_label})
    return rows


def _fmt(v: float) -> str:
    if not math.isfinite(v):
        return "nan"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.3g}"
    return f"{v:.3g}"


def fit_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """The posterior band of every target against its observation and tolerance.

    Parameters
    ----------
    rows
        The rows of :func:`residual_table` (one panel each).

    Returns
    -------
    matplotlib.figure.Figure
        One panel per target: the observation ± tolerance (orange) and the posterior median with
        its 5-95 % band (blue); checks (weight 0) are marked in the panel's title. The figure is
        made without pyplot, so no backend is switched and nothing is shown twice in Jupyter.
    """
    from matplotlib.figure import Figure

    n = len(rows)
    ncol = max(1, min(4, n))
    nrow = max(1, math.ceil(n / ncol))
    fig = Figure(figsize=(3.2 * ncol, 2.6 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    for ax, r in zip(axes.flat, rows, strict=False):
        ax.axhspan(r["observed"] - r["tolerance"], r["observed"] + r["tolerance"],
                   color="tab:orange", alpha=0.2, label="observed ± tolerance")
        ax.axhline(r["observed"], color="tab:orange", lw=1.5)
        ax.errorbar([0], [r["median"]], yerr=[[r["median"] - r["low"]], [r["high"] - r["median"]]],
                    fmt="o", color="tab:blue", capsize=6, label="posterior 5-95 %")
        ax.set_xticks([])
        ax.set_title(r["target"] + ("" if r["weight"] > 0 else " (check)"), fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if n:
        axes.flat[0].legend(fontsize=6, loc="best")
    fig.suptitle("posterior band against every observation", fontsize=10)
    fig.tight_layout()
    return fig


def _fig_fit(rows: list[dict[str, Any]], path: Path) -> None:
    fit_figure(rows).savefig(path, dpi=110)


def marginals_figure(post: Posterior, priors: Sequence[Any]) -> Any:
    """Each parameter's weighted posterior histogram over its prior density.

    Parameters
    ----------
    post
        The posterior (its final generation is drawn).
    priors
        The :class:`~povsim.calibration.priors.Prior` of every parameter to draw; each key must
        be a column of the posterior.

    Returns
    -------
    matplotlib.figure.Figure
        One panel per prior (made without pyplot).
    """
    from matplotlib.figure import Figure

    n = len(priors)
    ncol = max(1, min(3, n))
    nrow = max(1, math.ceil(n / ncol))
    fig = Figure(figsize=(3.6 * ncol, 2.6 * nrow))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    f = post.final
    w = f["weight"].to_numpy(float)
    for ax, p in zip(axes.flat, priors, strict=False):
        lo, hi = p.bounds()
        x = f[p.key].to_numpy(float)
        ax.hist(x, bins=min(20, max(5, len(x) // 3)), range=(lo, hi), weights=w, density=True,
                color="tab:blue", alpha=0.6, label="posterior")
        grid = np.linspace(lo, hi, 200)
        ax.plot(grid, p.distribution.pdf(grid), color="k", lw=1, label="prior")
        ax.set_title(p.key, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if n:
        axes.flat[0].legend(fontsize=6)
    fig.tight_layout()
    return fig


def _fig_marginals(post: Posterior, priors: Sequence[Any], path: Path) -> None:
    marginals_figure(post, priors).savefig(path, dpi=110)


def _fig_corr(post: Posterior, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    c = post.correlations()
    n = len(c)
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * n, 1.0 + 0.6 * n))
    im = ax.imshow(c.to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), [k.split(".")[-1] for k in c.columns], rotation=60, ha="right",
                  fontsize=7)
    ax.set_yticks(range(n), list(c.index), fontsize=7)
    for i in range(n):
        for j in range(n):
            ax.text(j, i, f"{c.iat[i, j]:.2f}", ha="center", va="center", fontsize=6)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title("posterior correlations", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(post: Posterior, priors: Sequence[Any], targets: Any, output_dir: Path, *,
                 settings: Mapping[str, Any]) -> dict[str, Path]:
    """Write the three figures and ``report.md`` into ``output_dir``; returns their paths."""
    output_dir = Path(output_dir)
    rows = residual_table(post, targets)
    files = {"fit_figure": output_dir / "calibration_fit.png",
             "marginals_figure": output_dir / "calibration_marginals.png",
             "correlations_figure": output_dir / "calibration_correlations.png",
             "report": output_dir / "report.md"}
    _fig_fit(rows, files["fit_figure"])
    _fig_marginals(post, priors, files["marginals_figure"])
    _fig_corr(post, files["correlations_figure"])
    med, ci = post.median(), post.interval(0.9)
    md = ["# Calibration report", "",
          "ABC-SMC (pyabc); distance = sum over fitted targets of weight × |sim − obs| / "
          "tolerance; epsilon = median distance of the previous generation. Bands are over the "
          "final generation's particles (weighted), each particle's measure being the mean of "
          "its replicates under common random numbers.", "",
          "## Settings", ""]
    md += [f"- {k}: {v}" for k, v in settings.items()]
    md += ["", "## Epsilon by generation", "",
           "| generation | epsilon |", "|---:|---:|"]
    md += [f"| {i} | {e:.4g} |" for i, e in enumerate(post.epsilons())]
    md += ["", "## Fit to every observation", "", "![fit](calibration_fit.png)", "",
           "| target | observed | tolerance | weight | posterior median | 90 % band | residual "
           "| residual / tolerance | source |",
           "|---|---:|---:|---:|---:|---|---:|---:|---|"]
    for r in rows:
        md.append(f"| {r['target']} | {_fmt(r['observed'])} | {_fmt(r['tolerance'])} | "
                  f"{r['weight']:g} | {_fmt(r['median'])} | {_fmt(r['low'])} – "
                  f"{_fmt(r['high'])} | {_fmt(r['residual'])} | {r['z']:+.2f} | {r['source']} |")
    md += ["", "Targets with weight 0 are checks: shown, not fitted.", "",
           "## Parameters", "", "![marginals](calibration_marginals.png)", "",
           "| key | prior | basis | posterior median | 90 % interval |", "|---|---|---|---:|---|"]
    for p in priors:
        lo, hi = ci[p.key]
        pr = f"{p.kind}(" + ", ".join(f"{k}={v:g}" for k, v in p.params.items()) + ")"
        md.append(f"| {p.key} | {pr} | {p.basis} | {med[p.key]:.4g} | {lo:.4g} – {hi:.4g} |")
    c = post.correlations()
    md += ["", "## Pairwise correlations (posterior)", "",
           "![correlations](calibration_correlations.png)", "",
           "| | " + " | ".join(k.split(".")[-1] for k in c.columns) + " |",
           "|---|" + "---:|" * len(c.columns)]
    for k in c.index:
        md.append(f"| {k} | " + " | ".join(f"{c.at[k, j]:+.2f}" for j in c.columns) + " |")
    if targets.not_used:
        md += ["", "## Observations not used", "", "| source | why |", "|---|---|"]
        for u in targets.not_used:
            s = u["source"]
            md.append(f"| {s['file']}: {s['series']} {s['region']} {s['year']} | {u['why']} |")
    md += ["", "## Why each target", ""]
    md += [f"- **{t.name}** ({t.source_label}): {t.why}" for t in targets.targets]
    files["report"].write_text("\n".join(md) + "\n", encoding="utf-8")
    return files


def write_outputs(post: Posterior, priors: Sequence, targets: Any, output_dir: Path, *,
                  scenario: Any, settings: Mapping[str, Any], prior_file: str = "<priors>",
                  report: bool = True) -> dict[str, Path]:
    """Write ``posterior.csv``, ``calibrated.yaml`` and (``report``) the report."""
    output_dir = Path(output_dir)
    files = {"posterior": post.to_csv(output_dir / "posterior.csv"),
             "calibrated": write_calibrated_yaml(post, output_dir / "calibrated.yaml",
                                                 scenario=scenario, priors=priors,
                                                 targets=targets, settings=settings,
                                                 prior_file=prior_file)}
    if report:
        files.update(write_report(post, priors, targets, output_dir, settings=settings))
    return files
