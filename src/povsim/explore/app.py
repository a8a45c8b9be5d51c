"""The explorer's page: Solara components over :mod:`povsim.explore.core`.

:func:`Explorer` is the whole page as one component: in JupyterLab, make it the last
expression of a cell (or ``display(Explorer())``); ``povsim explore`` serves :func:`Page`, the
same component, at an address a browser opens. Requires Solara (``pip install
"povsim[explore]"``).

The page's controls set an :class:`~povsim.explore.core.ExplorerSettings`; *Run* hands it to
:func:`~povsim.explore.core.run_explorer` in a background thread (the page stays responsive and
shows how many runs are done) and draws the result: the fan chart, the target table and the
difference from the baseline.
"""

from __future__ import annotations

import os
from html import escape
from typing import Any

# pandas, xarray and matplotlib are imported here, before any run: the runs import them in a
# background thread, and a render of the page meanwhile (reacton checks values against
# ``pandas.DataFrame``) would otherwise meet a half-imported pandas
import matplotlib.figure  # noqa: F401
import pandas  # noqa: F401
import solara
import solara.lab
import xarray  # noqa: F401

from povsim.errors import PovsimError

from .core import (
    DEFAULT_REPLICATES,
    DEFAULT_SCALE,
    ENV_CACHE,
    ENV_REPLICATES,
    ENV_SCALE,
    MERGE_YEARS,
    SCALES,
    ExplorerResult,
    ExplorerSettings,
    RunCache,
    default_cache,
    load_choice,
    pathway_names,
    run_explorer,
    scenario_choices,
)

__all__ = ["Explorer", "Page"]

#: the page's styles: tables readable at a glance (assumption: the report's look, smaller)
CSS = """
.povsim-targets { border-collapse: collapse; font-size: 14px; margin: 8px 0; }
.povsim-targets th, .povsim-targets td { border-bottom: 1px solid #ddd; padding: 4px 10px;
  text-align: left; }
.povsim-targets td.num { text-align: right; font-variant-numeric: tabular-nums; }
.povsim-targets th { background: #f4f4f4; }
.povsim-note { color: #555; font-size: 13px; }
"""

#: what the merge-year control offers: the campaign's years and "never"
MERGE_CHOICES = [str(y) for y in MERGE_YEARS] + ["never"]
#: the budget.scale slider (ratio of the sourced budget): 0 to 2 in steps of 0.05 (assumption:
#: from no money to twice the sourced budget covers every question the scenario library asks)
BUDGET_MIN, BUDGET_MAX, BUDGET_STEP = 0.0, 2.0, 0.05


def _file_levers(source: str) -> tuple[float, str, dict[str, bool]] | str:
    """The policy file's own lever values (budget.scale, merge year, pathways), or an error."""
    try:
        scn, _ = load_choice(source)
    except PovsimError as exc:
        return str(exc)
    year = scn.lines.merge.year
    merge = "never" if year is None else str(year)
    return (float(scn.budget.scale), merge,
            {name: bool(scn.pathways.all()[name].enabled) for name in pathway_names(scn)})


@solara.component
def Explorer(cache: RunCache | None = None, scale: int = DEFAULT_SCALE,
             replicates: int = DEFAULT_REPLICATES, policy: str = "baseline",
             run_on_start: bool = True) -> Any:
    """The explorer: choose a baseline and a policy, move its levers, run, compare.

    Parameters
    ----------
    cache
        Where runs are kept (default: the process's :func:`~povsim.explore.core.default_cache`).
    scale, replicates
        The initial population scale (1 in ``scale`` households) and runs per scenario.
    policy
        The initial policy file (library name or path).
    run_on_start
        Run the initial comparison as soon as the page shows.
    """
    cache = cache or default_cache()
    library = solara.use_memo(scenario_choices, [])
    choices = solara.use_reactive(list(library))
    baseline = solara.use_reactive("baseline" if "baseline" in library else library[0])
    policy_file = solara.use_reactive(policy)
    path_text = solara.use_reactive("")
    path_error = solara.use_reactive("")
    budget = solara.use_reactive(1.0)
    merge = solara.use_reactive("2017")
    switches = solara.use_reactive({})
    scale_r = solara.use_reactive(str(scale))
    reps = solara.use_reactive(int(replicates))
    progress = solara.use_reactive((0, 0, ""))
    file_error = solara.use_reactive("")

    def reset_levers() -> None:
        levers = _file_levers(policy_file.value)
        if isinstance(levers, str):
            file_error.set(levers)
            return
        file_error.set("")
        budget.set(levers[0])
        merge.set(levers[1])
        switches.set(levers[2])

    solara.use_effect(reset_levers, [policy_file.value])

    def settings(levers: tuple[float, str, dict[str, bool]] | None = None) -> ExplorerSettings:
        money, year, on = levers or (budget.value, merge.value, switches.value)
        return ExplorerSettings(
            baseline=baseline.value, policy=policy_file.value,
            budget_scale=round(float(money), 4),
            merge_year="never" if year == "never" else int(year),
            pathways=dict(on), scale=int(scale_r.value), replicates=int(reps.value))

    def compute(s: ExplorerSettings) -> ExplorerResult:
        res = run_explorer(s, cache=cache,
                           on_progress=lambda d, t, m: progress.set((d, t, m)))
        res.figure()  # drawn here, in the background, not while the page renders
        return res

    task = solara.lab.use_task(compute, dependencies=None, raise_error=False)

    def start() -> None:
        # the file's levers, not the controls': those are set by reset_levers in this same
        # first render, after this function was made
        levers = _file_levers(policy_file.value)
        if run_on_start and not isinstance(levers, str):
            task(settings(levers))

    solara.use_effect(start, [])

    def add_path() -> None:
        text = path_text.value.strip()
        if not text:
            return
        from povsim.library import resolve_scenario_path

        if not resolve_scenario_path(text).is_file():
            path_error.set(f"{text}: no such scenario file")
            return
        path_error.set("")
        if text not in choices.value:
            choices.set([*choices.value, text])
        policy_file.set(text)

    with solara.Column(classes=["povsim-explorer"]) as main:
        solara.Style(CSS)
        with solara.Columns([1, 3]):
            with solara.Card("Policy", classes=["povsim-controls"]):
                solara.Select("baseline scenario", values=choices.value, value=baseline,
                              classes=["povsim-baseline"])
                solara.Select("policy scenario", values=choices.value, value=policy_file,
                              classes=["povsim-policy"])
                solara.InputText("or a scenario file path (Enter)", value=path_text,
                                 on_value=lambda _v: add_path(),
                                 error=path_error.value or False,
                                 classes=["povsim-path"])
                if file_error.value:
                    solara.Error(file_error.value)
                solara.Text("budget.scale: x the sourced money", classes=["povsim-note"])
                # room above each slider for its value, shown on the thumb
                with solara.Div(classes=["povsim-budget"], style="padding-top: 30px"):
                    solara.SliderFloat("budget.scale", value=budget,
                                       min=BUDGET_MIN, max=BUDGET_MAX, step=BUDGET_STEP,
                                       thumb_label="always")
                solara.Select("dibao-poverty line merge year (lines.merge.year)",
                              values=MERGE_CHOICES if merge.value in MERGE_CHOICES
                              else [*MERGE_CHOICES, merge.value],
                              value=merge, classes=["povsim-merge"])
                solara.Text("pathways of the policy", classes=["povsim-note"])
                for name in sorted(switches.value, key=list(switches.value).index):
                    solara.Switch(label=name.replace("_", " "), value=switches.value[name],
                                  on_value=lambda on, n=name: switches.set(
                                      {**switches.value, n: bool(on)}),
                                  classes=[f"povsim-pathway-{name}"])
                solara.Select("population scale (1 in K households)",
                              values=[str(k) for k in sorted({*SCALES, int(scale)},
                                                             reverse=True)], value=scale_r,
                              classes=["povsim-scale"])
                with solara.Div(classes=["povsim-replicates"], style="padding-top: 30px"):
                    solara.SliderInt("runs per scenario", value=reps, min=1, max=20,
                                     thumb_label="always")
                solara.Button("Run", color="primary", on_click=lambda: task(settings()),
                              disabled=task.pending, classes=["povsim-run"])
            with solara.Column():
                done, total, what = progress.value
                if task.pending:
                    solara.ProgressLinear(100.0 * done / total if total else True)
                    solara.Text(f"{done} of {total} runs ({what})", classes=["povsim-progress"])
                if task.error:
                    exc = task.exception
                    solara.Error(str(exc) if isinstance(exc, PovsimError) else
                                 f"{type(exc).__name__}: {exc}", classes=["povsim-error"])
                res = task.value if task.finished else None
                if res is not None:
                    # HTML, not Markdown: Solara's Markdown loads a maths renderer from a CDN
                    solara.HTML(tag="p", unsafe_innerHTML=(
                        f"<b>{escape(res.describe())}</b>; runs computed now: {res.computed} "
                        "(the others from the cache)"), classes=["povsim-describe"])
                    solara.HTML(tag="div", unsafe_innerHTML=res.table_html(),
                                classes=["povsim-table"])
                    solara.Text("P(holds): share of the runs in which the target holds; the "
                                "difference is paired run by run (same seeds, common random "
                                "numbers) with a Student-t interval. Small scales and few runs "
                                "give rough numbers: povsim compare runs more.",
                                classes=["povsim-note"])
                    with solara.Div(classes=["povsim-figure"]):
                        solara.FigureMatplotlib(res.figure(), format="png", dependencies=[res])
                elif not task.pending and not task.error:
                    solara.Info("Choose a policy and press Run.")
    return main


def _env_int(name: str, default: int) -> int:
    try:
        return max(1, int(os.environ.get(name, default)))
    except ValueError:
        return default


_PAGE_CACHES: dict[str, RunCache] = {}


def _page_cache() -> RunCache:
    """The server's cache: the ``--cache`` directory if given, else the process's own."""
    where = os.environ.get(ENV_CACHE)
    if not where:
        return default_cache()
    if where not in _PAGE_CACHES:
        _PAGE_CACHES[where] = RunCache(where)
    return _PAGE_CACHES[where]


@solara.component
def Page() -> Any:
    """The page ``povsim explore`` serves: a title and the :func:`Explorer`."""
    with solara.Column(style={"padding": "12px"}) as page:
        solara.Title("povsim explorer")
        solara.HTML(tag="h2", unsafe_innerHTML="povsim explorer: compare a policy with the "
                                               "baseline")
        Explorer(cache=_page_cache(), scale=_env_int(ENV_SCALE, DEFAULT_SCALE),
                 replicates=_env_int(ENV_REPLICATES, DEFAULT_REPLICATES))
    return page
