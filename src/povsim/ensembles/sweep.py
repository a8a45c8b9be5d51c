"""Sweeps: one base scenario, any dotted keys varied over a full factorial or a sampled design.

``povsim sweep scenarios/baseline.yaml --set budget.scale=0.5,0.75,1.0,1.25 --replicates 20
--output budget.zarr`` runs every point of the design with the same replicate seeds (common
random numbers) and stores the runs as one Dataset with dims ``experiment, replicate, ...``; each
swept key is a coordinate along ``experiment`` (``ds["budget.scale"]``). With a budget key in the
sweep, :func:`povsim.ensembles.frontier.frontier` gives the smallest budget at which each target
holds with a chosen probability.

Designs
-------
``factorial``
    every combination of the listed values (the first ``--set`` varies slowest).
``lhs``
    ``samples`` points of a Latin hypercube (seeded by the root seed). A key given exactly two
    numbers is sampled uniformly between them (integers stay integers); a key given other values
    is sampled among them, in equal strata.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError, ScenarioError
from povsim.scenario import Scenario, load_scenario

from .compare import _apply_scale, _write_summary, finish_output, summarize_targets
from .execution import execute, load, output_path, plan_output
from .store import Experiment, Plan, locked

__all__ = ["design_points", "parse_set", "split_values", "sweep", "sweep_experiments"]

_OPEN = {"[": "]", "{": "}", "(": ")"}


def split_values(text: str) -> list[str]:
    """Split ``V1,V2,...`` on the commas outside brackets and quotes."""
    parts: list[str] = []
    depth: list[str] = []
    quote: str | None = None
    cur = ""
    for ch in text:
        if quote:
            cur += ch
            if ch == quote:
                quote = None
            continue
        if ch in ("'", '"'):
            quote = ch
        elif ch in _OPEN:
            depth.append(_OPEN[ch])
        elif depth and ch == depth[-1]:
            depth.pop()
        elif ch == "," and not depth:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    parts.append(cur)
    return [p.strip() for p in parts]


def parse_set(text: str) -> tuple[str, list[Any]]:
    """Parse one ``--set KEY=V1,V2,...``; each value is read as YAML.

    Parameters
    ----------
    text
        The argument, e.g. ``"budget.scale=0.5,0.75,1.0"``; commas inside brackets or quotes
        do not split (``"shocks.disasters.flood.months=[6,7],[7,8]"`` gives two lists).

    Returns
    -------
    tuple of (str, list)
        The dotted key and its values, parsed (``("budget.scale", [0.5, 0.75, 1.0])``).

    Raises
    ------
    ScenarioError
        No ``=``, no key, an empty value, or a value that is not valid YAML.
    """
    from povsim.scenario.loader import parse_override

    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise ScenarioError("bad --set", expected="KEY=V1,V2,..., e.g. budget.scale=0.5,1.0",
                            found=repr(text))
    parts = split_values(raw)
    if any(p == "" for p in parts):
        raise ScenarioError("empty value in --set", key=key,
                            expected="comma-separated values, e.g. 0.5,0.75,1.0",
                            found=repr(raw))
    return key, [parse_override(f"{key}={p}")[1] for p in parts]


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def design_points(sets: Mapping[str, Sequence[Any]], design: str = "factorial",
                  samples: int | None = None, seed: int = 0) -> list[dict[str, Any]]:
    """The points of a design: a list of ``{key: value}``.

    Parameters
    ----------
    sets
        Values of every swept key.
    design
        ``"factorial"`` or ``"lhs"`` (Latin hypercube).
    samples
        Number of points of an ``lhs`` design.
    seed
        Seed of the ``lhs`` sampler.

    Returns
    -------
    list of dict
        One ``{key: value}`` per point: every combination (factorial), or ``samples`` points
        (lhs: a numeric key given two values is sampled between them, others among their
        values).

    Raises
    ------
    PovsimError
        No key, a key without values, an unknown design, or ``samples`` missing for ``lhs``
        (or given for ``factorial``).
    """
    keys = list(sets)
    if not keys:
        raise PovsimError("a sweep needs at least one --set KEY=V1,V2,...")
    for k in keys:
        if not list(sets[k]):
            raise PovsimError(f"--set {k}: no values")
    if design == "factorial":
        if samples is not None:
            raise PovsimError("--samples is for --design lhs")
        return [dict(zip(keys, combo)) for combo in itertools.product(*(sets[k] for k in keys))]
    if design != "lhs":
        raise PovsimError(f"unknown design {design!r} (expected factorial or lhs)")
    if samples is None or isinstance(samples, bool) or int(samples) < 1:
        raise PovsimError("--design lhs needs --samples N (N >= 1)")
    from scipy.stats import qmc

    u = qmc.LatinHypercube(d=len(keys), seed=np.random.default_rng(
        np.random.SeedSequence(entropy=int(seed), spawn_key=(0x1A5,)))).random(int(samples))
    points = []
    for row in u:
        pt: dict[str, Any] = {}
        for j, k in enumerate(keys):
            vals = list(sets[k])
            if len(vals) == 2 and all(_is_number(v) for v in vals):
                lo, hi = vals
                x = lo + row[j] * (hi - lo)
                pt[k] = round(x) if all(isinstance(v, int) for v in vals) else float(x)
            else:
                pt[k] = vals[min(int(row[j] * len(vals)), len(vals) - 1)]
        points.append(pt)
    return points


def _fmt_value(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if v is None:
        return "null"
    return str(v)


def _point_label(point: Mapping[str, Any], index: int | None = None) -> str:
    body = ",".join(f"{k}={_fmt_value(v)}" for k, v in point.items())
    return body if index is None else f"{index:03d}:{body}"


def sweep_experiments(base: Scenario, points: Sequence[Mapping[str, Any]],
                      base_dir: str | None = None, numbered: bool = False) -> list[Experiment]:
    """One :class:`Experiment` per design point (validating every key and value)."""
    # check each key once, with its first value, so that a bad key gives one clear error
    seen: set[str] = set()
    for pt in points:
        for k, v in pt.items():
            if k in seen:
                continue
            seen.add(k)
            try:
                base.with_overrides({k: v})
            except ScenarioError as exc:
                raise ScenarioError(f"--set: {_strip(exc)}") from None
    exps = []
    for i, pt in enumerate(points):
        try:
            scn = base.with_overrides(dict(pt))
        except ScenarioError as exc:
            where = "--set" if len(pt) == 1 else f"--set point {_point_label(pt)}"
            raise ScenarioError(f"{where}: {_strip(exc)}") from None
        exps.append(Experiment(label=_point_label(pt, i if numbered else None), scenario=scn,
                               params=dict(pt), base_dir=base_dir))
    return exps


def _strip(exc: ScenarioError) -> str:
    return exc.format()


def sweep(
    base: Scenario | str | Path,
    sets: Mapping[str, Sequence[Any]],
    *,
    replicates: int,
    design: str = "factorial",
    samples: int | None = None,
    seed: int | None = None,
    scale: int | None = None,
    output: str | Path | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = False,
    interval: float = 0.9,
    overwrite: bool = False,
    crn: bool = True,
    attribution: bool = True,
    log: Callable[[str], None] | None = None,
    security: object = None,
    dashboard: str | bool | None = None,
) -> xr.Dataset:
    """Run a base scenario over a design of dotted-key values, with replicates.

    Parameters
    ----------
    base
        The base scenario (file or object).
    sets
        ``{"budget.scale": [0.5, 0.75, 1.0], "lines.merge.year": [2017, 2019]}``.
    replicates
        Replicates per design point (replicate ``r`` has the same seed at every point).
    design, samples
        ``"factorial"``, or ``"lhs"`` with ``samples`` points (see the module docstring).
    seed
        Root seed (default: the base scenario's ``seed``).
    scale
        Simulate 1 in ``scale`` households (``population.scale``, before the swept keys).
    output
        The zarr store, or a ``.nc``/``.csv`` file written at the end (as for
        :func:`povsim.ensembles.compare.compare`); ``None``: a temporary store, returned in
        memory. Rerunning with the same arguments and output computes only the runs that are
        missing (or damaged); with more ``replicates`` it adds the new ones.
    workers, scheduler, progress, interval, overwrite, crn, attribution, log, security, dashboard
        As for :func:`povsim.ensembles.compare.compare`.

    Returns
    -------
    xarray.Dataset
        Dims ``experiment, replicate, year, region, ...``; every swept key is a coordinate along
        ``experiment`` named as an identifier (``budget.scale`` → ``budget_scale``, see
        :func:`povsim.ensembles.store.coord_name`; the dotted key is its ``key`` attribute); the
        target summary of :func:`summarize_targets` is included.
    """
    base_dir = None
    if not isinstance(base, Scenario):
        from povsim.library import resolve_scenario_path

        base = resolve_scenario_path(base)  # a file, or a library name ("baseline")
        base_dir = str(Path(base).resolve().parent)
        base = load_scenario(base)
    base = _apply_scale(base, scale)
    root_seed = int(base.seed if seed is None else seed)
    points = design_points({k: list(v) for k, v in sets.items()}, design, samples, root_seed)
    exps = sweep_experiments(base, points, base_dir, numbered=design != "factorial")
    plan = Plan(dim="experiment", experiments=exps)
    store_out, final = plan_output(output)
    with output_path(store_out) as path, locked(path):
        execute([plan], replicates=replicates, root_seed=root_seed, path=path, workers=workers,
                scheduler=scheduler, progress=progress, crn=crn, attribution=attribution,
                overwrite=overwrite, log=log,
                attrs={"title": f"povsim sweep of {base.name}", "design": design,
                       "interval": interval, "base_scenario": base.model_dump_json()},
                description=f"runs ({len(exps)} design points x {replicates} replicates)",
                security=security, dashboard=dashboard)
        runs = load(path, in_memory=output is None or final is not None)
        summary = summarize_targets(runs, interval)
        if output is not None and final is None:
            _write_summary(path, summary)
            runs.close()
            return load(path)
        result = xr.merge([runs, summary], compat="override", combine_attrs="override")
        if final is not None:
            finish_output(result, final, path)
        return result


def format_sweep(ds: xr.Dataset) -> str:
    """P(target holds) at every design point, with money spent and the poor left.

    Parameters
    ----------
    ds
        A sweep (:func:`povsim.sweep`).

    Returns
    -------
    str
        A plain-text table for the terminal (``povsim sweep`` prints it).
    """
    from .compare import _fmt_num, _table
    from .plotting import _short
    from .stats import ensemble_dim, runs_done

    dim = ensemble_dim(ds)
    ok = runs_done(ds)
    p = ds["p_held"] if "p_held" in ds else ds["target_held"].where(ok).mean("replicate")
    targets = [str(t) for t in ds["target"].values]
    spent = ds["total_spending"].where(ok).mean("replicate").values
    stock = ds["registered_poor"].sum("region", min_count=1).isel(year=-1).where(ok)
    stock = stock.mean("replicate").values
    end = int(ds["year"].values[-1])
    rows = []
    for e, lab in enumerate(ds[dim].values):
        rows.append([str(lab)] + [f"{float(p.values[e, t]):.2f}" for t in range(len(targets))]
                    + [_fmt_num(float(spent[e]), "yuan"), _fmt_num(float(stock[e])),
                       str(int(ok.values[e].sum()))])
    head = [dim] + [_short(t) for t in targets] + ["spent", f"poor left {end}", "runs"]
    return (f"P(target holds) at each point of the sweep ({ds.sizes['replicate']} replicates, "
            "common random numbers)\n" + _table(head, rows))
