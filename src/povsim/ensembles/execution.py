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
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from povsim.errors import PovsimError
from povsim.rng import replicate_seed

from .runs import simulate
from povsim.outputs import ENSEMBLE_KIND, check_output

from .store import EnsembleStore, Plan, locked, make_spec, open_ensemble

__all__ = ["EnsembleInterrupted", "ExecutionReport", "Runner", "Task", "default_workers",
           "execute", "main_is_import_safe", "plan_output", "run_seeds", "tls_security"]


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
    """What :func:`execute` did.

    Attributes
    ----------
    path
        The ensemble store.
    total
        Runs the ensemble has (experiments × replicates, over every plan).
    already
        Runs found stored (and verified) before this call.
    computed
        Runs computed and stored by this call.
    failed
        Runs that raised: the task and the error message.
    seconds
        Wall time of the computation.
    where
        Where the runs executed (:meth:`Runner.describe`).
    """

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

    Parameters
    ----------
    plans
        The plans of the ensemble, in order (experiments are numbered across them without
        common random numbers).
    replicates
        Replicates per experiment.
    root_seed
        The ensemble's root seed.
    crn
        Common random numbers.

    Returns
    -------
    list of numpy.ndarray
        One int64 array per plan: ``(replicate,)`` with common random numbers, else
        ``(experiment, replicate)``.
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


def tls_security(ca: str | Path | None = None, cert: str | Path | None = None,
                 key: str | Path | None = None) -> Any:
    """A :class:`distributed.security.Security` for an existing TLS cluster (``--tls-*``).

    Parameters
    ----------
    ca
        The certificate authority that signed the scheduler's and workers' certificates.
    cert, key
        This client's certificate and private key (``key`` may be omitted when ``cert`` holds
        both).

    Returns
    -------
    distributed.security.Security or None
        ``None`` when no option is given: dask's own configuration then applies
        (``distributed.comm.tls.*`` in a dask config file, e.g. ``~/.config/dask/*.yaml`` or the
        file named by ``DASK_CONFIG``).
    """
    if ca is None and cert is None and key is None:
        return None
    missing = [n for n, v in (("--tls-ca", ca), ("--tls-cert", cert)) if v is None]
    if missing:
        raise PovsimError(f"a TLS connection needs {' and '.join(missing)} too "
                          "(--tls-ca, --tls-cert and, unless the certificate holds it, --tls-key)")
    for opt, f in (("--tls-ca", ca), ("--tls-cert", cert), ("--tls-key", key)):
        if f is not None and not Path(f).is_file():
            raise PovsimError(f"{opt}: file {f} does not exist")
    from distributed.security import Security

    return Security(tls_ca_file=str(ca), tls_client_cert=str(cert),
                    tls_client_key=None if key is None else str(key), require_encryption=True)


def main_is_import_safe() -> bool:
    """Whether worker processes may import this program's ``__main__`` without re-running it.

    Worker processes are started with multiprocessing's *spawn* method, which imports the main
    script again in every worker: a script that calls :func:`povsim.compare` at its top level,
    without ``if __name__ == "__main__":``, would start a cluster in every worker. False when a
    frame of the call stack is the main script's top-level code outside such a guard.
    """
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    if main is None or not path:
        return True  # interactive session, notebook, python -c: nothing is re-imported
    frame = sys._getframe(1)
    line = None
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            line = frame.f_lineno
            break
        frame = frame.f_back
    if line is None:
        return True  # not reached from the script's top-level code (e.g. from a thread)
    try:
        import ast

        tree = ast.parse(Path(path).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, ValueError):
        return False
    for node in tree.body:
        if isinstance(node, ast.If) and _is_main_guard(node.test):
            end = getattr(node, "end_lineno", None) or node.lineno
            if node.lineno <= line <= end:
                return True
    return False


def _is_main_guard(test: Any) -> bool:
    import ast

    if not (isinstance(test, ast.Compare) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Eq)):
        return False
    sides = [test.left, test.comparators[0]]
    names = [x.id for x in sides if isinstance(x, ast.Name)]
    consts = [x.value for x in sides if isinstance(x, ast.Constant)]
    return names == ["__name__"] and consts == ["__main__"]


@contextmanager
def _workers_ignore_sigint() -> Iterator[None]:
    """Worker processes started inside the block ignore Ctrl-C (SIGINT); this one does not.

    A Ctrl-C in a terminal reaches the whole process group: without this, every worker still
    starting up prints its own ``KeyboardInterrupt`` traceback. Only the main process should
    handle it (it stops the cluster, which stops its workers). Workers are started with
    multiprocessing's *spawn* method: for the duration of the block its executable
    (:func:`multiprocessing.set_executable`) is a two-line shell script that sets SIGINT to
    *ignored* — a disposition that survives ``exec`` and that Python keeps — and runs this
    Python. POSIX only; elsewhere nothing changes.
    """
    import multiprocessing
    import multiprocessing.spawn

    shell = Path("/bin/sh")
    if os.name != "posix" or not shell.exists():
        yield
        return
    old = multiprocessing.spawn.get_executable()
    folder = Path(tempfile.mkdtemp(prefix="povsim-worker-"))
    wrapper = folder / "python"
    import shlex

    python = os.fsdecode(old)
    wrapper.write_text(f"#!{shell}\ntrap '' INT\nexec {shlex.quote(python)} \"$@\"\n",
                       encoding="utf-8")
    wrapper.chmod(0o700)
    multiprocessing.set_executable(str(wrapper))
    try:
        yield
    finally:
        multiprocessing.set_executable(old)
        shutil.rmtree(folder, ignore_errors=True)


class _DeferredInterrupt:
    """Inside the block, a first Ctrl-C is remembered instead of raised (a second one raises).

    Used while dask starts a cluster: an exception thrown into the middle of that start leaves a
    half-built cluster that dask then fails to close at exit, with tracebacks. Instead the start
    completes (seconds), the cluster is closed cleanly, and ``KeyboardInterrupt`` is raised.
    """

    def __init__(self) -> None:
        self.pressed = False
        self._old: Any = None

    def _handler(self, signum: int, frame: Any) -> None:
        if self.pressed:
            raise KeyboardInterrupt
        self.pressed = True

    def __enter__(self) -> _DeferredInterrupt:
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            self._old = signal.signal(signal.SIGINT, self._handler)
        return self

    def __exit__(self, *exc: object) -> None:
        import signal

        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
            self._old = None


class Runner:
    """Where the runs of an ensemble execute (a context manager).

    Parameters
    ----------
    workers
        ``1``: in this process; ``N``: a local cluster of ``N`` worker processes (default: one
        per core). Ignored when ``scheduler`` is given.
    scheduler
        Address of an existing dask scheduler (``tcp://HOST:PORT`` or ``tls://HOST:PORT``).
    security
        For ``scheduler``: a :class:`distributed.security.Security` (see :func:`tls_security`);
        ``None``: dask's configuration (``distributed.comm.tls.*``).
    dashboard
        Local cluster only: serve dask's dashboard at this address (``True``:
        ``127.0.0.1:8787``, or a free port if that one is taken; needs ``bokeh``). Default:
        no dashboard and no HTTP endpoint at all.

    Notes
    -----
    The local cluster listens on 127.0.0.1 only and uses TLS with temporary credentials
    (:meth:`distributed.security.Security.temporary`, made afresh for each cluster and held in
    memory), so another local user cannot connect to it and run code as you. When the calling
    script is not import-safe (:func:`main_is_import_safe`), the workers are threads of this
    process instead of processes (same results, less parallelism) and :attr:`note` says so.
    """

    def __init__(self, workers: int | None = None, scheduler: str | None = None,
                 security: Any = None, dashboard: str | bool | None = None) -> None:
        if workers is not None and (isinstance(workers, bool) or int(workers) < 1):
            raise PovsimError(f"--workers must be at least 1, got {workers!r}")
        self.workers = default_workers() if workers is None else int(workers)
        self.scheduler = scheduler
        self.security = security
        self.dashboard = "127.0.0.1:8787" if dashboard is True else (dashboard or None)
        self.client: Any = None
        self.cluster: Any = None
        self.threads = False
        self._sigint: Any = None
        #: a one-line remark about how the cluster was set up (threads, dashboard), or ""
        self.note = ""
        #: set by :meth:`watch_workers` when the local cluster had no worker left
        self.lost_workers = False

    @contextmanager
    def watch_workers(self, grace: float = 120.0, poll: float = 5.0) -> Iterator[None]:
        """Interrupt the calling (main) thread when the local cluster has no working worker.

        A process cluster whose workers are all gone (killed from outside) or paused by dask
        (memory above ``distributed.worker.memory.pause``) never finishes a task, and code waiting on it (pyabc's sampler) would wait
        forever. While the block runs, a daemon thread asks the scheduler for its workers every
        ``poll`` seconds; after ``grace`` seconds without one it sets :attr:`lost_workers` and
        raises :class:`KeyboardInterrupt` in the main thread, so the caller stops as after
        Ctrl-C (and keeps what is stored). Nothing is watched in this process, on threads, or
        on an existing cluster (its workers may come and go: adaptive scaling).

        Parameters
        ----------
        grace
            Seconds without a worker before the interrupt (s).
        poll
            Seconds between two checks (s).
        """
        if self.in_process or self.threads or self.scheduler is not None or self.client is None:
            yield
            return
        import _thread
        import threading

        stop = threading.Event()
        client = self.client

        def watch() -> None:
            since: float | None = None
            while not stop.wait(poll):
                try:
                    workers = client.scheduler_info().get("workers", {}).values()
                except Exception:  # noqa: BLE001 - a closing client: stop watching
                    return
                # a worker dask paused (memory above its pause fraction) runs nothing either
                n = sum(1 for w in workers if w.get("status", "running") == "running")
                if n:
                    since = None
                    continue
                since = time.monotonic() if since is None else since
                if time.monotonic() - since >= grace:
                    self.lost_workers = True  # gone or paused
                    _thread.interrupt_main()
                    return

        thread = threading.Thread(target=watch, name="povsim-watch-workers", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()

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
        kind = "threads" if self.threads else "workers"
        return f"a local dask cluster of {self.workers} {kind}"

    def __enter__(self) -> Runner:
        if self.in_process:
            return self
        try:
            if self.scheduler:
                self._connect()
            else:
                self._start_local()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _connect(self) -> None:
        from distributed import Client

        try:
            self.client = Client(self.scheduler, timeout="10s", security=self.security,
                                 set_as_default=False)
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            hint = ""
            if str(self.scheduler).startswith("tls://") and self.security is None:
                hint = ("; a TLS cluster needs --tls-ca, --tls-cert and --tls-key (or "
                        "distributed.comm.tls.* in dask's configuration)")
            raise PovsimError(f"cannot connect to the dask scheduler at {self.scheduler}: "
                              f"{str(exc)[:300]}{hint}") from None

    def _start_local(self) -> None:
        import dask
        from distributed import Client, LocalCluster

        self.threads = not main_is_import_safe()
        if self.threads:
            self.note = ("this script calls povsim without `if __name__ == \"__main__\":`, "
                         "which worker processes need: running the workers as threads of this "
                         "process (same results, slower); put the call under that guard to use "
                         "processes")
        config: dict[str, Any] = {}
        # dask's nanny sets MALLOC_TRIM_THRESHOLD_ in its workers, which also pins glibc's mmap
        # threshold: every large numpy temporary is then mapped and unmapped, and a 1:10 run
        # takes three times as long as in this process. povsim's workers go without it.
        env = dict(dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {})
        env.pop("MALLOC_TRIM_THRESHOLD_", None)
        config["distributed.nanny.pre-spawn-environ"] = env
        # The workers' housekeeping takes the interpreter from the run: dask samples each
        # worker's stack every 10 ms for the dashboard's profile, checks its event loop every
        # 20 ms and its memory and system every 100-500 ms. A 1:100 run took 0.52 s in a worker
        # against 0.455 s in a plain process; with the profile off (nobody reads it without a
        # dashboard), the event loop and memory checked once a second and the system every
        # two, 0.46 s. (A worker's memory limit is still enforced, a second later at most.)
        config.update({
            "distributed.admin.tick.interval": "1s",
            "distributed.worker.memory.monitor-interval": "1s",
            "distributed.admin.system-monitor.interval": "2s",
        })
        if not self.dashboard:
            config["distributed.worker.profile.enabled"] = False
        kwargs: dict[str, Any] = {}
        if self.dashboard:
            try:
                import bokeh  # noqa: F401 - the dashboard needs it
            except ImportError:
                raise PovsimError("--dashboard needs the bokeh package "
                                  "(pip install 'bokeh>=3.1')") from None
            kwargs["dashboard_address"] = self.dashboard
        else:
            # no dashboard and no HTTP endpoint: dask's scheduler otherwise serves its JSON,
            # health and proxy routes without authentication (on :8787, or another port with a
            # "Port 8787 is already in use" warning)
            config["distributed.scheduler.http.routes"] = []
            config["distributed.worker.http.routes"] = []
            kwargs["dashboard_address"] = None
            kwargs["scheduler_kwargs"] = {"dashboard": False, "dashboard_address": "127.0.0.1:0"}
        if not self.threads:
            from distributed.security import Security

            kwargs.update(security=Security.temporary(), protocol="tls://", host="127.0.0.1")
        # (threads talk in memory: inproc://, no network listener)
        with dask.config.set(config), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Port .* is already in use")
            self._sigint = _workers_ignore_sigint() if not self.threads else nullcontext()
            self._sigint.__enter__()
            with _DeferredInterrupt() as ctrl_c:
                self.cluster = LocalCluster(
                    n_workers=self.workers, threads_per_worker=1, processes=not self.threads,
                    silence_logs=logging.CRITICAL, **kwargs)
                # not the default scheduler: dask computations elsewhere in the process (xarray
                # reading a store) must not be sent to a cluster that is closed later
                self.client = Client(self.cluster, set_as_default=False)
            if ctrl_c.pressed:
                raise KeyboardInterrupt
        if self.dashboard:
            self.note = (self.note + "; " if self.note else "") + \
                f"dashboard at {self.cluster.dashboard_link}"

    def __exit__(self, *exc: object) -> None:
        if self.client is not None:
            try:
                self.client.close()
            except BaseException:  # noqa: BLE001 - shutting down anyway
                pass
            self.client = None
        if self.cluster is not None:
            try:
                self.cluster.close()
            except BaseException:  # noqa: BLE001
                pass
            self.cluster = None
        if self._sigint is not None:
            self._sigint.__exit__(None, None, None)
            self._sigint = None

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
            for fut in as_completed([f for f, _ in futures.values()], loop=client.loop):
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
    security: Any = None,
    dashboard: str | bool | None = None,
    on_run: Callable[[int, int], None] | None = None,
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
        Delete an existing store first (only a store povsim created).
    attrs
        Extra attributes for the store's root group.
    log
        Called with one-line messages (start, resume).
    description
        What the runs are, for the start message (``"runs (2 scenarios x 10 replicates)"``).
    security, dashboard
        See :class:`Runner`.
    on_run
        Called as ``on_run(done, total)`` once the stored runs are counted and after each run
        finishes (a progress indicator other than the text bar, e.g. the explorer's). A
        finished run is stored with the other runs of its chunk of replicates
        (:data:`povsim.ensembles.store.REPLICATE_CHUNK`), at the latest when the ensemble
        ends or is interrupted.

    Returns
    -------
    ExecutionReport

    Raises
    ------
    PovsimError
        The store belongs to another ensemble, another process is writing it, or some runs
        failed (the others are stored; running again retries only the failed ones).
    EnsembleInterrupted
        Ctrl-C; everything finished so far is stored.
    """
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
    path = check_output(path, formats=(".zarr",), kind=ENSEMBLE_KIND)
    with locked(path):
        return _execute(plans, replicates, root_seed, path, workers, scheduler, progress, crn,
                        attribution, overwrite, attrs, log, description, security, dashboard,
                        on_run)


def _execute(plans: Sequence[Plan], replicates: int, root_seed: int, path: Path,
             workers: int | None, scheduler: str | None, progress: bool | None, crn: bool,
             attribution: bool, overwrite: bool, attrs: dict[str, Any] | None,
             log: Callable[[str], None] | None, description: str, security: Any,
             dashboard: str | bool | None,
             on_run: Callable[[int, int], None] | None = None) -> ExecutionReport:
    from povsim.progress import tqdm_class

    tqdm = tqdm_class()

    spec = make_spec(plans, replicates, root_seed, crn, attribution)
    seeds = run_seeds(plans, replicates, root_seed, crn)
    store = EnsembleStore(path, plans, replicates, seeds, spec, attrs=attrs)
    say = log or (lambda _msg: None)
    if overwrite:
        store.remove()
    store.check()
    if store.grow_from is not None:
        say(f"growing {path} from {store.grow_from} to {replicates} replicates (the stored ones "
            "are kept)")
        store.grow()
    done = store.done()
    if store.damaged:
        first = "; ".join(f"{plans[i].labels[e]!r} replicate {r} ({why})"
                          for i, e, r, why in store.damaged[:3])
        more = f" and {len(store.damaged) - 3} more" if len(store.damaged) > 3 else ""
        say(f"{len(store.damaged)} stored run{'s are' if len(store.damaged) > 1 else ' is'} "
            f"damaged and will be computed again: {first}{more}")
    tasks: list[Task] = []
    for i, p in enumerate(plans):
        for e in range(len(p.experiments)):
            for r in range(replicates):
                if not done[i][e, r]:
                    seed = int(seeds[i][r] if seeds[i].ndim == 1 else seeds[i][e, r])
                    tasks.append(Task(i, e, r, seed, _task_key(spec, p.group, e, r)))
    total = sum(len(p.experiments) for p in plans) * replicates
    report = ExecutionReport(path=path, total=total, already=total - len(tasks))
    tick = on_run or (lambda _done, _total: None)
    tick(report.already, total)
    if not tasks:
        say(f"all {total} runs already in {path}")
        return report
    if progress is None:
        progress = sys.stderr.isatty()
    runner = Runner(workers, scheduler, security=security, dashboard=dashboard)
    t0 = time.perf_counter()
    if not runner.in_process:
        say("connecting to the dask scheduler at " + str(scheduler) if scheduler else
            f"starting a local dask cluster of {runner.workers} workers")
    try:
        runner.__enter__()
    except KeyboardInterrupt:  # Ctrl-C while the cluster starts: nothing computed, nothing lost
        report.seconds = time.perf_counter() - t0
        raise EnsembleInterrupted(report) from None
    try:
        report.where = runner.describe()
        if runner.note:
            if log is None:
                print(f"povsim: {runner.note}", file=sys.stderr)
            else:
                say(runner.note)
        resumed = f"; {report.already} already stored, computing the other {len(tasks)}" \
            if report.already else ""
        say(f"{total} {description} on {report.where}, writing to {path}{resumed}")
        bar = tqdm(total=total, initial=report.already, unit="run", desc="povsim",
                   disable=not progress, dynamic_ncols=True, smoothing=0.05, file=sys.stderr)
        for task in tasks:
            store.expect(task.plan, task.experiment, task.replicate)
        finished = 0
        try:
            try:
                for task, res in runner.run(tasks, plans, attribution):
                    if isinstance(res, BaseException):
                        msg = f"{type(res).__name__}: {res}"
                        report.failed.append((task, msg))
                        bar.set_postfix_str(f"{len(report.failed)} failed")
                        report.computed += store.abandon(task.plan, task.experiment,
                                                         task.replicate)
                        continue
                    if not store.exists():
                        store.create(res)
                    report.computed += store.write(task.plan, task.experiment, task.replicate,
                                                   res)
                    finished += 1
                    bar.update(1)
                    tick(report.already + finished, total)
            finally:
                # runs held for the rest of their chunk are written whatever happens, Ctrl-C
                # included (a second Ctrl-C while they are written interrupts the writing)
                report.computed += store.flush()
        except KeyboardInterrupt:
            report.seconds = time.perf_counter() - t0
            bar.close()
            raise EnsembleInterrupted(report) from None
        finally:
            bar.close()
    finally:
        runner.__exit__()
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


def plan_output(output: str | Path | None) -> tuple[Path | None, Path | None]:
    """Check an ensemble's ``output`` (before any run) and choose where the runs stream.

    Returns
    -------
    (store, final)
        ``store``: the zarr store the runs stream into (``None``: a temporary one);
        ``final``: the ``.nc`` or ``.csv`` file written at the end (``None`` for a ``.zarr``
        output), whose runs stream into ``FINAL.runs.zarr`` meanwhile (resumable; removed once
        the file is written).
    """
    if output is None:
        return None, None
    out = check_output(output, kind=ENSEMBLE_KIND)
    if out.suffix.lower() == ".zarr":
        return out, None
    store = check_output(out.with_name(out.name + ".runs.zarr"), formats=(".zarr",),
                         kind=ENSEMBLE_KIND)
    return store, out


def load(path: str | Path, group: str | None = None, *, in_memory: bool = False,
         verify: bool = False) -> xr.Dataset:
    """Open an ensemble store (``in_memory``: read it all and close the files).

    Not verified by default: used right after :func:`execute` checked or wrote every run.
    """
    ds = open_ensemble(path, group, verify=verify)
    if in_memory:
        ds = ds.load()
        ds.close()
    return ds

