#!/usr/bin/env python3
"""Ensemble throughput and the variance reduction of common random numbers.

Two measurements:

1. **Runs per minute** of the baseline scenario at population scales 1:100 and 1:10, with
   ``--workers 1`` (in this process) and ``--workers 2`` (a local dask cluster), writing every
   run to a zarr store as ``povsim sweep`` does. Wall-clock time covers everything a user waits
   for: starting the cluster (and povsim's import in its workers), the runs, the store writes
   and stopping the cluster; the cluster start-up is also reported on its own.
2. **Common random numbers**: ``baseline`` against ``budget_minus30`` with ``R`` replicates,
   once with the same seed for a replicate in both scenarios (CRN) and once with independent
   seeds; the variance of the paired difference, per outcome, and the ratio CRN / independent.

This is a benchmark, not a test: it asserts nothing. Run it from the repository::

    python benchmarks/ensemble_benchmark.py                       # everything (~5-10 min)
    python benchmarks/ensemble_benchmark.py --quick               # smaller, ~2 min
    python benchmarks/ensemble_benchmark.py --markdown out.md     # also write the tables

The machine's load average is printed with the results: on a shared machine it matters.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"


def throughput(scale: int, workers: int, runs: int, seed: int, warm: bool = False
               ) -> dict[str, Any]:
    """Runs per minute of ``runs`` baseline runs at ``scale`` on ``workers`` workers.

    ``warm``: the local cluster is started beforehand and passed as ``--scheduler`` (the time
    of running on a cluster that is already up); otherwise its start and stop are included.
    """
    from povsim.ensembles import Runner, execute
    from povsim.ensembles.store import Experiment, Plan
    from povsim.scenario import load_scenario

    scn = load_scenario(SCENARIOS / "baseline.yaml").with_overrides({"population.scale": scale})
    plan = Plan("experiment", [Experiment("baseline", scn, base_dir=str(SCENARIOS))])
    tmp = Path(tempfile.mkdtemp(prefix="povsim-bench-"))
    runner = Runner(workers=workers) if warm and workers > 1 else None
    try:
        address = None
        security = None
        if runner is not None:
            runner.__enter__()
            runner.client.run(lambda: __import__("povsim.ensembles.runs") and None)
            address = runner.client.scheduler.address
            # the local cluster is TLS with temporary credentials: connect with the same ones
            security = runner.client.security
        load0 = os.getloadavg()[0]
        cpu0 = _cpu_seconds()
        t0 = time.perf_counter()
        rep = execute([plan], replicates=runs, root_seed=seed, path=tmp / "b.zarr",
                      workers=workers, scheduler=address, security=security, progress=False)
        wall = time.perf_counter() - t0
        cpu = _cpu_seconds() - cpu0
    finally:
        if runner is not None:
            runner.__exit__(None, None, None)
        shutil.rmtree(tmp, ignore_errors=True)
    return {"scale": scale, "workers": workers, "runs": rep.computed, "wall_s": wall,
            "runs_per_min": 60.0 * rep.computed / wall, "where": rep.where,
            "warm": bool(warm and workers > 1), "load_before": load0,
            # this process's CPU time (the scheduler, the results' transfer and the store
            # writes; with workers=1 also the runs themselves), per run
            "main_cpu_ms_per_run": 1000.0 * cpu / max(rep.computed, 1)}


def _cpu_seconds() -> float:
    """User and system CPU time of this process (all its threads) so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def cluster_startup(workers: int) -> float:
    """Seconds to start a local cluster and import povsim's run code in every worker."""
    from povsim.ensembles import Runner

    t0 = time.perf_counter()
    with Runner(workers=workers) as r:
        r.client.run(lambda: __import__("povsim.ensembles.runs") and None)
        t = time.perf_counter() - t0
    return t


def _numpy_work(_: int = 0) -> float:
    import numpy as np

    a = np.random.default_rng(0).random(4_000_000)
    t0 = time.perf_counter()
    for _ in range(60):
        (a * 1.1 + 2.0).sum()
        np.sort(a[:400_000])
    return time.perf_counter() - t0


def parallel_scaling() -> float:
    """Speed-up of two concurrent numpy-heavy processes over one (2.0 = perfect).

    povsim's runs are vectorised numpy over large arrays; on a machine shared with other jobs,
    or short of memory bandwidth, a second worker gives less than twice the throughput. This
    probe tells how much it can give here and now.
    """
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(2) as pool:
        list(pool.map(_numpy_work, [0, 1]))  # warm up both processes
        one = min(pool.submit(_numpy_work).result() for _ in range(3))
        both = min(max(pool.map(_numpy_work, [0, 1])) for _ in range(3))
    return 2 * one / both


def crn_ratio(scale: int, replicates: int, workers: int, seed: int) -> dict[str, Any]:
    """Variance of the paired difference (budget_minus30 - baseline), CRN vs independent."""
    from povsim.ensembles import compare

    files = [SCENARIOS / "baseline.yaml", SCENARIOS / "budget_minus30.yaml"]
    res: dict[str, Any] = {"scale": scale, "replicates": replicates}
    out = {}
    for crn in (True, False):
        ds = compare(files, replicates=replicates, scale=scale, workers=workers, seed=seed,
                     crn=crn)
        d = ds.sel(scenario="budget_minus30")
        stock = ds["registered_poor"].sum("region")
        yearly = (stock.sel(scenario="budget_minus30") - stock.sel(scenario="baseline"))
        vals = {
            "registered poor, end of 2020": float(d["diff_registered_poor_end_sd"]) ** 2,
            "money spent, 2015-2020": float(d["diff_cost_sd"]) ** 2,
            "registered poor, summed over 2015-2020": float(
                yearly.isel(year=slice(1, None)).sum("year").var("replicate", ddof=1)),
        }
        for t in ("villages", "counties", "pace"):
            vals[f"shortfall: {t}"] = float(d["diff_shortfall_sd"].sel(target=t)) ** 2
        vals["_mean_diff_stock"] = float(d["diff_registered_poor_end"])
        out["crn" if crn else "independent"] = vals
    res["variances"] = out
    res["ratio"] = {k: (out["crn"][k] / out["independent"][k]
                        if out["independent"][k] > 0 else float("nan"))
                    for k in out["crn"] if not k.startswith("_")}
    return res


def _md_table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="fewer runs (rough numbers)")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--crn-replicates", type=int, default=None)
    p.add_argument("--crn-scale", type=int, default=100)
    p.add_argument("--markdown", type=Path, default=None, help="also write the tables here")
    p.add_argument("--json", type=Path, default=None, help="also write raw numbers here")
    args = p.parse_args(argv)

    plan = [(100, 1, 8, False), (100, 2, 16, False), (100, 2, 16, True),
            (10, 1, 3, False), (10, 2, 6, False), (10, 2, 6, True)]
    if args.quick:
        plan = [(100, 1, 2, False), (100, 2, 4, False), (100, 2, 4, True),
                (10, 1, 1, False), (10, 2, 2, False), (10, 2, 2, True)]
    reps = args.crn_replicates or (6 if args.quick else 12)

    results: dict[str, Any] = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "platform": platform.platform()},
        "throughput": [],
    }
    results["numpy_parallel_speedup"] = parallel_scaling()
    print("cluster start-up ...", file=sys.stderr)
    results["startup_s"] = cluster_startup(2)
    for scale, workers, runs, warm in plan:
        print(f"throughput 1:{scale} with {workers} worker(s), {runs} runs"
              f"{' (cluster already up)' if warm else ''} ...", file=sys.stderr)
        results["throughput"].append(throughput(scale, workers, runs, args.seed, warm))
    print(f"common random numbers at 1:{args.crn_scale}, {reps} replicates ...", file=sys.stderr)
    results["crn"] = crn_ratio(args.crn_scale, reps, 2, args.seed)
    results["load_after"] = os.getloadavg()[0]

    md = [f"Machine: {results['machine']['cpus']} CPUs, Python {results['machine']['python']}; "
          f"load average before the runs {results['throughput'][0]['load_before']:.1f}, after "
          f"{results['load_after']:.1f}. Local cluster start-up (2 workers, incl. importing "
          f"povsim in them): {results['startup_s']:.1f} s. Two concurrent numpy-heavy processes "
          f"run {results['numpy_parallel_speedup']:.2f}x as fast as one (2.00 = perfect "
          "scaling; what a second worker can add on this machine at this moment).", "",
          "Runs per minute (baseline, 2015-2020, all 72 monthly steps; wall clock including "
          "cluster start/stop and the zarr writes):", ""]
    def how(r: dict[str, Any]) -> str:
        if r["workers"] == 1:
            return "in process"
        return "cluster already up (--scheduler)" if r["warm"] else "local cluster started"

    rows = [[f"1:{r['scale']}", str(r["workers"]), how(r), str(r["runs"]), f"{r['wall_s']:.1f}",
             f"{r['runs_per_min']:.1f}", f"{r['main_cpu_ms_per_run']:.0f}"]
            for r in results["throughput"]]
    md.append(_md_table(["scale", "workers", "how", "runs", "wall s", "runs / min",
                         "this process's CPU ms / run"], rows))
    c = results["crn"]
    md += ["", f"Common random numbers: variance over {c['replicates']} replicates of the paired "
           f"difference budget_minus30 - baseline at 1:{c['scale']}:", ""]
    rows = []
    for k, ratio in c["ratio"].items():
        rows.append([k, f"{c['variances']['crn'][k]:.4g}",
                     f"{c['variances']['independent'][k]:.4g}", f"{ratio:.3f}"])
    md.append(_md_table(["outcome", "var (CRN)", "var (independent)", "ratio"], rows))
    text = "\n".join(md)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n", encoding="utf-8")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
