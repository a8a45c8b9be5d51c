"""``povsim hindcast`` and ``povsim sensitivity`` (added to the ``povsim`` command by
:func:`add_commands`).

Both take the execution options of ``povsim sweep`` (``--workers``, ``--scheduler``, TLS,
``--dashboard``, ``--scale``, ``--seed``, ``--overwrite``, ``--quiet``), exit with status 2 and
one line on a user error and with 130 on Ctrl-C, saying what is stored: the same command resumes.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

__all__ = ["add_commands"]

_HINDCAST_EPILOG = """\
The posterior: each replicate draws one parameter set from the final generation of
--posterior (by weight, with replacement) and runs with its own seed, so the bands carry
parameter and random uncertainty. Without a posterior file the command stops and says to run
`povsim calibrate` first; --no-posterior runs the scenario's own parameters (the posterior
medians once baseline.yaml extends calibration/calibrated.yaml) in every replicate: the bands
then carry random uncertainty only.

Resuming: the runs stream into OUTPUT.runs.zarr; run the same command again after an
interruption and only the missing runs are computed.
"""

_SENSITIVITY_EPILOG = """\
Cost: (trajectories x (parameters + 1) + sobol-samples x (top + 2)) x replicates runs to 2020.
With the 25 priors of calibration/priors.yaml and the defaults (6 trajectories, top 4, 32
samples, 4 replicates) that is (156 + 192) x 4 = 1,392 runs. Measured on 2 workers of the
project's 2-core machine (2026-12-02) with -n 2 (696 runs): 6 min 42 s at 1:100, 14 min 48 s at
1:25; the defaults take twice as long.

Resuming: the runs stream into OUTPUT_DIR/morris.zarr and sobol.zarr; run the same command again
after an interruption and only the missing runs are computed.
"""


def _say(args: argparse.Namespace) -> Any:
    if getattr(args, "quiet", False):
        return None
    return lambda msg: print(f"povsim: {msg}", file=sys.stderr)


def cmd_hindcast(args: argparse.Namespace) -> int:
    from povsim.ensembles.cli import _check_figure, _check_interval, _interrupted, \
        _runner_options
    from povsim.ensembles.execution import EnsembleInterrupted

    from .hindcast import format_hindcast, hindcast

    _check_figure(args.figure)
    _check_interval(args.interval)
    try:
        ds = hindcast(
            args.scenario, posterior=None if args.no_posterior else args.posterior,
            replicates=args.replicates, seed=args.seed, scale=args.scale, output=args.output,
            figure=args.figure, workers=args.workers, scheduler=args.scheduler,
            progress=False if args.quiet else None, interval=args.interval,
            overwrite=args.overwrite, log=_say(args), **_runner_options(args))
    except EnsembleInterrupted as exc:
        return _interrupted(exc, f"{args.output}.runs.zarr")
    print(format_hindcast(ds))
    if not args.quiet:
        print(f"\npovsim: wrote {args.output}" + (f" and {args.figure}" if args.figure else ""),
              file=sys.stderr)
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    from povsim.ensembles.cli import _check_figure, _interrupted, _runner_options
    from povsim.ensembles.execution import EnsembleInterrupted

    from .sensitivity import format_sensitivity, sensitivity

    _check_figure(args.figure)
    try:
        res = sensitivity(
            args.scenario, priors=args.priors, replicates=args.replicates,
            trajectories=args.trajectories, levels=args.levels, top=args.top,
            sobol_samples=args.sobol_samples, bootstrap=args.bootstrap, level=args.level,
            seed=args.seed, scale=args.scale, output_dir=args.output_dir, figure=args.figure,
            workers=args.workers, scheduler=args.scheduler,
            progress=False if args.quiet else None, overwrite=args.overwrite, log=_say(args),
            **_runner_options(args))
    except EnsembleInterrupted as exc:
        return _interrupted(exc, f"{args.output_dir}/morris.zarr and sobol.zarr")
    print(format_sensitivity(res))
    if not args.quiet and res.files:
        print("\npovsim: wrote " + ", ".join(str(p) for p in res.files.values()),
              file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """Add ``hindcast`` and ``sensitivity`` to the ``povsim`` sub-commands."""
    from povsim.ensembles.cli import _add_execution

    h = sub.add_parser(
        "hindcast", help="run the hindcast with parameters drawn from the calibration posterior",
        description="Run the hindcast scenario (default: the library's hindcast.yaml) once per "
                    "replicate, each with parameters drawn from the posterior; print and write "
                    "the registered poor, exits, returns, new poor, villages and counties exited "
                    "by year 2015-2020 with their bands, and a figure against the sourced "
                    "2013-2016 observations.",
        epilog=_HINDCAST_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    h.add_argument("scenario", nargs="?", default="hindcast",
                   help="scenario YAML file or library name (default: %(default)s)")
    post = h.add_mutually_exclusive_group()
    post.add_argument("--posterior", default="calibration/posterior.csv", metavar="POSTERIOR.csv",
                      help="posterior of `povsim calibrate` (default: %(default)s)")
    post.add_argument("--no-posterior", action="store_true",
                      help="no parameter uncertainty: every replicate runs the scenario's own "
                           "parameters")
    h.add_argument("--replicates", "-n", type=int, required=True, metavar="N",
                   help="runs, each with its own parameter draw and seed")
    h.add_argument("--output", "-o", required=True, metavar="H.nc",
                   help="netCDF (.nc) or CSV (.csv) file; checked before any run")
    h.add_argument("--figure", default=None, metavar="H.png",
                   help="also draw the bands against the 2013-2016 observations")
    h.add_argument("--interval", type=float, default=0.9,
                   help="width of the central band (default 0.9)")
    _add_execution(h)
    h.set_defaults(func=cmd_hindcast)

    s = sub.add_parser(
        "sensitivity", help="Morris screening and Sobol indices of the 2020 targets (SALib)",
        description="Morris screening over every parameter of --priors, then Sobol indices on "
                    "the --top most influential, for the 2020 registered-poor stock, P(all out "
                    "by 2020), counties out by 2020 and total cost (replicate means under common "
                    "random numbers, bootstrap intervals); print the table, write it as CSV "
                    "with a figure.",
        epilog=_SENSITIVITY_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("scenario", help="scenario YAML file or library name")
    s.add_argument("--priors", default="calibration/priors.yaml", metavar="PRIORS.yaml",
                   help="the uncertain parameters and their ranges (default: %(default)s)")
    s.add_argument("--output-dir", required=True, metavar="DIR",
                   help="sensitivity.csv, sensitivity.png and the resumable run stores")
    s.add_argument("--replicates", "-n", type=int, default=4, metavar="R",
                   help="runs per design point, common seeds (default: %(default)s)")
    s.add_argument("--trajectories", type=int, default=6, metavar="T",
                   help="Morris trajectories (default: %(default)s)")
    s.add_argument("--levels", type=int, default=4, metavar="L",
                   help="Morris grid levels (default: %(default)s)")
    s.add_argument("--top", type=int, default=4, metavar="K",
                   help="parameters kept for the Sobol stage; 0: Morris only "
                        "(default: %(default)s)")
    s.add_argument("--sobol-samples", type=int, default=32, metavar="N",
                   help="Saltelli base samples, a power of 2 (default: %(default)s)")
    s.add_argument("--bootstrap", type=int, default=1000, metavar="B",
                   help="bootstrap resamples of every interval (default: %(default)s)")
    s.add_argument("--level", type=float, default=0.9,
                   help="confidence level of the intervals (default 0.9)")
    s.add_argument("--figure", default=None, metavar="FIG.png",
                   help="the figure (default: OUTPUT_DIR/sensitivity.png)")
    _add_execution(s)
    s.set_defaults(func=cmd_sensitivity)
