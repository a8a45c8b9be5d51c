"""Running an ensemble on dask.distributed, one task per (experiment, replicate).

Every run is an independent task keyed by ``(group, experiment, replicate)``. Its seed is
:func:`povsim.rng.replicate_seed` of the root seed and the replicate — the same for every
experiment (common random numbers) unless ``crn=False`` — so a run's result depends only on its
scenario and its seed: it is bit-identical whatever the number of workers, the cluster, or the
order in which runs finish. Results stream into an :class:`~povsim.ensembles.store.EnsembleStore`
as they arrive; runs already stored are not computed again.

Where runs execute (:class:`Runner`):

* ``workers=1`` — in this process, one after the other (no dask at all);
* ``workers=N`` (default: the machine's cores) — a :class:`distributed.LocalCluster` of ``N``
  single-threaded worker processes, started and stopped around the ensemble;
* ``scheduler="tcp://HOST:PORT"`` — an existing dask cluster (its workers must be able to
  import povsim and read the scenarios' data files).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.rng import replicate_seed

from .runs import simulate
from .store import EnsembleStore, Plan, make_spec, open_ensemble

__all__ = ["EnsembleInterrupted", "ExecutionReport", "Runner", "Task", "default_workers",
           "execute", "run_seeds"]


def default_workers() -> int:
    """Workers of the default local cluster: one per core."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class Task:
    """One run: which experiment and replicate, with what seed."""

    plan: int
    experiment: int
    replicate: int
    seed: int
    key: str


@dataclass
class ExecutionReport:
    """What :func:`execute` did."""

    path: Path
    total: int
    already: int = 0
    computed: int = 0
    failed: list[tuple[Task, str]] = field(default_factory=list)
    seconds: float = 0.0
    where: str = ""

    @property
    def runs_per_minute(self) -> float:
        return 60.0 * self.computed / self.seconds if self.seconds > 0 else float("nan")


class EnsembleInterrupted(KeyboardInterrupt):
    """Ctrl-C during an ensemble; carries the report of what was stored."""

    def __init__(self, report: ExecutionReport) -> None:
        super().__init__("interrupted")
        self.report = report


def run_seeds(plans: Sequence[Plan], replicates: int, root_seed: int, crn: bool = True
              ) -> list[np.ndarray]:
    """Seeds of every run: per plan a ``(replicate,)`` array (CRN) or ``(experiment, replicate)``.

    With common random numbers every experiment shares the replicate's seed; without, each
    experiment of each plan gets its own (:func:`replicate_seed` with an experiment index).
    """
    out = []
    offset = 0
    for p in plans:
        if crn:
            out.append(np.array([replicate_seed(root_seed, r) for r in range(replicates)],
                                dtype=np.int64))
        else:
            out.append(np.array([[replicate_seed(root_seed, r, experiment=offset + e)
                                  for r in range(replicates)]
                                 for e in range(len(p.experiments))], dtype=np.int64))
        offset += len(p.experiments)
    return out


class Runner:
    """Where the runs of an ensemble execute (a context manager).

    Parameters
    ----------
    workers
        ``1``: in this process; ``N``: a local cluster of ``N`` worker processes (default: one
        per core). Ignored when ``scheduler`` is given.
    scheduler
        Address of an existing dask scheduler (``tcp://HOST:PORT``).
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
            raise PovsimError(f"--workers must be at least 1, got {workers!r}")
        self.workers = default_workers() if workers is None else int(workers)
        self.scheduler = scheduler
        self.client: Any = None
        self.cluster: Any = None

    @property
    def in_process(self) -> bool:
        return self.scheduler is None and self.workers == 1

    def describe(self) -> str:
        if self.scheduler:
            n = ""
            if self.client is not None:
                try:
                    n = f" ({len(self.client.scheduler_info().get('workers', {}))} workers)"
                except Exception:  # noqa: BLE001 - informational only
                    n = ""
            return f"the dask cluster at {self.scheduler}{n}"
        if self.in_process:
            return "this process"
        return f"a local dask cluster of {self.workers} workers"

    def __enter__(self) -> Runner:
        if self.in_process:
            return self
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="10s")
            except (OSError, TimeoutError, ValueError) as exc:
                raise PovsimError(f"cannot connect to the dask scheduler at {self.scheduler}: "
                                  f"{exc}") from None
            return self
        import dask

        # dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which also pins glibc's mmap
        # threshold: every large numpy temporary is then mapped and unmapped, and a 1:10 run
        # takes three times as long as in this process. povsim's workers go without it.
        env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
        with dask.config.set({"distributed.nanny.pre-spawn-environ": env}):
            self.cluster = LocalCluster(
                n_workers=self.workers, threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.CRITICAL,
            )
        self.client = Client(self.cluster)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except Exception:  # noqa: BLE001 - shutting down anyway
                pass
            self.client = None
        if self.cluster is not None:
            try:
                self.cluster.close()
            except Exception:  # noqa: BLE001
                pass
            self.cluster = None

    def run(self, tasks: Sequence[Task], plans: Sequence[Plan], attribution: bool
            ) -> Iterator[tuple[Task, xr.Dataset | BaseException]]:
        """Yield ``(task, result or exception)`` as runs finish."""
        if self.in_process:
            for t in tasks:
                exp = plans[t.plan].experiments[t.experiment]
                try:
                    res: xr.Dataset | BaseException = simulate(
                        exp.scenario, t.seed, exp.base_dir, attribution=attribution)
                except Exception as exc:  # noqa: BLE001 - reported, others continue
                    res = exc
                yield t, res
            return
        from distributed import as_completed

        client = self.client
        futures = {}
        for t in tasks:
            exp = plans[t.plan].experiments[t.experiment]
            fut = client.submit(simulate, exp.scenario, t.seed, exp.base_dir,
                                attribution=attribution, key=t.key, pure=False)
            futures[fut.key] = (fut, t)
        done_keys: set[str] = set()
        try:
            for fut in as_completed([f for f, _ in futures.values()]):
                t = futures[fut.key][1]
                if fut.status == "error":
                    try:
                        exc = fut.exception()
                    except Exception as e:  # noqa: BLE001
                        exc = e
                    res = exc if isinstance(exc, BaseException) else RuntimeError(str(exc))
                else:
                    try:
                        res = fut.result()
                    except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker
                        res = exc
                done_keys.add(fut.key)
                fut.release()
                yield t, res
        finally:
            pending = [f for k, (f, _) in futures.items() if k not in done_keys]
            if pending:
                try:
                    client.cancel(pending)
                except Exception:  # noqa: BLE001
                    pass


def _task_key(spec: dict[str, Any], group: str, e: int, r: int) -> str:
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:12]
    return f"povsim-run-{digest}-{group or 'root'}-{e}-{r}"


def execute(
    plans: Sequence[Plan],
    *,
    replicates: int,
    root_seed: int,
    path: str | Path,
    workers: int | None = None,
    scheduler: str | None = None,
    progress: bool | None = None,
    crn: bool = True,
    attribution: bool = True,
    overwrite: bool = False,
    attrs: dict[str, Any] | None = None,
    log: Callable[[str], None] | None = None,
    description: str = "runs",
) -> ExecutionReport:
    """Compute every run of ``plans`` not yet in the store at ``path``.

    Parameters
    ----------
    plans
        The experiment groups (each stored along its own dimension).
    replicates
        Replicates per experiment.
    root_seed
        Seed from which each replicate's seed is derived.
    path
        The zarr store (created, or resumed when it holds the same ensemble).
    workers, scheduler
        Where to run (see :class:`Runner`).
    progress
        Show a progress bar of runs done with the time left (default: on a terminal).
    crn
        Common random numbers (same seed for a replicate in every experiment).
    attribution
        Compute direct attribution of exits in every run.
    overwrite
        Delete an existing store first.
    attrs
        Extra attributes for the store's root group.
    log
        Called with one-line messages (start, resume).

    Returns
    -------
    ExecutionReport

    Raises
    ------
    PovsimError
        The store belongs to another ensemble, or some runs failed (the others are stored;
        running again retries only the failed ones).
    EnsembleInterrupted
        Ctrl-C; everything finished so far is stored.
    """
    from tqdm.auto import tqdm

    if isinstance(replicates, bool) or int(replicates) < 1:
        raise PovsimError(f"--replicates must be at least 1, got {replicates!r}")
    replicates = int(replicates)
    if not plans or not any(p.experiments for p in plans):
        raise PovsimError("nothing to run: no scenarios")
    for p in plans:
        labels = p.labels
        if len(set(labels)) != len(labels):
            dup = sorted({x for x in labels if labels.count(x) > 1})
            raise PovsimError(f"experiment names must be unique; repeated: {', '.join(dup)}")
    path = Path(path)
    if not path.parent.exists():
        raise PovsimError(f"--output: directory {path.parent} does not exist")
    spec = make_spec(plans, replicates, root_seed, crn, attribution)
    seeds = run_seeds(plans, replicates, root_seed, crn)
    store = EnsembleStore(path, plans, replicates, seeds, spec, attrs=attrs)
    if overwrite:
        store.remove()
    store.check()
    done = store.done()
    tasks: list[Task] = []
    for i, p in enumerate(plans):
        for e in range(len(p.experiments)):
            for r in range(replicates):
                if not done[i][e, r]:
                    seed = int(seeds[i][r] if seeds[i].ndim == 1 else seeds[i][e, r])
                    tasks.append(Task(i, e, r, seed, _task_key(spec, p.group, e, r)))
    total = sum(len(p.experiments) for p in plans) * replicates
    report = ExecutionReport(path=path, total=total, already=total - len(tasks))
    say = log or (lambda _msg: None)
    if not tasks:
        say(f"all {total} runs already in {path}")
        return report
    if progress is None:
        progress = sys.stderr.isatty()
    runner = Runner(workers, scheduler)
    t0 = time.perf_counter()
    with runner:
        report.where = runner.describe()
        resumed = f"; {report.already} already stored, computing the other {len(tasks)}" \
            if report.already else ""
        say(f"{total} {description} on {report.where}, writing to {path}{resumed}")
        bar = tqdm(total=total, initial=report.already, unit="run", desc="povsim",
                   disable=not progress, dynamic_ncols=True, smoothing=0.05, file=sys.stderr)
        try:
            for task, res in runner.run(tasks, plans, attribution):
                if isinstance(res, BaseException):
                    msg = f"{type(res).__name__}: {res}"
                    report.failed.append((task, msg))
                    bar.set_postfix_str(f"{len(report.failed)} failed")
                    continue
                if not store.exists():
                    store.create(res)
                store.write(task.plan, task.experiment, task.replicate, res)
                report.computed += 1
                bar.update(1)
        except KeyboardInterrupt:
            report.seconds = time.perf_counter() - t0
            bar.close()
            raise EnsembleInterrupted(report) from None
        finally:
            bar.close()
    report.seconds = time.perf_counter() - t0
    if report.failed:
        task, msg = report.failed[0]
        p = plans[task.plan]
        raise PovsimError(
            f"{len(report.failed)} of {len(tasks)} runs failed (first: "
            f"{p.experiments[task.experiment].label!r} replicate {task.replicate}: {msg}); "
            f"the {report.already + report.computed} finished runs are stored in {path}; "
            "run the same command again to retry the failed ones"
        )
    return report


@contextmanager
def output_path(output: str | Path | None, suffix: str = ".zarr") -> Iterator[Path]:
    """The store to write: ``output`` itself, or a temporary one removed afterwards."""
    if output is not None:
        yield Path(output)
        return
    tmp = Path(tempfile.mkdtemp(prefix="povsim-ensemble-"))
    try:
        yield tmp / f"ensemble{suffix}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def load(path: str | Path, group: str | None = None, *, in_memory: bool = False) -> xr.Dataset:
    """Open an ensemble store (``in_memory``: read it all and close the files)."""
    ds = open_ensemble(path, group)
    if in_memory:
        ds = ds.load()
        ds.close()
    return ds

