"""ABC-SMC calibration of a scenario against the targets file, with pyabc.

The fit (:func:`calibrate`):

* **Particles** are values of the free parameters (:mod:`povsim.calibration.priors`), applied to
  the scenario as dotted-key overrides. Each particle is run for ``replicates`` seeds and the
  target measures (:mod:`povsim.calibration.targets`) are averaged over the replicates.
* **Common random numbers**: replicate ``r`` has seed ``replicate_seed(root_seed, r)`` for every
  particle of every generation (as ``povsim sweep`` does for its experiments), so two particles
  differ by their parameters, not by their luck, and the distance is a smooth function of the
  parameters instead of a noisy one.
* **Distance**: ``sum_i weight_i * |sim_i - obs_i| / tolerance_i`` over the fitted targets. The
  tolerances come from the targets file, where each states the uncertainty of its observation
  (and the model's replicate noise at the chosen scale); distances are thus in *tolerance units*
  and the final epsilon reads directly ("every target within about one tolerance on average").
  pyabc's adaptive distance was not used: it rescales every target by the spread of the current
  population, which discards the stated tolerances and weights and makes epsilons of different
  generations incomparable.
* **Epsilon**: the median of the previous generation's distances (a pyabc ``QuantileEpsilon``
  that also holds across a resume: :class:`povsim.calibration._pyabc.MedianEpsilon`);
  generation 0 accepts every prior draw (epsilon = inf), which costs one population instead of
  pyabc's extra calibration sample.
* **Where**: ``workers=1`` runs in this process (pyabc's ``SingleCoreSampler``, reproducible:
  numpy's global generator is seeded from the root seed and the generation); otherwise pyabc's
  ``DaskDistributedSampler`` on the dask client of :class:`povsim.ensembles.execution.Runner`,
  the same local cluster (or ``scheduler`` address) as ``povsim sweep``.
* **Resumable**: the populations are stored in pyabc's SQLite database; calling again with the
  same database, scenario, priors, targets and run settings continues the stored run
  (``ABCSMC.load``) up to ``generations`` in total. A generation interrupted half-way is sampled
  again. A database holding another fit is refused (use ``overwrite=True`` or another ``db``).
* **Progress**: one tqdm bar over generations (epsilon and acceptance rate in its postfix).

Cost, measured on this 2-core machine (indicative, the machine was shared): see
:data:`TIMING_NOTE`.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from povsim.errors import PovsimError, ScenarioError

from povsim.calibration.priors import Prior, apply_values, check_against_scenario, load_priors
from povsim.calibration.targets import TargetSet, load_targets, recording_extras

__all__ = ["CalibrationInterrupted", "CalibrationResult", "Simulator", "TIMING_NOTE",
           "calibrate", "estimate_hours"]

TIMING_NOTE = """\
One particle-replicate (a run of the baseline to the end of 2016, the last target year, with the
target measures) took a median of 0.95 s at 1:500, 1.2 s at 1:200, 1.4 s at 1:100, 1.5 s at
1:50 and 2.1 s at 1:20 in one process on the project's 2-core machine while other work loaded
it (load 4-6: indicative). The cost is mostly fixed (population synthesis, 24 monthly steps).
ABC-SMC with N particles, R replicates, G generations and mean acceptance rate a after
generation 0 costs about N*R*(1 + (G-1)/a) runs: at 1:100 with N=100, R=2, G=8 and a=0.3 that
is about 4,900 runs, 0.95 h on 2 workers, which leaves a factor 2 of margin within a 2-hour
budget for dask overhead and a busy machine. `estimate_hours()` computes it for other
settings."""

#: seconds per particle-replicate (run to the end of 2016) measured by scale (see TIMING_NOTE)
SECONDS_PER_RUN = {2000: 1.1, 500: 0.95, 200: 1.2, 100: 1.4, 50: 1.5, 20: 2.1}


def estimate_hours(population_size: int, generations: int, replicates: int, scale: int,
                   workers: int = 2, acceptance: float = 0.3) -> float:
    """Rough wall time (hours) of a fit from the measured seconds per run.

    Parameters
    ----------
    population_size, generations, replicates
        As for :func:`calibrate`.
    scale
        ``population.scale``; the time per run is interpolated (log-log) from
        :data:`SECONDS_PER_RUN` and extrapolated as proportional to ``1/scale`` below 1:100.
    workers
        Parallel worker processes.
    acceptance
        Mean acceptance rate after generation 0 (0.2-0.5 is typical for ABC-SMC with a median
        epsilon schedule).

    Returns
    -------
    float
        Hours: the runs (generation 0 accepts every particle, later ones ``acceptance`` of the
        proposals) times the seconds per run, over the workers.
    """
    xs = np.log(sorted(SECONDS_PER_RUN))
    ys = np.log([SECONDS_PER_RUN[k] for k in sorted(SECONDS_PER_RUN)])
    lx = math.log(scale)
    if scale < min(SECONDS_PER_RUN):
        sec = SECONDS_PER_RUN[min(SECONDS_PER_RUN)] * min(SECONDS_PER_RUN) / scale
    else:
        sec = float(np.exp(np.interp(lx, xs, ys)))
    runs = population_size * replicates * (1 + (generations - 1) / acceptance)
    return runs * sec / max(workers, 1) / 3600.0


class CalibrationInterrupted(KeyboardInterrupt):
    """Ctrl-C during a fit; the generations finished so far are in the database."""

    def __init__(self, db: Path, generations_done: int, reason: str = "") -> None:
        super().__init__("interrupted")
        self.db = db
        self.generations_done = generations_done
        #: why the fit stopped when it was not Ctrl-C ("" for Ctrl-C)
        self.reason = reason


class Simulator:
    """The pyabc model: parameter values -> target measures averaged over the replicates.

    Picklable (it is shipped to dask workers): it holds the scenario, its data directory, the
    priors' keys, the targets and the replicate seeds.
    """

    def __init__(self, scenario: Any, base_dir: Path | None, priors: Sequence[Prior],
                 targets: TargetSet, seeds: Sequence[int]) -> None:
        self.scenario = scenario
        self.base_dir = base_dir
        self.keys = [(p.name, p.key) for p in priors]
        self.targets = targets
        self.seeds = [int(s) for s in seeds]

    def scenario_for(self, values: Mapping[str, float]) -> Any:
        """The scenario with a particle's values (by dotted key) applied."""
        return apply_values(self.scenario, values)

    def run_one(self, values: Mapping[str, float], seed: int) -> dict[str, float]:
        """The target measures of one run (one particle, one seed)."""
        from povsim.kernels import compile_small_tables
        from povsim.model import PovertyModel

        compile_small_tables()  # a calibration is many runs (see povsim.kernels)
        scn = self.scenario_for(values)
        with recording_extras(self.targets.needs()):
            ds = PovertyModel(scn, seed=seed, base_dir=self.base_dir).run(progress=False)
        return self.targets.summarize(ds)

    def __call__(self, pars: Mapping[str, float]) -> dict[str, float]:
        values = {key: float(pars[name]) for name, key in self.keys}
        try:
            self.scenario_for(values)
        except ScenarioError:
            # a draw of an unbounded prior that the schema rejects (a rate above 1): the
            # particle gets no measures, an infinite distance, and is rejected
            return {t: math.nan for t in self.targets.names}
        acc: dict[str, float] = {}
        for seed in self.seeds:
            for k, v in self.run_one(values, seed).items():
                acc[k] = acc.get(k, 0.0) + v
        return {k: v / len(self.seeds) for k, v in acc.items()}


class Distance:
    """``sum weight * |sim - obs| / tolerance`` (picklable, for pyabc)."""

    def __init__(self, targets: TargetSet) -> None:
        self.targets = targets

    def __call__(self, x: Mapping[str, Any], x_0: Mapping[str, Any]) -> float:
        return self.targets.distance({k: float(np.asarray(v)) for k, v in x.items()})


@dataclass
class CalibrationResult:
    """What :func:`calibrate` produced.

    Attributes
    ----------
    db
        The pyabc database of the fit (every generation).
    abc_id
        The fit's run id in that database.
    generations
        Generations completed.
    epsilon
        The final generation's distance threshold.
    output_dir
        Where the outputs were written.
    files
        The outputs written, by kind (posterior table, report, ...); empty without an
        output directory.
    seconds
        Wall time of the fit.
    where
        Where the simulations ran.
    posterior
        The fit as a :class:`povsim.calibration.posterior.Posterior`.
    """

    db: Path
    abc_id: int
    generations: int
    epsilon: float
    output_dir: Path
    files: dict[str, Path]
    seconds: float
    where: str
    posterior: Any  # povsim.calibration.posterior.Posterior

    def __repr__(self) -> str:
        return (f"CalibrationResult({self.generations} generations, final epsilon "
                f"{self.epsilon:.3g}, {self.seconds:.0f} s on {self.where}, "
                f"files={sorted(self.files)})")


def _pyabc_prior(priors: Sequence[Prior]) -> Any:
    import pyabc

    rvs = {}
    for p in priors:
        name, args, kwargs = p.scipy_args()
        rvs[p.name] = pyabc.RV(name, *args, **kwargs)
    return pyabc.Distribution(**rvs)


def _spec(scenario: Any, priors: Sequence[Prior], targets: TargetSet, seeds: Sequence[int],
          population_size: int) -> dict[str, Any]:
    """What identifies a fit: a stored run continues only when all of this is equal."""
    return {
        "scenario_sha256": scenario.sha256(),
        "priors": [[p.key, p.kind, dict(sorted(p.params.items()))] for p in priors],
        "targets": [[t.name, t.measure, dict(t.args), t.observed, t.tolerance, t.weight]
                    for t in targets.targets],
        "seeds": [int(s) for s in seeds],
        "population_size": int(population_size),
    }


def _spec_path(db: Path) -> Path:
    return db.with_name(db.name + ".povsim.json")


def _quiet_pyabc() -> None:
    for name in ("ABC", "pyabc", "Sampler", "History", "Epsilon", "Acceptor", "Distance",
                 "Transitions", "Adaptation", "ABC.Sampler", "ABC.History", "ABC.Distance",
                 "ABC.Epsilon", "ABC.Transition", "ABC.Adaptation", "ABC.Acceptor"):
        logging.getLogger(name).setLevel(logging.WARNING)


def calibrate(
    scenario: Any,
    targets: str | Path | TargetSet,
    priors: str | Path | Sequence[Prior],
    *,
    population_size: int = 100,
    generations: int = 6,
    replicates: int = 2,
    scale: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    scheduler: str | None = None,
    security: Any = None,
    dashboard: str | bool | None = None,
    db: str | Path = "calibration/abc.db",
    output_dir: str | Path | None = "calibration",
    overwrite: bool = False,
    min_epsilon: float = 0.0,
    end_year: int | None = None,
    progress: bool | None = None,
    report: bool = True,
    log: Callable[[str], None] | None = None,
) -> CalibrationResult:
    """Fit the free parameters of a scenario to the targets by ABC-SMC (pyabc).

    Parameters
    ----------
    scenario
        A :class:`~povsim.scenario.Scenario` or the path of a scenario file.
    targets
        The targets file (``calibration/targets.yaml``) or a loaded :class:`TargetSet`.
    priors
        The priors file (``calibration/priors.yaml``) or a list of :class:`Prior`.
    population_size
        Particles per generation.
    generations
        Generations in total (a resumed fit runs only the missing ones).
    replicates
        Runs per particle (common seeds for every particle); the measures are averaged.
    scale
        ``population.scale`` of every run (default: the scenario's).
    seed
        Root seed of the replicate seeds (default: the scenario's ``seed``).
    workers, scheduler, security, dashboard
        Where runs execute, as for ``povsim sweep`` (:class:`~povsim.ensembles.execution.Runner`):
        ``workers=1`` in this process, ``N`` a local dask cluster of ``N`` processes (default:
        one per core), ``scheduler`` an existing cluster (``security``: its TLS credentials),
        ``dashboard`` the local cluster's dashboard address.
    db
        pyabc's SQLite database (created, or resumed when it holds the same fit).
    output_dir
        Where ``posterior.csv``, ``calibrated.yaml`` and the report are written (``None``: not
        written).
    overwrite
        Discard a stored fit in ``db`` instead of resuming it.
    min_epsilon
        Stop early once epsilon falls to this value.
    end_year
        Last simulated year (default: the last year any target refers to, which saves the
        cost of simulating years no target sees).
    progress
        A tqdm bar over generations (default: on a terminal).
    report
        Also write the report (figures and ``report.md``).
    log
        Called with one-line messages.

    Returns
    -------
    CalibrationResult

    Raises
    ------
    ScenarioError
        Invalid targets or priors files, or a prior key the scenario does not have.
    PovsimError
        Bad settings, or the database holds another fit.
    CalibrationInterrupted
        Ctrl-C; finished generations are stored and the same call resumes.

    Notes
    -----
    Cost (measured, indicative): one particle-replicate to the end of 2016 takes about 1.4 s
    at 1:100 and 2.1 s at 1:20 on this 2-core machine; a fit costs about
    ``N * R * (1 + (G - 1) / a)`` runs (acceptance rate ``a`` ~ 0.3), so 1:100 with
    ``population_size=100, replicates=2, generations=8`` takes about 1 hour on 2 workers. The
    shipped fit ran at 1:25 (the coarsest scale whose observations agree with 1:10): 100
    particles, 1 replicate, 9 generations, 33 min on 2 workers. See :data:`TIMING_NOTE` and
    :func:`estimate_hours`.
    """
    import pyabc
    from tqdm.auto import tqdm

    from povsim.ensembles.execution import Runner
    from povsim.rng import replicate_seed
    from povsim.scenario import Scenario, load_scenario

    from povsim.calibration._pyabc import DaskSampler, MedianEpsilon
    from povsim.calibration.report import write_outputs

    say = log or (lambda _m: None)
    for name, v, lo in (("population_size", population_size, 2), ("generations", generations, 1),
                        ("replicates", replicates, 1)):
        if isinstance(v, bool) or int(v) < lo:
            raise PovsimError(f"--{name.replace('_', '-')} must be at least {lo}, got {v!r}")
    base_dir = None
    scenario_file = None
    if not isinstance(scenario, Scenario):
        scenario_file = Path(scenario)
        base_dir = scenario_file.resolve().parent
        scenario = load_scenario(scenario)
    tset = targets if isinstance(targets, TargetSet) else load_targets(targets)
    if isinstance(priors, str | Path):
        prior_file = str(priors)
        plist = load_priors(priors)
    else:
        prior_file, plist = "<priors>", list(priors)
    if not plist:
        raise PovsimError("no free parameters: the priors list is empty")
    upd: dict[str, Any] = {}
    if scale is not None:
        upd["population.scale"] = int(scale)
    years = [int(t.args["year"]) for t in tset.targets if "year" in t.args]
    last = end_year if end_year is not None else (max(years) if years else None)
    if upd:
        scenario = scenario.with_overrides(upd)
    if last is not None and last < scenario.calendar.end_year:
        try:
            scenario = scenario.with_overrides({"calendar.end_year": int(last)})
        except ScenarioError as exc:
            # e.g. a dated event after the last target year: simulate the whole calendar
            say(f"simulating to {scenario.calendar.end_year}, not {last}: {exc}")
    check_against_scenario(plist, scenario, prior_file)
    root = int(scenario.seed if seed is None else seed)
    seeds = [replicate_seed(root, r) for r in range(int(replicates))]
    sim = Simulator(scenario, base_dir, plist, tset, seeds)

    db = Path(db)
    if not db.parent.exists():
        raise PovsimError(f"--db: directory {db.parent} does not exist")
    if output_dir is not None and not Path(output_dir).exists():
        raise PovsimError(f"--output-dir: directory {output_dir} does not exist")
    spec = _spec(scenario, plist, tset, seeds, population_size)
    spec_file = _spec_path(db)
    if overwrite:
        db.unlink(missing_ok=True)
        spec_file.unlink(missing_ok=True)
    resume_id = None
    if db.exists():
        stored = json.loads(spec_file.read_text()) if spec_file.exists() else None
        if stored is None or stored.get("spec") != spec:
            raise PovsimError(
                f"--db {db} holds another calibration (different scenario, priors, targets, "
                "seeds or population size); pass --overwrite to discard it or choose another "
                "--db")
        resume_id = int(stored["abc_id"])

    _quiet_pyabc()
    if progress is None:
        progress = sys.stderr.isatty()
    runner = Runner(workers, scheduler, security=security, dashboard=dashboard)
    t0 = time.perf_counter()
    with runner:
        where = runner.describe()
        if runner.in_process:
            sampler: Any = pyabc.sampler.SingleCoreSampler()
        else:
            sampler = DaskSampler(runner.client)
        def smc() -> Any:
            # a fresh ABCSMC for every generation: pyabc caches the population its epsilon
            # and distance start from on the object (``_initial_population``), so running one
            # object generation by generation started every generation from generation 0's
            # distances (the epsilon never fell below generation 0's median)
            return pyabc.ABCSMC(
                sim, _pyabc_prior(plist), Distance(tset), population_size=int(population_size),
                sampler=sampler,
                eps=MedianEpsilon(),
            )

        url = f"sqlite:///{db.resolve()}"
        abc = smc()
        if resume_id is None:
            history = abc.new(url, tset.observed())
            spec_file.write_text(json.dumps({"abc_id": int(history.id), "spec": spec}))
            done = 0
        else:
            history = abc.load(url, resume_id)
            done = history.max_t + 1
        say(f"calibrating {len(plist)} parameters against {len(tset.fitted)} targets: "
            f"{generations} generations of {population_size} particles x {replicates} "
            f"replicates at 1:{scenario.population.scale} on {where}; database {db}"
            + (f" (resuming after {done} stored generations)" if done else ""))
        bar = tqdm(total=int(generations), initial=min(done, int(generations)),
                   unit="generation", desc="povsim calibrate", disable=not progress,
                   dynamic_ncols=True, file=sys.stderr)
        try:
            with runner.watch_workers():
                while done < int(generations):
                    if runner.in_process:
                        # pyabc samples with numpy's global generator: seed it per generation so a
                        # fit (and a resumed fit) is reproducible in this process
                        np.random.seed(replicate_seed(root, done, experiment=10_007) % 2**32)
                    if done:
                        abc = smc()
                        abc.load(url, int(history.id))
                    history = abc.run(max_nr_populations=1, minimum_epsilon=min_epsilon)
                    done = history.max_t + 1
                    pops = history.get_all_populations()
                    last_pop = pops[pops["t"] == history.max_t].iloc[0]
                    bar.update(1)
                    bar.set_postfix_str(f"epsilon {float(last_pop['epsilon']):.3g}, "
                                        f"{int(last_pop['samples'])} runs")
                    if float(last_pop["epsilon"]) <= min_epsilon:
                        break
        except KeyboardInterrupt:
            bar.close()
            reason = ("the local dask cluster had no working worker for two minutes: "
                      "killed from outside, or paused by dask for lack of memory"
                      if runner.lost_workers else "")
            raise CalibrationInterrupted(db, done, reason) from None
        finally:
            bar.close()
    seconds = time.perf_counter() - t0
    # sampling time of every stored generation (a resumed fit's earlier sessions included)
    walls = history.get_all_populations()["wall_time"].to_numpy(dtype=float)
    sampled = float(np.nansum(walls))
    from povsim.calibration.posterior import posterior_from_history

    post = posterior_from_history(history, plist, tset)
    files: dict[str, Path] = {}
    if output_dir is not None:
        files = write_outputs(post, plist, tset, Path(output_dir), scenario=scenario,
                              settings={"population_size": int(population_size),
                                        "generations": done, "replicates": int(replicates),
                                        "scale": int(scenario.population.scale),
                                        "root_seed": root, "end_year": scenario.calendar.end_year,
                                        "db": str(db), "abc_id": int(history.id),
                                        "where": where, "seconds": round(seconds, 1),
                                        "sampling_seconds_all_generations": round(sampled, 1),
                                        "scenario_file": scenario_file},
                              prior_file=prior_file, report=report)
    return CalibrationResult(db=db, abc_id=int(history.id), generations=done,
                             epsilon=post.epsilon, output_dir=Path(output_dir or "."),
                             files=files, seconds=seconds, where=where, posterior=post)
