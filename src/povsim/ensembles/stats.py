"""Summaries over replicates: probabilities with Wilson intervals, paired differences."""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import stats

from povsim.plotting.common import ensemble_dim as find_ensemble_dim

__all__ = ["ensemble_dim", "mean_interval", "runs_done", "wilson"]


def ensemble_dim(ds: xr.Dataset) -> str:
    """The experiment dimension of an ensemble Dataset (``scenario`` or ``experiment``).

    Raises
    ------
    ValueError
        ``ds`` has neither dimension: it is not an ensemble.
    """
    dim = find_ensemble_dim(ds)
    if dim is None:
        raise ValueError("not an ensemble Dataset: no 'scenario' or 'experiment' dimension")
    return dim


def runs_done(ds: xr.Dataset) -> xr.DataArray:
    """Boolean (experiment, replicate): the run is in the store."""
    if "done" in ds:
        return ds["done"] == 1
    dim = ensemble_dim(ds)
    return xr.ones_like(ds[dim].astype(float) * ds["replicate"], dtype=bool)


def wilson(k: np.ndarray, n: np.ndarray, level: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion ``k / n`` at confidence ``level``."""
    k = np.asarray(k, dtype=float)
    n = np.asarray(n, dtype=float)
    z = stats.norm.ppf(0.5 + level / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        den = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / den
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / den
        lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def mean_interval(x: xr.DataArray, dim: str = "replicate", level: float = 0.9
                  ) -> tuple[xr.DataArray, xr.DataArray, xr.DataArray, xr.DataArray]:
    """Mean over ``dim`` with a Student-t interval; also the standard deviation.

    Returns ``(mean, lo, hi, sd)``; with fewer than two values the interval is ``NaN``.
    """
    n = x.count(dim)
    mean = x.mean(dim, skipna=True)
    sd = x.std(dim, ddof=1, skipna=True)
    tq = xr.apply_ufunc(lambda m: stats.t.ppf(0.5 + level / 2, np.maximum(m - 1, 1)),
                        n.astype(float))
    half = tq * sd / np.sqrt(n.where(n > 0))
    half = half.where(n > 1)
    # all differences equal (e.g. all zero): the interval is the point
    half = xr.where(sd == 0, 0.0, half)
    return mean, mean - half, mean + half, sd
