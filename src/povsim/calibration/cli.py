"""``povsim calibrate`` (added to the ``povsim`` command by :func:`add_command`)."""

from __future__ import annotations

import argparse
import sys

__all__ = ["add_command"]

_EPILOG = """\
Cost (measured on the shared 2-core machine, indicative): one particle-replicate simulated to
the end of the last target year (2016) takes a median of 0.95 s at 1:500, 1.2 s at 1:200,
1.4 s at 1:100, 1.5 s at 1:50 and 2.1 s at 1:20 (mostly fixed cost). A fit costs about
N*R*(1 + (G-1)/a) runs for N particles, R replicates, G generations and acceptance rate a
(~0.3). The shipped fit ran at 1:25, the coarsest scale at which the calibration's
observations agree with full scale (benchmarks/README.md): --population-size 100
--replicates 1 --generations 9 simulated 2,669 particles in 33 min on 2 workers (2026-12-02).
1:100 is faster but biased (the 2016 stock 2 % low, 2016 village exits 15 % high).

Resuming: run the same command again; the generations stored in --db are kept and only the
missing ones are sampled (--generations is the total). Outputs in --output-dir: posterior.csv,
calibrated.yaml (posterior medians; chain it with `extends: [baseline.yaml,
../calibration/calibrated.yaml]`), report.md and calibration_*.png.
"""


def cmd_calibrate(args: argparse.Namespace) -> int:
    from povsim.ensembles.cli import _runner_options

    from povsim.calibration.abc import CalibrationInterrupted, calibrate

    say = None if args.quiet else (lambda m: print(f"povsim: {m}", file=sys.stderr))
    try:
        res = calibrate(
            args.scenario, args.targets, args.priors, population_size=args.population_size,
            generations=args.generations, replicates=args.replicates, scale=args.scale,
            seed=args.seed, workers=args.workers, scheduler=args.scheduler,
            **_runner_options(args), db=args.db,
            output_dir=args.output_dir, overwrite=args.overwrite,
            min_epsilon=args.min_epsilon, progress=False if args.quiet else None,
            report=not args.no_report, log=say,
        )
    except CalibrationInterrupted as exc:
        why = f" ({exc.reason})" if exc.reason else ""
        print(f"\npovsim: interrupted{why}; {exc.generations_done} finished generations are "
              f"stored in {exc.db}; run the same command again to continue", file=sys.stderr)
        return 130
    post = res.posterior
    ci = post.interval(0.9)
    print(f"final epsilon {res.epsilon:.4g} after {res.generations} generations "
          f"({res.seconds:.0f} s on {res.where})")
    for k, v in post.median().items():
        lo, hi = ci[k]
        print(f"  {k} = {v:.4g}   (90 % {lo:.4g} - {hi:.4g})")
    if not args.quiet and res.files:
        print("povsim: wrote " + ", ".join(str(p) for p in res.files.values()), file=sys.stderr)
    return 0


def add_command(sub: argparse._SubParsersAction) -> None:
    """Add ``calibrate`` to the ``povsim`` sub-commands."""
    c = sub.add_parser(
        "calibrate", help="fit free parameters to the calibration targets (ABC-SMC, pyabc)",
        description="Likelihood-free Bayesian calibration (ABC-SMC with pyabc) of a scenario's "
                    "free parameters (--priors) against observations (--targets).",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("scenario", help="scenario YAML file")
    c.add_argument("--targets", required=True, metavar="TARGETS.yaml",
                   help="observations to fit (calibration/targets.yaml)")
    c.add_argument("--priors", default="calibration/priors.yaml", metavar="PRIORS.yaml",
                   help="free parameters and their priors (default: %(default)s)")
    c.add_argument("--population-size", type=int, default=100, metavar="N",
                   help="particles per generation (default: %(default)s)")
    c.add_argument("--generations", type=int, default=6, metavar="G",
                   help="generations in total, counting stored ones (default: %(default)s)")
    c.add_argument("--replicates", type=int, default=2, metavar="R",
                   help="runs per particle, averaged; common seeds (default: %(default)s)")
    c.add_argument("--min-epsilon", type=float, default=0.0, metavar="EPS",
                   help="stop once epsilon is at most EPS (default: %(default)s)")
    c.add_argument("--db", default="calibration/abc.db",
                   help="pyabc database, resumed when it holds the same fit "
                        "(default: %(default)s)")
    c.add_argument("--output-dir", default="calibration", metavar="DIR",
                   help="where posterior.csv, calibrated.yaml and the report go "
                        "(default: %(default)s)")
    c.add_argument("--no-report", action="store_true", help="skip the figures and report.md")
    from povsim.ensembles.cli import _add_execution

    _add_execution(c)  # the same execution options as compare and sweep
    for action in c._actions:
        if action.dest == "overwrite":
            action.help = "discard a fit stored in --db instead of resuming it"
    c.set_defaults(func=cmd_calibrate)
