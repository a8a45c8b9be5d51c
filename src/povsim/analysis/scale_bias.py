"""Scale invariance evidence: every target measure's mean and standard error at each scale.

A run at 1:K simulates one household in K. If the mechanisms are scale-invariant, every measure
the targets and the calibration use has the same expectation at 1:1000, 1:100 and 1:10 (and
1:1); :func:`scale_bias` runs ``replicates`` seeds at each scale (the same seeds at every scale)
and tabulates, for every measure, the replicate mean and its standard error per scale, and the
difference from the finest scale in units of the combined standard error (``z``): ``|z| > 2``
flags a bias larger than replicate noise.

Measures: every target of ``calibration/targets.yaml`` (its registered measure, e.g. the 2016
stock) and, for each campaign target of the scenario (domain.md §1), its shortfall and whether
it holds, plus the 2020 stock and the counties and villages exited by 2020.

``benchmarks/scale_bias.py`` prints the table (:func:`format_scale_bias`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from povsim.errors import PovsimError
from povsim.scenario import Scenario, load_scenario

__all__ = ["DEFAULT_SCALES", "bias_table", "format_scale_bias", "measures_of_run", "scale_bias"]

#: the scales compared by default (issue 7: 1:1000, 1:100, 1:10; 1:1 on request)
DEFAULT_SCALES = (1000, 100, 10)


def measures_of_run(scenario: Scenario, seed: int, base_dir: str | None,
                    targets: Any) -> dict[str, float]:
    """Run once and return every measure (the task each worker executes)."""
    from povsim.calibration.targets import recording_extras
    from povsim.model import PovertyModel

    t0 = time.perf_counter()
    with recording_extras(targets.needs() if targets is not None else frozenset()):
        ds = PovertyModel(scenario, seed=seed,
                          base_dir=Path(base_dir) if base_dir else None).run(progress=False)
    out: dict[str, float] = {}
    if targets is not None:
        out.update({f"calibration:{k}": float(v) for k, v in targets.summarize(ds).items()})
    for t in [str(x) for x in ds["target"].values]:
        out[f"target:{t}:shortfall"] = float(ds["target_shortfall"].sel(target=t))
        out[f"target:{t}:held"] = float(ds["target_held"].sel(target=t))
    last = int(ds["year"].values[-1])
    out[f"registered_poor_{last}"] = float(ds["registered_poor"].sel(year=last).sum())
    out[f"counties_exited_{last}"] = float(ds["counties_exited"].sel(year=last).sum())
    out[f"villages_exited_{last}"] = float(ds["villages_exited"].sel(year=last).sum())
    out["_seconds"] = time.perf_counter() - t0
    return out


def scale_bias(
    scenario: Scenario | str | Path = "baseline",
    *,
    scales: Sequence[int] = DEFAULT_SCALES,
    replicates: int = 8,
    targets: Any = "calibration/targets.yaml",
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = False,
    log: Callable[[str], None] | None = None,
    security: object = None,
) -> Any:
    """Mean and standard error of every target measure at each scale.

    Parameters
    ----------
    scenario
        The scenario (file, object or library name).
    scales
        The ``population.scale`` values to compare (the last is the reference for ``z``;
        default 1:1000, 1:100, 1:10).
    replicates
        Seeds per scale (the same seeds at every scale).
    targets
        The calibration targets file (its measures are tabulated), or ``None``.
    seed
        Root seed (default: the scenario's).
    workers, scheduler, progress, log, security
        Where and how to run (see :class:`povsim.ensembles.Runner`).

    Returns
    -------
    pandas.DataFrame
        One row per (measure, scale): ``mean``, ``se`` (standard error of the mean), ``n``,
        ``z`` (difference from the reference scale over the combined standard error) and
        ``seconds`` (mean run time at that scale, indicative).
    """
    from povsim.calibration.targets import load_targets
    from povsim.ensembles.execution import Runner
    from povsim.progress import tqdm_class
    from povsim.rng import replicate_seed

    from .hindcast import check_replicates

    replicates = check_replicates(replicates)
    if replicates < 2:
        raise PovsimError(f"--replicates must be at least 2 for a standard error, got "
                          f"{replicates}")
    scales = [int(s) for s in scales]
    if not scales or any(s < 1 for s in scales):
        raise PovsimError(f"--scales must be positive integers, got {scales!r}")
    base_dir = None
    if not isinstance(scenario, Scenario):
        from povsim.library import resolve_scenario_path

        path = resolve_scenario_path(scenario)
        base_dir = str(Path(path).resolve().parent)
        scenario = load_scenario(path)
    tset = load_targets(targets) if isinstance(targets, (str, Path)) else targets
    root = int(scenario.seed if seed is None else seed)
    seeds = [replicate_seed(root, r) for r in range(replicates)]
    jobs = [(k, r) for k in scales for r in range(replicates)]
    scn = {k: scenario.with_overrides({"population.scale": k}) for k in scales}
    results: dict[tuple[int, int], dict[str, float]] = {}
    tqdm = tqdm_class()
    bar = tqdm(total=len(jobs), unit="run", desc="povsim scale bias", disable=not progress)
    with Runner(workers, scheduler, security=security) as runner:
        if log:
            log(f"{len(jobs)} runs ({len(scales)} scales x {replicates} replicates) on "
                f"{runner.describe()}")
        if runner.in_process:
            for k, r in jobs:
                results[(k, r)] = measures_of_run(scn[k], seeds[r], base_dir, tset)
                bar.update(1)
        else:
            from distributed import as_completed

            futs = {}
            # finest scale first: the longest runs start early
            for k, r in sorted(jobs, key=lambda j: j[0]):
                f = runner.client.submit(measures_of_run, scn[k], seeds[r], base_dir, tset,
                                         pure=False)
                futs[f.key] = (f, (k, r))
            for f in as_completed([f for f, _ in futs.values()], loop=runner.client.loop):
                results[futs[f.key][1]] = f.result()
                f.release()
                bar.update(1)
    bar.close()
    return bias_table(results, scales, replicates)


def bias_table(results: dict[tuple[int, int], dict[str, float]], scales: Sequence[int],
               replicates: int) -> Any:
    """The table of :func:`scale_bias` from the measures of every run.

    Parameters
    ----------
    results
        ``{(scale, replicate): {measure: value, "_seconds": run time}}``.
    scales
        The scales, the reference (finest) last.
    replicates
        Replicates per scale.
    """
    import pandas as pd

    scales = [int(k) for k in scales]
    first = results[(scales[0], 0)]
    names = [n for n in first if not n.startswith("_")]
    ref = scales[-1]
    rows = []
    for name in names:
        stats = {}
        for k in scales:
            v = np.array([results[(k, r)][name] for r in range(replicates)], dtype=float)
            v = v[np.isfinite(v)]
            mean = float(v.mean()) if v.size else np.nan
            se = float(v.std(ddof=1) / np.sqrt(v.size)) if v.size > 1 else np.nan
            stats[k] = (mean, se, int(v.size))
        for k in scales:
            mean, se, n = stats[k]
            rmean, rse, _ = stats[ref]
            comb = np.hypot(se, rse)
            if k == ref:
                z = 0.0
            elif comb > 0:
                z = (mean - rmean) / comb
            else:
                # no replicate noise at either scale (an initial value): equal up to rounding
                # is no bias
                same = abs(mean - rmean) <= 1e-6 * max(abs(mean), abs(rmean), 1.0)
                z = 0.0 if same else float(np.inf * np.sign(mean - rmean))
            secs = float(np.mean([results[(k, r)]["_seconds"] for r in range(replicates)]))
            rows.append({"measure": name, "scale": k, "mean": mean, "se": se, "n": n,
                         "z": float(z), "seconds": secs})
    return pd.DataFrame(rows)


def format_scale_bias(table: Any) -> str:
    """The bias table: one row per measure; per scale ``mean ± se`` and ``z`` against the
    finest scale (``*`` marks ``|z| > 2``)."""
    scales = list(dict.fromkeys(int(s) for s in table["scale"]))
    ref = scales[-1]
    head = ["measure"] + [f"1:{k}" for k in scales] + [f"z vs 1:{ref}"]

    def cell(m: float, s: float) -> str:
        if not np.isfinite(m):
            return "-"
        if abs(m) >= 1e5:
            return f"{m / 1e6:.3f}M ± {s / 1e6:.3f}M"
        return f"{m:.4g} ± {s:.2g}"

    rows = []
    for name, g in table.groupby("measure", sort=False):
        g = g.set_index("scale")
        zs = [f"{g.loc[k, 'z']:+.1f}{'*' if abs(g.loc[k, 'z']) > 2 else ''}"
              for k in scales[:-1]]
        rows.append([str(name)] + [cell(g.loc[k, "mean"], g.loc[k, "se"]) for k in scales]
                    + [" ".join(zs)])
    secs = table.groupby("scale", sort=False)["seconds"].mean()
    rows.append(["(seconds per run, indicative)"] + [f"{secs[k]:.1f}" for k in scales] + [""])
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    n = int(table["n"].max())
    out = [f"Scale bias: mean ± standard error over {n} replicates (same seeds at every scale); "
           f"z = (mean - mean at 1:{ref}) / combined SE, * = |z| > 2 (inf: no replicate "
           "noise at either scale, and the values differ)",
           "  ".join(h.ljust(w) for h, w in zip(head, widths)),
           "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)
