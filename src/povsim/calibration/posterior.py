"""The posterior of a fit: ``posterior.csv``, :class:`Posterior` and ``calibrated.yaml``.

``posterior.csv`` has one row per particle of every generation::

    generation, particle, weight, distance, epsilon, <dotted key>..., sim:<target name>...

``weight`` sums to 1 within a generation; ``sim:<target>`` is the particle's replicate mean of
the target's measure. :func:`load_posterior` reads it back; :meth:`Posterior.sample` draws
parameter sets of the final generation by weight (for a hindcast whose replicates carry parameter
uncertainty) and :meth:`Posterior.median` gives the weighted medians written to
``calibrated.yaml``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from povsim.errors import PovsimError

__all__ = ["Posterior", "load_posterior", "posterior_from_history", "weighted_quantile",
           "write_calibrated_yaml"]

_SIM = "sim:"
_META = ("generation", "particle", "weight", "distance", "epsilon")


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float | Sequence[float]
                      ) -> np.ndarray:
    """Quantiles of a weighted sample (midpoint rule on the cumulative weights)."""
    v = np.asarray(values, dtype=float)
    w = np.asarray(weights, dtype=float)
    order = np.argsort(v)
    v, w = v[order], w[order]
    cw = np.cumsum(w)
    cw = (cw - 0.5 * w) / cw[-1]
    return np.interp(np.atleast_1d(q), cw, v)


@dataclass(frozen=True)
class Posterior:
    """Every generation of a fit (a tidy table) with helpers on the final one.

    Attributes
    ----------
    table
        One row per particle and generation (the columns of ``posterior.csv``).
    keys
        The free parameters' dotted keys, in priors-file order.
    targets
        The target names (columns ``sim:<name>``).
    """

    table: pd.DataFrame
    keys: tuple[str, ...]
    targets: tuple[str, ...]

    @property
    def generations(self) -> int:
        return int(self.table["generation"].max()) + 1

    @property
    def final(self) -> pd.DataFrame:
        """The particles of the last generation."""
        return self.table[self.table["generation"] == self.generations - 1].reset_index(drop=True)

    @property
    def epsilon(self) -> float:
        """The acceptance threshold of the last generation (tolerance units)."""
        return float(self.final["epsilon"].iloc[0])

    def epsilons(self) -> list[float]:
        """Epsilon of every generation."""
        return [float(g["epsilon"].iloc[0]) for _, g in self.table.groupby("generation")]

    def _w(self) -> np.ndarray:
        w = self.final["weight"].to_numpy(float)
        return w / w.sum()

    def median(self) -> dict[str, float]:
        """Weighted posterior median of every parameter (final generation)."""
        f, w = self.final, self._w()
        return {k: float(weighted_quantile(f[k].to_numpy(float), w, 0.5)[0]) for k in self.keys}

    def interval(self, level: float = 0.9) -> dict[str, tuple[float, float]]:
        """Central credible interval of every parameter (final generation)."""
        if not 0 < level < 1:
            raise PovsimError(f"level must be between 0 and 1, got {level}")
        f, w = self.final, self._w()
        lo, hi = (1 - level) / 2, 1 - (1 - level) / 2
        out = {}
        for k in self.keys:
            a, b = weighted_quantile(f[k].to_numpy(float), w, [lo, hi])
            out[k] = (float(a), float(b))
        return out

    def sample(self, n: int, rng: np.random.Generator | int | None = None
               ) -> list[dict[str, float]]:
        """Draw ``n`` parameter sets (``{dotted key: value}``) by weight, with replacement.

        Parameters
        ----------
        n
            Number of draws.
        rng
            A numpy Generator or a seed (required for reproducibility; ``None`` is refused so
            that no unseeded draw can happen).
        """
        if rng is None:
            raise PovsimError("Posterior.sample needs rng (a numpy Generator or a seed)")
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        f = self.final
        idx = gen.choice(len(f), size=int(n), replace=True, p=self._w())
        return [{k: float(f[k].iloc[i]) for k in self.keys} for i in idx]

    def simulated(self) -> pd.DataFrame:
        """The final generation's target measures (columns: target names)."""
        f = self.final
        return pd.DataFrame({t: f[_SIM + t].to_numpy(float) for t in self.targets})

    def correlations(self) -> pd.DataFrame:
        """Weighted correlation matrix of the parameters (final generation)."""
        f, w = self.final, self._w()
        x = f[list(self.keys)].to_numpy(float)
        m = (w[:, None] * x).sum(0)
        c = ((x - m) * w[:, None]).T @ (x - m)
        sd = np.sqrt(np.clip(np.diag(c), 1e-300, None))
        return pd.DataFrame(c / np.outer(sd, sd), index=list(self.keys), columns=list(self.keys))

    def to_csv(self, path: str | Path) -> Path:
        path = Path(path)
        self.table.to_csv(path, index=False, float_format="%.10g")
        return path


def _from_table(table: pd.DataFrame, source: str) -> Posterior:
    missing = [c for c in _META if c not in table.columns]
    if missing:
        raise PovsimError(f"{source}: not a posterior table (missing columns "
                          f"{', '.join(missing)})")
    if table.empty:
        raise PovsimError(f"{source}: the posterior table is empty")
    targets = tuple(c[len(_SIM):] for c in table.columns if c.startswith(_SIM))
    keys = tuple(c for c in table.columns if c not in _META and not c.startswith(_SIM))
    return Posterior(table=table, keys=keys, targets=targets)


def load_posterior(path: str | Path) -> Posterior:
    """Read ``posterior.csv`` (or the directory holding it).

    Parameters
    ----------
    path
        The table ``povsim calibrate`` wrote, or its output directory.

    Returns
    -------
    Posterior
        Every generation of the fit.

    Raises
    ------
    PovsimError
        The file is missing or not a posterior table.
    """
    p = Path(path)
    if p.is_dir():
        p = p / "posterior.csv"
    if not p.is_file():
        raise PovsimError(f"posterior file not found: {p}")
    try:
        table = pd.read_csv(p)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise PovsimError(f"{p}: cannot read the posterior table ({exc})") from None
    return _from_table(table, str(p))


def posterior_from_history(history: Any, priors: Sequence[Any], targets: Any) -> Posterior:
    """Build the table from a pyabc ``History`` (every stored generation)."""
    rows = []
    names = {p.name: p.key for p in priors}
    pops = history.get_all_populations()
    eps = {int(r.t): float(r.epsilon) for r in pops.itertuples() if int(r.t) >= 0}
    for t in range(history.max_t + 1):
        df, w = history.get_distribution(m=0, t=t)
        dist = history.get_weighted_distances(t=t)
        ws, stats = history.get_weighted_sum_stats_for_model(m=0, t=t)
        frame = pd.DataFrame({"generation": t, "particle": np.arange(len(df)),
                              "weight": np.asarray(w, float) / np.sum(w),
                              "distance": dist["distance"].to_numpy(float),
                              "epsilon": eps.get(t, np.nan)})
        for name, key in names.items():
            frame[key] = df[name].to_numpy(float)
        for tname in targets.names:
            frame[_SIM + tname] = [float(np.asarray(s[tname])) for s in stats]
        rows.append(frame)
    return _from_table(pd.concat(rows, ignore_index=True), "the pyabc history")


def _nest(values: Mapping[str, float]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in values.items():
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = v
    return out


def _round(v: float) -> float:
    return float(f"{v:.4g}")


def write_calibrated_yaml(post: Posterior, path: str | Path, *, scenario: Any, priors: Sequence,
                          targets: Any, settings: Mapping[str, Any],
                          prior_file: str = "<priors>") -> Path:
    """Write the overlay of posterior medians with its provenance as comments.

    The file holds only the calibrated keys, so any scenario can chain it::

        extends: [baseline.yaml, ../calibration/calibrated.yaml]
    """
    import yaml

    path = Path(path)
    med = post.median()
    ci = post.interval(0.9)
    scn_values: dict[str, Any] = {}
    for p in priors:
        cur = med[p.key]
        # an integer field keeps an integer (the scenario rejects 3.4 months)
        from povsim.calibration.priors import _current

        try:
            stored = _current(scenario, p.key)
        except KeyError:
            stored = None
        scn_values[p.key] = int(round(cur)) if isinstance(stored, int) and not isinstance(
            stored, bool) else _round(cur)
    body = yaml.safe_dump(_nest(scn_values), sort_keys=False, allow_unicode=True)
    # one comment per calibrated value: its 90 % interval and the prior
    lines = []
    prior_of = {p.key: p for p in priors}
    for line in body.splitlines():
        lines.append(line)
    commented = []
    stack: list[tuple[int, str]] = []
    for line in lines:
        indent = len(line) - len(line.lstrip())
        name = line.strip().split(":")[0]
        while stack and stack[-1][0] >= indent:
            stack.pop()
        stack.append((indent, name))
        key = ".".join(n for _, n in stack)
        if key in prior_of:
            lo, hi = ci[key]
            p = prior_of[key]
            line = (f"{line}  # 90% CI {_round(lo):g}-{_round(hi):g}; prior {p.kind} "
                    f"{', '.join(f'{k}={v:g}' for k, v in p.params.items())}")
        commented.append(line)
    scn_file = settings.get("scenario_file")
    if scn_file:
        rel = os.path.relpath(path.resolve(), Path(scn_file).resolve().parent)
        chain = f"#     extends: [{Path(scn_file).name}, {rel}]   (in {Path(scn_file).parent}/)"
    else:
        chain = f"#     extends: [SCENARIO.yaml, {path.name}]"
    today = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = [
        "# Calibrated parameters: weighted posterior medians of an ABC-SMC fit (pyabc).",
        "# Written by `povsim calibrate`; do not edit by hand, fit again instead.",
        "# Use it as an overlay after the scenario it was fitted on:",
        chain,
        "# (the shipped fit is the baseline's own: scenarios/baseline.yaml extends it as",
        "#  povsim:calibration/calibrated.yaml, and its own keys are not fitted)",
        f"# date: {today}",
        f"# method: ABC-SMC (pyabc), distance = sum weight*|sim-obs|/tolerance over "
        f"{len(targets.fitted)} targets, epsilon = median of the previous generation",
        f"# final epsilon: {post.epsilon:.4g} (tolerance units), after {post.generations} "
        "generations",
        "# epsilons by generation: " + ", ".join(f"{e:.4g}" for e in post.epsilons()),
        "# settings: " + ", ".join(f"{k}={v}" for k, v in settings.items()
                                   if k != "scenario_file"),
        f"# fitted scenario: {scenario.name!r} sha256 {scenario.sha256()}",
        f"# priors: {prior_file}; targets: {targets.path}",
        "# data files (sha256):",
    ]
    for f, h in sorted(targets.data_files.items()):
        head.append(f"#     {Path(f).name}: {h}")
    for f in (prior_file, str(targets.path)):
        fp = Path(f)
        if fp.is_file():
            head.append(f"#     {fp.name}: {hashlib.sha256(fp.read_bytes()).hexdigest()}")
    path.write_text("\n".join(head + commented) + "\n", encoding="utf-8")
    return path
