"""The budget frontier: for each target, the smallest budget at which P(target holds) >= level.

Given a sweep over a numeric key (``budget.scale`` by default), for every target:

``frontier``
    the smallest swept value from which the estimated probability stays at or above ``level``
    for every larger swept value (``NaN``: not reached in the swept range);
``frontier_interp``
    the same, linearly interpolated between the last value below the level and the first value
    at or above it (equal to the smallest swept value when the level is reached already there —
    ``frontier_censored`` is then ``"below"``; ``"above"`` when never reached);
``frontier_lo``, ``frontier_hi``
    a bootstrap interval of ``frontier_interp``: replicates are resampled *jointly* across the
    swept values (they share their random numbers), the frontier recomputed, and the
    ``(1 - interval) / 2`` quantiles taken; a resample that never reaches the level counts as
    beyond the range (``inf``);
``p_reached``
    share of bootstrap resamples that reach the level within the range;
``frontier_budget``
    when the sweep holds budgets (``total_allocated``), the money (yuan, all years) allocated at
    ``frontier_interp`` (interpolated from the mean allocation at the swept values).

When other keys were swept as well, the frontier is computed for each of their combinations
(dimension ``setting``).
"""

from __future__ import annotations

import json

import numpy as np
import xarray as xr

from povsim.errors import PovsimError

from .stats import ensemble_dim, runs_done, wilson
from .store import swept_coord

__all__ = ["format_frontier", "frontier", "frontier_curve"]


def frontier_curve(x: np.ndarray, p: np.ndarray, level: float) -> tuple[float, float, str]:
    """``(grid frontier, interpolated frontier, censoring)`` of one probability curve.

    ``x`` is sorted increasing; ``p`` the probabilities at ``x`` (``NaN`` ignored).
    """
    ok = np.isfinite(p)
    x, p = x[ok], p[ok]
    if x.size == 0:
        return np.nan, np.nan, "above"
    above = p >= level - 1e-12
    if not above[-1]:
        return np.nan, np.nan, "above"
    # the smallest index from which every point is above the level
    below_idx = np.flatnonzero(~above)
    i = int(below_idx[-1]) + 1 if below_idx.size else 0
    if i == 0:
        return float(x[0]), float(x[0]), "below"
    x0, x1, p0, p1 = x[i - 1], x[i], p[i - 1], p[i]
    t = (level - p0) / (p1 - p0) if p1 > p0 else 1.0
    return float(x[i]), float(x0 + np.clip(t, 0.0, 1.0) * (x1 - x0)), ""


def _one(held: np.ndarray, ok: np.ndarray, x: np.ndarray, level: float, n_boot: int,
         interval: float, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``held``: (experiment, replicate, target) 0/1 with NaN; ``x`` sorted."""
    _, R, T = held.shape
    h = np.where(ok[:, :, None], held, np.nan)
    with np.errstate(invalid="ignore"):
        k = np.nansum(h, axis=1)
        n = np.sum(np.isfinite(h), axis=1)
        p = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    lo, hi = wilson(k, n, interval)
    grid = np.full(T, np.nan)
    interp = np.full(T, np.nan)
    cens = np.empty(T, dtype=object)
    boot = np.full((n_boot, T), np.inf)
    idx = rng.integers(0, R, size=(n_boot, R)) if R > 0 else np.zeros((n_boot, 0), int)
    for t in range(T):
        grid[t], interp[t], cens[t] = frontier_curve(x, p[:, t], level)
        hb = h[:, :, t][:, idx]  # (E, n_boot, R)
        with np.errstate(invalid="ignore"):
            kb = np.nansum(hb, axis=2)
            nb = np.sum(np.isfinite(hb), axis=2)
            pb = np.where(nb > 0, kb / np.maximum(nb, 1), np.nan)
        for b in range(n_boot):
            _, fb, _ = frontier_curve(x, pb[:, b], level)
            boot[b, t] = fb if np.isfinite(fb) else np.inf
    a = (1 - interval) / 2
    # quantiles without interpolation: resamples that never reach the level are +inf
    qlo = np.quantile(boot, a, axis=0, method="inverted_cdf") if n_boot else np.full(T, np.nan)
    qhi = (np.quantile(boot, 1 - a, axis=0, method="inverted_cdf") if n_boot
           else np.full(T, np.nan))
    reached = np.isfinite(boot).mean(axis=0) if n_boot else np.full(T, np.nan)
    return {"p": p, "lo": lo, "hi": hi, "grid": grid, "interp": interp,
            "cens": cens.astype(str), "qlo": np.where(np.isinf(qlo), np.nan, qlo),
            "qhi": np.where(np.isinf(qhi), np.nan, qhi), "reached": reached,
            "qhi_inf": np.isinf(qhi)}


def frontier(ds: xr.Dataset, key: str = "budget.scale", level: float = 0.9,
             interval: float = 0.9, n_boot: int = 1000, seed: int = 0) -> xr.Dataset:
    """The smallest value of ``key`` at which each target holds with probability ≥ ``level``.

    Parameters
    ----------
    ds
        A sweep Dataset (from :func:`povsim.sweep`) over ``key``.
    key
        The swept numeric key (a coordinate along ``experiment``).
    level
        Required probability that the target holds.
    interval
        Confidence level of the Wilson intervals of the probabilities and of the bootstrap
        interval of the frontier.
    n_boot
        Bootstrap resamples.
    seed
        Seed of the bootstrap.

    Returns
    -------
    xarray.Dataset
        Dims ``target`` and the key's coordinate (the swept values, sorted; named as in the
        sweep, e.g. ``budget_scale``, attribute ``coord``), plus ``setting`` when other keys
        were swept: ``p_held``, ``p_held_lo``, ``p_held_hi`` (by value), ``budget`` (money
        allocated at each value, if known), and the frontier variables of the module docstring.
    """
    if not 0 < level <= 1:
        raise PovsimError(f"--level must be in (0, 1], got {level!r}")
    dim = ensemble_dim(ds)
    cname = swept_coord(ds, key)
    if cname is None or ds[cname].dims != (dim,):
        swept = json.loads(ds.attrs.get("swept_keys", "[]"))
        raise PovsimError(f"the frontier needs a sweep over {key!r}; this one sweeps "
                          f"{', '.join(swept) or 'nothing'}")
    xs_all = ds[cname].values
    if xs_all.dtype.kind not in "iuf":
        raise PovsimError(f"the frontier needs numeric values of {key!r}")
    swept = [k for k in json.loads(ds.attrs.get("swept_keys", "[]"))
             if swept_coord(ds, k) is not None]
    others = [(k, str(swept_coord(ds, k))) for k in swept if k != key]
    ok_all = runs_done(ds).values
    held_all = ds["target_held"].transpose(dim, "replicate", "target").values
    alloc = (ds["total_allocated"].where(runs_done(ds)).mean("replicate").values
             if "total_allocated" in ds else None)
    # group the experiments by the other keys' values
    groups: dict[str, list[int]] = {}
    for e in range(ds.sizes[dim]):
        lab = ",".join(f"{k}={ds[c].values[e]}" for k, c in others) if others else ""
        groups.setdefault(lab, []).append(e)
    values = np.unique(xs_all.astype(float))
    rng = np.random.default_rng(seed)
    targets = ds["target"].values
    res = []
    for lab, members in groups.items():
        members = np.array(members)
        xs = xs_all[members].astype(float)
        if np.unique(xs).size != xs.size:
            raise PovsimError(f"the frontier needs one experiment per value of {key!r}"
                              + (f" (setting {lab})" if lab else "")
                              + "; use a factorial design")
        order = np.argsort(xs)
        m = members[order]
        r = _one(held_all[m], ok_all[m], xs[order], level, n_boot, interval, rng)
        pos = np.searchsorted(values, xs[order])

        def by_value(a: np.ndarray, pos: np.ndarray = pos) -> np.ndarray:
            out = np.full((values.size, *a.shape[1:]), np.nan)
            out[pos] = a
            return out

        part = {
            "p_held": ((cname, "target"), by_value(r["p"])),
            "p_held_lo": ((cname, "target"), by_value(r["lo"])),
            "p_held_hi": ((cname, "target"), by_value(r["hi"])),
            "frontier": (("target",), r["grid"]),
            "frontier_interp": (("target",), r["interp"]),
            "frontier_lo": (("target",), r["qlo"]),
            "frontier_hi": (("target",), r["qhi"]),
            "frontier_censored": (("target",), r["cens"]),
            "p_reached": (("target",), r["reached"]),
        }
        if alloc is not None:
            a = alloc[m]
            part["budget"] = ((cname,), by_value(a))
            fb = np.interp(r["interp"], xs[order], a, left=np.nan, right=np.nan)
            part["frontier_budget"] = (("target",), np.where(np.isfinite(r["interp"]), fb,
                                                             np.nan))
        res.append(xr.Dataset(part, coords={cname: (cname, values, {"key": key}),
                                            "target": targets}))
    out = res[0] if not others else xr.concat(res, dim="setting", data_vars="all").assign_coords(
        setting=list(groups))
    for c in ("target_label", "target_unit"):
        if c in ds.coords:
            out = out.assign_coords({c: ("target", ds[c].values)})
    out.attrs.update({"key": key, "coord": cname, "level": level, "interval": interval, "n_boot": n_boot,
                      "replicates": int(ds.sizes["replicate"])})
    attrs = {
        "frontier": "smallest swept value from which P(holds) >= level (NaN: not reached)",
        "frontier_interp": "frontier interpolated linearly between swept values",
        "frontier_lo": "bootstrap interval of frontier_interp, lower bound",
        "frontier_hi": "bootstrap interval of frontier_interp, upper bound (NaN: beyond range)",
        "p_reached": "share of bootstrap resamples reaching the level in the swept range",
        "frontier_censored": "'below': reached at the smallest value; 'above': not reached",
        "p_held": "probability the target holds", "budget": "money allocated, all years (yuan)",
        "frontier_budget": "money allocated at frontier_interp, all years (yuan)",
    }
    for name, desc in attrs.items():
        if name in out:
            out[name].attrs["description"] = desc
    return out


def format_frontier(fr: xr.Dataset) -> str:
    """The frontier as a plain-text table.

    Parameters
    ----------
    fr
        From :func:`povsim.frontier`.

    Returns
    -------
    str
        One row per target (and setting): the smallest value of the key at which the target
        holds with the level's probability, with its bootstrap interval.
    """
    from .compare import _fmt_num, _table

    key = fr.attrs.get("key", "value")
    level = fr.attrs.get("level", 0.9)
    interval = fr.attrs.get("interval", 0.9)
    values = fr[fr.attrs.get("coord", key)].values
    lines = [f"frontier: smallest {key} at which P(target holds) >= {level:g} "
             f"({fr.attrs.get('replicates', '?')} replicates per value; swept "
             f"{_fmt_num(float(values.min()))}..{_fmt_num(float(values.max()))}; "
             f"bootstrap {interval * 100:.0f}% interval)"]
    settings = fr["setting"].values if "setting" in fr.dims else [None]
    for s in settings:
        sub = fr.sel(setting=s) if s is not None else fr
        if s is not None:
            lines.append(f"\n{s}")
        rows = []
        for ti, t in enumerate(sub["target"].values):
            label = str(sub["target_label"].values[ti]) if "target_label" in sub.coords else str(t)
            f = float(sub["frontier_interp"].values[ti])
            cens = str(sub["frontier_censored"].values[ti])
            lo = float(sub["frontier_lo"].values[ti])
            hi = float(sub["frontier_hi"].values[ti])
            if cens == "above":
                fs = f"not reached up to {_fmt_num(float(values.max()))}"
            elif cens == "below":
                fs = f"<= {_fmt_num(f)}"
            else:
                fs = _fmt_num(f)
            iv = (f"[{_fmt_num(lo) if np.isfinite(lo) else '?'}, "
                  f"{_fmt_num(hi) if np.isfinite(hi) else 'beyond ' + _fmt_num(float(values.max()))}]"
                  if np.isfinite(lo) or np.isfinite(hi) else "-")
            money = "-"
            if "frontier_budget" in sub and np.isfinite(float(sub["frontier_budget"].values[ti])):
                money = _fmt_num(float(sub["frontier_budget"].values[ti]), "yuan")
            p_row = " ".join(f"{float(x):.2f}" for x in sub["p_held"].values[:, ti])
            rows.append((label, fs, iv, f"{float(sub['p_reached'].values[ti]):.2f}", money,
                         p_row))
        lines.append(_table(("target", "frontier", f"{interval * 100:.0f}% interval",
                             "P(reached)", "budget at frontier",
                             "P(holds) at " + " ".join(_fmt_num(float(v)) for v in values)),
                            rows))
    return "\n".join(lines)
