"""What the explorer computes, without any user interface: settings, runs, tables, the figure.

The page (:mod:`povsim.explore.app`) is a thin layer over this module, which needs neither
Solara nor a browser, so a notebook or a script gets the very numbers the page shows::

    from povsim.explore import ExplorerSettings, run_explorer

    res = run_explorer(ExplorerSettings(policy="budget_minus30", budget_scale=0.5))
    res.table()        # P(holds) of every target: baseline, policy, difference
    res.figure()       # the fan chart of both

A comparison is a *baseline* scenario file, run as it is, and a *policy*: a scenario file with
the page's controls applied on top (``budget.scale``, ``lines.merge.year``, pathways switched on
or off). Both run with the same replicate seeds (common random numbers), so the difference is
paired, replicate by replicate, as in :func:`povsim.compare`.

Runs go through the ensemble layer (:func:`povsim.ensembles.execute`) into one ensemble store
per (scenario sha256, root seed, scale, replicates) in the explorer's cache directory: moving a
control back to a value already run, or keeping the baseline while the policy changes, reads the
stored runs instead of simulating again.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from povsim.errors import PovsimError, ScenarioError

if TYPE_CHECKING:
    import pandas as pd
    import xarray as xr

    from povsim.scenario.schema import Scenario

__all__ = [
    "DEFAULT_REPLICATES",
    "DEFAULT_SCALE",
    "MERGE_YEARS",
    "SCALES",
    "ExplorerResult",
    "ExplorerSettings",
    "RunCache",
    "pathway_names",
    "policy_overrides",
    "policy_scenarios",
    "run_explorer",
    "scenario_choices",
]

#: population scale of the explorer's runs: 1 simulated household for 2000 real ones, about
#: 3,800 households and a second or so a run (assumption: enough for the shape of the targets
#: on a laptop while a user waits; the tests use the same scale as a "small" run, tests/_support)
DEFAULT_SCALE = 2000
#: the scales offered on the page (assumption: 1:5000 for a first look in seconds, 1:500 for
#: numbers closer to the full model; a larger sample is for `povsim compare`)
SCALES = (5000, 2000, 1000, 500)
#: replicates per scenario (assumption: 4 gives a visible fan and a rough P(holds); the Wilson
#: intervals on the page say how rough)
DEFAULT_REPLICATES = 4
#: years offered for the dibao-poverty line merge (两线合一, seed (七)): the campaign's years
#: 2015-2020 of domain.md §1; "never" keeps the lines apart
MERGE_YEARS: tuple[int, ...] = (2015, 2016, 2017, 2018, 2019, 2020)
#: environment variables the served page reads its starting values from (set by
#: :func:`povsim.explore.server.serve`)
ENV_SCALE = "POVSIM_EXPLORE_SCALE"
ENV_REPLICATES = "POVSIM_EXPLORE_REPLICATES"
ENV_CACHE = "POVSIM_EXPLORE_CACHE"
#: the control's value "as in the scenario file"
AS_IN_FILE: Literal["file"] = "file"

ProgressCallback = Callable[[int, int, str], None]


# ---------------------------------------------------------------------------------------------
# the choices and the settings
# ---------------------------------------------------------------------------------------------
def scenario_choices() -> list[str]:
    """The names of the installed scenario library (``povsim scenarios``), ``baseline`` first."""
    from povsim.library import library_scenarios

    return [s.name for s in library_scenarios()]


def pathway_names(scenario: Scenario) -> list[str]:
    """The pathways of ``scenario`` that can be switched on or off (built-ins, then users')."""
    return [name for name, cfg in scenario.pathways.all().items() if hasattr(cfg, "enabled")]


@dataclass(frozen=True)
class ExplorerSettings:
    """What the page's controls say: which files, the policy's levers, and how much to run.

    Parameters
    ----------
    baseline
        The baseline scenario: a library name (``povsim scenarios``) or a file path.
    policy
        The policy scenario file (library name or path) the levers below are applied to.
    budget_scale
        ``budget.scale`` of the policy (ratio: 1.0 is the sourced budget); ``None`` keeps the
        file's value.
    merge_year
        ``lines.merge.year`` of the policy: a year, ``"never"`` (the lines are not merged), or
        ``"file"`` to keep the file's value.
    pathways
        ``{pathway: enabled}`` for the pathways the policy switches on or off
        (``pathways.<name>.enabled``); pathways not named keep the file's setting.
    scale
        Simulate 1 in ``scale`` households (``population.scale``, for both scenarios).
    replicates
        Runs per scenario.
    seed
        Root seed (default: the baseline's ``seed``).
    """

    baseline: str = "baseline"
    policy: str = "baseline"
    budget_scale: float | None = None
    merge_year: int | Literal["never", "file"] = AS_IN_FILE
    pathways: Mapping[str, bool] = field(default_factory=dict)
    scale: int = DEFAULT_SCALE
    replicates: int = DEFAULT_REPLICATES
    seed: int | None = None

    def __post_init__(self) -> None:
        # an immutable, hashable copy of the pathway switches (the page compares settings)
        object.__setattr__(self, "pathways", _FrozenDict(dict(self.pathways)))
        for name, value in (("scale", self.scale), ("replicates", self.replicates)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise PovsimError(f"explorer setting {name!r} must be a positive integer, got "
                                  f"{value!r}")
        if self.budget_scale is not None and (
                isinstance(self.budget_scale, bool) or not isinstance(self.budget_scale,
                                                                      (int, float))):
            raise PovsimError(f"explorer setting 'budget_scale' must be a number (ratio), got "
                              f"{self.budget_scale!r}")
        if not (self.merge_year in ("never", AS_IN_FILE)
                or (isinstance(self.merge_year, int) and not isinstance(self.merge_year, bool))):
            raise PovsimError(f"explorer setting 'merge_year' must be a year, 'never' or "
                              f"'file', got {self.merge_year!r}")
        for name, on in self.pathways.items():
            if not isinstance(on, bool):
                raise PovsimError(f"explorer setting 'pathways': {name!r} must be true or "
                                  f"false, got {on!r}")


class _FrozenDict(dict):  # type: ignore[type-arg]
    """A dict that cannot change and can be hashed (for the frozen settings)."""

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items())))

    def _immutable(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("the explorer settings are immutable; use dataclasses.replace")

    __setitem__ = __delitem__ = _immutable  # type: ignore[assignment]
    clear = pop = popitem = setdefault = update = _immutable  # type: ignore[assignment]


def policy_overrides(settings: ExplorerSettings) -> dict[str, Any]:
    """The dotted-key overrides the settings apply to the policy file (``--set`` form)."""
    out: dict[str, Any] = {}
    if settings.budget_scale is not None:
        out["budget.scale"] = float(settings.budget_scale)
    if settings.merge_year != AS_IN_FILE:
        out["lines.merge.year"] = None if settings.merge_year == "never" else \
            int(settings.merge_year)
    for name, on in sorted(settings.pathways.items()):
        out[f"pathways.{name}.enabled"] = bool(on)
    return out


def load_choice(source: str, overrides: Mapping[str, Any] | None = None
                ) -> tuple[Scenario, str]:
    """Load a scenario choice (library name or path) with overrides; also its data directory.

    Raises
    ------
    PovsimError
        No such file or library name, an invalid file or override (the message names the file
        and the key), or a data file the scenario names is missing.
    """
    from povsim.library import resolve_scenario_path
    from povsim.population.data import check_inputs
    from povsim.scenario import load_scenario

    text = str(source).strip()
    if not text:
        raise PovsimError("choose a scenario: a library name (povsim scenarios) or a file path")
    path = resolve_scenario_path(text)
    if not path.is_file():
        names = ", ".join(scenario_choices())
        raise PovsimError(f"{text}: no such scenario file, and not a library name ({names})")
    try:
        scn = load_scenario(path, overrides=dict(overrides) if overrides else None)
    except ScenarioError as exc:
        if not str(exc).startswith("overrides"):
            raise  # the file itself: the message names it
        # a lever the schema refuses: say which scenario it was applied to
        raise PovsimError(f"{text} ({path.name}) with the explorer's {exc}") from None
    base_dir = path.resolve().parent
    check_inputs(scn, base_dir, file=str(path))
    return scn, str(base_dir)


# ---------------------------------------------------------------------------------------------
# the cache of runs
# ---------------------------------------------------------------------------------------------
class RunCache:
    """Ensemble stores of the explorer's runs, one per (scenario, seed, scale, replicates).

    Each entry is a store written by :func:`povsim.ensembles.execute` (resumable: a run
    interrupted half way keeps the replicates it finished); the last results read are also kept
    in memory.

    Parameters
    ----------
    directory
        Where the stores live. ``None``: a temporary directory, removed when the cache is
        garbage-collected or the process ends.
    memory
        How many results to keep in memory (assumption: 16 small ensembles of a few MB each).
    """

    def __init__(self, directory: str | Path | None = None, memory: int = 16) -> None:
        if directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="povsim-explore-"))
            self._cleanup = weakref.finalize(self, shutil.rmtree, str(self.directory), True)
        else:
            self.directory = Path(directory)
            if self.directory.exists() and not self.directory.is_dir():
                raise PovsimError(f"--cache: {self.directory} exists and is not a directory")
            self.directory.mkdir(parents=True, exist_ok=True)
        self._memory: OrderedDict[str, xr.Dataset] = OrderedDict()
        self._size = max(1, int(memory))
        self._lock = threading.Lock()
        #: simulations computed (not read from a store) since the cache was made
        self.computed = 0

    @staticmethod
    def key(scenario: Scenario, seed: int, replicates: int) -> str:
        """The entry's name: a digest of the scenario's sha256, the seed, scale and replicates."""
        ident = {"scenario_sha256": scenario.sha256(), "seed": int(seed),
                 "scale": int(scenario.population.scale), "replicates": int(replicates)}
        blob = json.dumps(ident, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:20]

    def __contains__(self, key: str) -> bool:
        return key in self._memory or (self.directory / f"{key}.zarr").exists()

    def runs(self, scenario: Scenario, base_dir: str | None, seed: int, replicates: int,
             on_run: Callable[[int, int], None] | None = None) -> xr.Dataset:
        """The runs of ``scenario`` (dims ``scenario`` of one label ``"run"``, ``replicate``...).

        Computed in this process, one after the other, unless a store already holds them;
        ``on_run(done, total)`` is called as each run finishes.
        """
        from povsim.ensembles.execution import execute, load
        from povsim.ensembles.store import Experiment, Plan

        key = self.key(scenario, seed, replicates)
        with self._lock:
            if key in self._memory:
                self._memory.move_to_end(key)
                if on_run is not None:
                    on_run(replicates, replicates)
                return self._memory[key]
            path = self.directory / f"{key}.zarr"
            plan = Plan(dim="scenario", experiments=[Experiment(label="run", scenario=scenario,
                                                                base_dir=base_dir)])
            report = execute([plan], replicates=replicates, root_seed=seed, path=path,
                             workers=1, progress=False, attrs={"title": "povsim explorer"},
                             on_run=on_run)
            self.computed += report.computed
            ds = load(path, in_memory=True)
            self._memory[key] = ds
            while len(self._memory) > self._size:
                self._memory.popitem(last=False)
            return ds


_DEFAULT_CACHE: RunCache | None = None


def default_cache() -> RunCache:
    """The process's cache (a temporary directory), shared by the page and :func:`run_explorer`."""
    global _DEFAULT_CACHE
    if _DEFAULT_CACHE is None:
        _DEFAULT_CACHE = RunCache()
    return _DEFAULT_CACHE


# ---------------------------------------------------------------------------------------------
# a comparison
# ---------------------------------------------------------------------------------------------
@dataclass
class ExplorerResult:
    """One comparison of the explorer: the runs, their target summary and the differences.

    Attributes
    ----------
    settings
        What was asked.
    runs
        The runs, dims ``scenario`` (``baseline``, ``policy``), ``replicate``, ``year``, ...
        as :func:`povsim.compare` returns them.
    summary
        :func:`povsim.ensembles.summarize_targets` of ``runs`` (``p_held`` with its Wilson
        interval, median year met, shortfall, cost), dims ``scenario, target``.
    differences
        :func:`povsim.ensembles.paired_differences`, policy minus baseline (Student-t
        intervals over the paired replicates).
    baseline_name, policy_name
        The scenarios' ``name`` fields.
    overrides
        The keys the settings change in the policy file (those equal to the file's value are
        left out).
    computed
        Simulations run for this comparison (0: everything came from the cache).
    """

    settings: ExplorerSettings
    runs: xr.Dataset
    summary: xr.Dataset
    differences: xr.Dataset
    baseline_name: str
    policy_name: str
    overrides: dict[str, Any]
    computed: int = 0
    _figure: Any = field(default=None, repr=False, compare=False)

    @property
    def interval(self) -> float:
        """Confidence level of the intervals (0.9)."""
        return float(self.differences["diff_p_held"].attrs.get("level", 0.9))

    def describe(self) -> str:
        """One line: what the policy is, relative to which baseline, at what scale."""
        keys = ", ".join(f"{k} = {_show(v)}" for k, v in self.overrides.items())
        pol = self.policy_name + (f" with {keys}" if keys else "")
        s = self.settings
        return (f"policy: {pol}; baseline: {self.baseline_name}; {s.replicates} runs each at "
                f"1:{s.scale}, root seed {int(self.runs.attrs.get('root_seed', -1))}")

    def table(self) -> pd.DataFrame:
        """The targets: P(holds) in the baseline and the policy, and the paired difference.

        Returns
        -------
        pandas.DataFrame
            One row per target (index: the target's label); columns ``baseline``,
            ``policy`` (share of runs in which the target holds), ``difference`` (policy minus
            baseline, paired) and ``low``/``high`` (its interval at :attr:`interval`).
        """
        import pandas as pd

        from povsim.plotting.names import target_label

        p = self.summary["p_held"]
        d = self.differences
        rows = []
        for t in [str(x) for x in p["target"].values]:
            rows.append({
                "target": target_label(t),
                "baseline": float(p.sel(scenario="baseline", target=t)),
                "policy": float(p.sel(scenario="policy", target=t)),
                "difference": float(d["diff_p_held"].sel(scenario="policy", target=t)),
                "low": float(d["diff_p_held_lo"].sel(scenario="policy", target=t)),
                "high": float(d["diff_p_held_hi"].sel(scenario="policy", target=t)),
            })
        return pd.DataFrame(rows).set_index("target")

    def outcomes(self) -> pd.DataFrame:
        """Registered poor left at the last year end and money spent: baseline, policy and the
        paired difference (with its interval).

        Returns
        -------
        pandas.DataFrame
            Rows ``registered poor at year end <last year> (persons)`` and ``money spent,
            all years (yuan)``; columns as in :meth:`table`.
        """
        import pandas as pd

        last = int(self.runs["year"].values[-1])
        s, d = self.summary, self.differences
        rows = []
        for name, var, diff in (
                (f"registered poor at year end {last} (persons)", "registered_poor_end",
                 "registered_poor_end"),
                ("money spent, all years (yuan)", "cost_mean", "cost")):
            rows.append({
                "outcome": name,
                "baseline": float(s[var].sel(scenario="baseline")),
                "policy": float(s[var].sel(scenario="policy")),
                "difference": float(d[f"diff_{diff}"].sel(scenario="policy")),
                "low": float(d[f"diff_{diff}_lo"].sel(scenario="policy")),
                "high": float(d[f"diff_{diff}_hi"].sel(scenario="policy")),
            })
        return pd.DataFrame(rows).set_index("outcome")

    def figure(self) -> Any:
        """The fan chart of the registered poor, baseline and policy
        (:func:`povsim.plotting.plot_trajectory`; drawn once, the same Figure afterwards)."""
        if self._figure is None:
            from povsim.plotting import plot_trajectory

            self._figure = plot_trajectory(self.runs)
        return self._figure

    def table_html(self) -> str:
        """:meth:`table` and :meth:`outcomes` as one HTML table (what the page shows)."""
        from html import escape

        level = f"{100 * self.interval:.0f}%"
        head = ("<tr><th>target</th><th>baseline P(holds)</th><th>policy P(holds)</th>"
                f"<th>policy minus baseline [{level} interval]</th></tr>")
        body = []
        for label, r in self.table().iterrows():
            body.append(
                f"<tr><td>{escape(str(label))}</td><td class='num'>{r['baseline']:.2f}</td>"
                f"<td class='num'>{r['policy']:.2f}</td><td class='num'>"
                f"{_signed(r['difference'], 2)} [{_signed(r['low'], 2)}, "
                f"{_signed(r['high'], 2)}]</td></tr>")
        body.append("<tr><th>outcome (mean of the runs)</th><th>baseline</th><th>policy</th>"
                    f"<th>policy minus baseline [{level} interval]</th></tr>")
        for label, r in self.outcomes().iterrows():
            yuan = "yuan" in str(label)
            fmt = (lambda v, sign=False: _bn(v, sign)) if yuan else _persons
            body.append(
                f"<tr><td>{escape(str(label))}</td><td class='num'>{fmt(r['baseline'])}</td>"
                f"<td class='num'>{fmt(r['policy'])}</td><td class='num'>"
                f"{fmt(r['difference'], True)} [{fmt(r['low'], True)}, "
                f"{fmt(r['high'], True)}]</td></tr>")
        return ("<table class='povsim-targets'>" + head + "".join(body) + "</table>")


def _value_at(scenario: Scenario, dotted: str) -> Any:
    """The value of a dotted key (``pathways.dibao.enabled``) in a scenario."""
    node: Any = scenario
    for part in dotted.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return node


def _show(v: Any) -> str:
    return "never" if v is None else ("on" if v is True else "off" if v is False else f"{v:g}"
                                       if isinstance(v, float) else str(v))


def _nan(v: float) -> bool:
    return v != v  # noqa: PLR0124 - NaN test without numpy


def _signed(v: float, digits: int) -> str:
    return "-" if _nan(v) else f"{v:+.{digits}f}"


def _persons(v: float, sign: bool = False) -> str:
    return "-" if _nan(v) else (f"{v:+,.0f}" if sign else f"{v:,.0f}")


def _bn(v: float, sign: bool = False) -> str:
    return "-" if _nan(v) else (f"{v / 1e9:+,.2f} bn" if sign else f"{v / 1e9:,.2f} bn")


def policy_scenarios(settings: ExplorerSettings
                     ) -> tuple[Scenario, str, Scenario, str, dict[str, Any]]:
    """The scenarios a comparison runs, before running them.

    Returns
    -------
    (baseline, baseline_dir, policy, policy_dir, changed)
        Both scenarios at the settings' scale, with their data directories, and the overrides
        that change the policy file (:func:`policy_overrides` without the keys whose value is
        already the file's).

    Raises
    ------
    PovsimError
        As :func:`run_explorer`.
    """
    scale = {"population.scale": int(settings.scale)}
    base, base_dir = load_choice(settings.baseline, scale)
    overrides = policy_overrides(settings)
    pol, pol_dir = load_choice(settings.policy, {**overrides, **scale})
    as_file, _ = load_choice(settings.policy, scale)
    changed = {k: v for k, v in overrides.items() if _value_at(as_file, k) != v}
    return base, base_dir, pol, pol_dir, changed


def run_explorer(settings: ExplorerSettings | None = None, *, cache: RunCache | None = None,
                 on_progress: ProgressCallback | None = None) -> ExplorerResult:
    """Run (or read from the cache) the baseline and the policy of ``settings``.

    Parameters
    ----------
    settings
        The page's controls (default: the baseline against itself).
    cache
        Where runs are stored (default: the process's cache, a temporary directory).
    on_progress
        Called as ``on_progress(done, total, message)`` before the first run and after each
        (``done`` of ``total`` runs of this comparison).

    Returns
    -------
    ExplorerResult

    Raises
    ------
    PovsimError
        A scenario that cannot be found or loaded, an override the schema refuses (the message
        names the file and the key), or a failed run.
    """
    import xarray as xr

    from povsim.ensembles.compare import paired_differences, summarize_targets

    s = settings or ExplorerSettings()
    cache = cache or default_cache()
    base, base_dir, pol, pol_dir, changed = policy_scenarios(s)
    seed = int(base.seed if s.seed is None else s.seed)
    same = base.sha256() == pol.sha256() and base_dir == pol_dir
    n = s.replicates
    total = n if same else 2 * n
    before = cache.computed
    say = on_progress or (lambda _d, _t, _m: None)
    say(0, total, f"baseline {base.name}: {n} runs")
    ds_b = cache.runs(base, base_dir, seed, n,
                      on_run=lambda done, _tot: say(done, total, f"baseline {base.name}"))
    if same:
        ds_p = ds_b
    else:
        say(n, total, f"policy {pol.name}: {n} runs")
        ds_p = cache.runs(pol, pol_dir, seed, n,
                          on_run=lambda done, _tot: say(n + done, total, f"policy {pol.name}"))
    runs = xr.concat([ds_b.assign_coords(scenario=["baseline"]),
                      ds_p.assign_coords(scenario=["policy"])], dim="scenario",
                     data_vars="minimal", coords="minimal", compat="override",
                     combine_attrs="override")
    runs.attrs.update({"title": "povsim explorer", "root_seed": seed, "dim": "scenario"})
    summary = summarize_targets(runs)
    diffs = paired_differences(runs, 0)
    say(total, total, "done")
    return ExplorerResult(settings=s, runs=runs, summary=summary, differences=diffs,
                          baseline_name=base.name, policy_name=pol.name, overrides=changed,
                          computed=cache.computed - before)
