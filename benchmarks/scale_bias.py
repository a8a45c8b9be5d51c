#!/usr/bin/env python3
"""Scale invariance evidence: the bias table of every target measure across population scales.

For each scale (default 1:1000, 1:100, 1:10; ``--full`` adds 1:1) the scenario runs with the
same ``--replicates`` seeds; for every measure of ``calibration/targets.yaml`` and every campaign
target (its shortfall and whether it holds) the table shows the replicate mean ± its standard
error per scale and ``z``, the difference from the finest scale over the combined standard
error (``*`` = ``|z| > 2``: a bias larger than replicate noise). The work is
:func:`povsim.analysis.scale_bias` (also ``povsim.scale_bias``).

This is a benchmark, not a test: it asserts nothing. Run it from the repository::

    python benchmarks/scale_bias.py                          # 1:1000, 1:100, 1:10, 8 replicates
    python benchmarks/scale_bias.py --replicates 4 --scales 1000,100
    python benchmarks/scale_bias.py --full                   # adds 1:1 (~40 s and ~1.9 GB a run)
    python benchmarks/scale_bias.py --csv bias.csv --markdown bias.md

Timings in the table are indicative (the machine's load average is printed with it).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenario", nargs="?", default=str(ROOT / "scenarios" / "baseline.yaml"))
    p.add_argument("--scales", default="1000,100,10",
                   help="comma-separated population scales, coarsest first (default %(default)s)")
    p.add_argument("--full", action="store_true", help="also run 1:1 (the reference)")
    p.add_argument("--replicates", type=int, default=8, help="seeds per scale (default 8)")
    p.add_argument("--targets", default=str(ROOT / "calibration" / "targets.yaml"))
    p.add_argument("--workers", type=int, default=None,
                   help="local dask workers (default: one per core; 1 = in this process)")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--csv", default=None, help="also write the table as CSV")
    p.add_argument("--markdown", default=None, help="also write the printed table to a file")
    args = p.parse_args(argv)

    from povsim.analysis.scale_bias import format_scale_bias, scale_bias

    scales = [int(s) for s in args.scales.split(",") if s.strip()]
    if args.full and 1 not in scales:
        scales.append(1)
    table = scale_bias(args.scenario, scales=scales, replicates=args.replicates,
                       targets=args.targets, seed=args.seed, workers=args.workers,
                       progress=sys.stderr.isatty(),
                       log=lambda m: print(f"scale_bias: {m}", file=sys.stderr))
    text = format_scale_bias(table)
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:  # pragma: no cover - not on Unix
        load = "?"
    text += f"\n(load average at the end: {load})"
    print(text)
    if args.csv:
        table.to_csv(args.csv, index=False)
    if args.markdown:
        Path(args.markdown).write_text("```\n" + text + "\n```\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
