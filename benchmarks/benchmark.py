#!/usr/bin/env python3
"""Speed and memory of the baseline run at several population scales.

For each scale ``K`` (1 in ``K`` households simulated) the baseline scenario runs end to end in a
fresh Python process, so that the peak memory reported is that scale's own. The table lists the
number of simulated households, the steps (months), the seconds spent building the model
(population synthesis and set-up), simulating (all steps and the results Dataset) and in total,
the seconds per phase (population synthesis; January planning; the months — shocks, effects,
incomes; the year-end assessment and attribution of exits; recording snapshots and building the
Dataset),
the throughput in households × steps per second of simulation, the CPU seconds of the process
(all threads), and the peak resident memory of the process.

This is a benchmark, not a test: it asserts nothing. Run it from anywhere::

    python benchmarks/benchmark.py                          # scales 100, 10 and 1
    python benchmarks/benchmark.py --scales 100 --seed 7 --json results/bench.json
    python benchmarks/benchmark.py --scales 1 --repeat 3    # fastest of three runs

On a shared machine one run can be 10-15 % slower than the next: compare two versions with
``--repeat`` (the fastest run of each, and the spread), and by their CPU seconds.

See ``benchmarks/README.md`` for the budget and the latest figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = REPO / "scenarios" / "baseline.yaml"

#: columns of the printed table: (key, header, format)
COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("scale", "scale", "1:{:d}"),
    ("households", "households", "{:,d}"),
    ("steps", "steps", "{:d}"),
    ("build_s", "build s", "{:.2f}"),
    ("simulate_s", "simulate s", "{:.2f}"),
    ("total_s", "total s", "{:.2f}"),
    ("population_s", "population", "{:.2f}"),
    ("planning_s", "planning", "{:.2f}"),
    ("months_s", "months", "{:.2f}"),
    ("assessment_s", "assessment", "{:.2f}"),
    ("recording_s", "recording", "{:.2f}"),
    ("hh_steps_per_s", "hh×steps/s", "{:,.0f}"),
    ("cpu_s", "CPU s", "{:.2f}"),
    ("spread_s", "spread s", "{:.2f}"),
    ("peak_rss_mb", "peak RSS MB", "{:,.0f}"),
)


def measure(scenario: Path, scale: int, seed: int) -> dict[str, Any]:
    """Run the scenario once at ``scale`` in this process and return its figures.

    Parameters
    ----------
    scenario
        Path of the scenario YAML file.
    scale
        ``population.scale`` to run at.
    seed
        Root seed of the run.

    Returns
    -------
    dict
        ``scale``, ``households``, ``steps``, ``build_s``, ``simulate_s``, ``total_s``,
        ``hh_steps_per_s``, ``peak_rss_mb`` and ``import_rss_mb`` (resident memory after
        importing povsim, before building anything).
    """
    import povsim

    import_rss = _peak_rss_mb()
    cpu0 = _cpu_s()
    scn = povsim.load_scenario(scenario).with_overrides({"population.scale": int(scale)})
    t0 = time.perf_counter()
    model = povsim.PovertyModel(scn, seed=seed, base_dir=scenario.parent)
    t1 = time.perf_counter()
    model.run(progress=False)
    t2 = time.perf_counter()
    n, steps = int(model.households.n), int(model.n_steps)
    t = model.timing
    phases = {
        "population_s": t.get("population", 0.0),
        "planning_s": t.get("planning", 0.0),
        "assessment_s": t.get("assessment", 0.0),
        # snapshots at every year end and the final Dataset (with the targets)
        "recording_s": t.get("recording", 0.0) + t.get("dataset", 0.0),
    }
    # the months themselves: shocks, effects, incomes (simulation less the yearly phases)
    phases["months_s"] = max(t.get("simulation", 0.0) - t.get("planning", 0.0)
                             - t.get("assessment", 0.0) - t.get("recording", 0.0), 0.0)
    return {
        **phases,
        "scale": int(scale),
        "households": n,
        "steps": steps,
        "build_s": t1 - t0,
        "simulate_s": t2 - t1,
        "total_s": t2 - t0,
        "hh_steps_per_s": n * steps / (t2 - t1),
        # user + system time of every thread, build and run (the helper threads included)
        "cpu_s": _cpu_s() - cpu0,
        "peak_rss_mb": _peak_rss_mb(),
        "import_rss_mb": import_rss,
    }


def _cpu_s() -> float:
    """User and system CPU seconds of this process (all threads) so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024.0 if sys.platform != "darwin" else kib / 1024.0**2


def run_child(scenario: Path, scale: int, seed: int, repeat: int = 1) -> dict[str, Any]:
    """Measure one scale in ``repeat`` fresh interpreters and keep the fastest run (least
    total time); ``spread_s`` is the slowest total less the fastest. Raises if a child fails.
    """
    runs = [_one_child(scenario, scale, seed) for _ in range(repeat)]
    best = min(runs, key=lambda r: r["total_s"])
    return {**best, "runs": repeat,
            "spread_s": max(r["total_s"] for r in runs) - best["total_s"]}


def _one_child(scenario: Path, scale: int, seed: int) -> dict[str, Any]:
    """Measure one scale once in a fresh interpreter."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", "--scenario", str(scenario),
           "--scales", str(scale), "--seed", str(seed)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise RuntimeError(f"benchmark at scale 1:{scale} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def format_table(rows: list[dict[str, Any]]) -> str:
    """The figures as an aligned plain-text table (one row per scale)."""
    cells = [[fmt.format(r[key]) for key, _, fmt in COLUMNS] for r in rows]
    heads = [h for _, h, _ in COLUMNS]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(heads)]
    lines = ["  ".join(h.rjust(w) for h, w in zip(heads, widths))]
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in cells]
    return "\n".join(lines)


def _parse_scales(text: str) -> list[int]:
    try:
        scales = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"scales must be integers like 100,10,1; got {text!r}")
    if not scales or any(k < 1 for k in scales):
        raise argparse.ArgumentTypeError(f"scales must be integers >= 1; got {text!r}")
    return scales


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scales", type=_parse_scales, default=[100, 10, 1],
                    help="comma-separated population scales K (1 in K households), "
                         "default 100,10,1")
    ap.add_argument("--seed", type=int, default=7, help="root seed (default 7)")
    ap.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO,
                    help="scenario file (default: scenarios/baseline.yaml of this repository)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per scale, each in a fresh process; the fastest is reported "
                         "and 'spread s' tells how much the others took longer (default 1)")
    ap.add_argument("--json", type=Path, default=None, help="also write the figures as JSON here")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.repeat < 1:
        ap.error(f"--repeat must be at least 1, got {args.repeat}")
    scenario = args.scenario.resolve()

    if args.child:  # one scale, in this (fresh) process; the parent reads the JSON line
        print(json.dumps(measure(scenario, args.scales[0], args.seed)))
        return 0

    rows = []
    for k in args.scales:
        print(f"running 1:{k} ..." + (f" ({args.repeat} times)" if args.repeat > 1 else ""),
              file=sys.stderr, flush=True)
        rows.append(run_child(scenario, k, args.seed, args.repeat))
    print(format_table(rows))
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        meta = {
            "scenario": str(scenario),
            "seed": args.seed,
            "python": platform.python_version(),
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n",
                             encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
