"""``povsim compare`` and ``povsim sweep`` (added to the ``povsim`` command by :func:`add_commands`).

Both print one clear line and exit with status 2 on a user error (bad file, bad ``--set`` key or
value, a store that belongs to another ensemble, an unreachable scheduler), and exit with 130 on
Ctrl-C after saying how many runs are safely stored — rerunning the same command computes only
the missing ones.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from povsim.errors import PovsimError

__all__ = ["add_commands"]


def _say(args: argparse.Namespace) -> Any:
    if getattr(args, "quiet", False):
        return None
    return lambda msg: print(f"povsim: {msg}", file=sys.stderr)


def _check_figure(path: str | None) -> None:
    if path is None:
        return
    p = Path(path)
    if p.parent and not p.parent.exists():
        raise PovsimError(f"--figure: directory {p.parent} does not exist")
    if p.suffix.lower() not in (".png", ".pdf", ".svg", ".jpg", ".jpeg"):
        raise PovsimError(f"--figure: unsupported file type {p.suffix or '(none)'!r} "
                          "(use .png, .pdf or .svg)")


def _check_interval(value: float) -> None:
    if not 0 < value < 1:
        raise PovsimError(f"--interval must be between 0 and 1, got {value}")


def _check_output(path: str) -> None:
    """The output is checked before anything runs (format, folder, not a foreign directory)."""
    from povsim.outputs import ENSEMBLE_KIND, check_output

    check_output(path, kind=ENSEMBLE_KIND)


def _runner_options(args: argparse.Namespace) -> dict[str, Any]:
    from .execution import tls_security

    tls = (args.tls_ca, args.tls_cert, args.tls_key)
    if any(t is not None for t in tls) and args.scheduler is None:
        raise PovsimError("--tls-ca/--tls-cert/--tls-key are for --scheduler (the local "
                          "cluster makes its own temporary TLS credentials)")
    if args.dashboard is not None and args.scheduler is not None:
        raise PovsimError("--dashboard is for the local cluster; an existing cluster has its own")
    return {"security": tls_security(*tls), "dashboard": args.dashboard}


def _interrupted(exc: Any, output: str) -> int:
    rep = getattr(exc, "report", None)
    if rep is not None and rep.already + rep.computed == 0:
        print("\npovsim: interrupted before any run was stored; nothing was written",
              file=sys.stderr)
    elif rep is not None:
        stored = rep.already + rep.computed
        print(f"\npovsim: interrupted; {stored} of {rep.total} runs are stored in {output}; "
              f"run the same command again to compute the other {rep.total - stored}",
              file=sys.stderr)
    else:
        print("\npovsim: interrupted", file=sys.stderr)
    return 130


def _add_execution(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("execution")
    g.add_argument("--workers", type=int, default=None, metavar="N",
                   help="local dask cluster of N worker processes (default: one per core); "
                        "1 runs in this process")
    g.add_argument("--scheduler", default=None, metavar="ADDR",
                   help="run on an existing dask cluster, e.g. tls://10.0.0.5:8786 (its workers "
                        "must import povsim and read the scenarios' data files)")
    g.add_argument("--tls-ca", default=None, metavar="CA.pem",
                   help="with --scheduler: the certificate authority of a TLS cluster")
    g.add_argument("--tls-cert", default=None, metavar="CERT.pem",
                   help="with --scheduler: this client's TLS certificate")
    g.add_argument("--tls-key", default=None, metavar="KEY.pem",
                   help="with --scheduler: this client's private key (unless in --tls-cert). "
                        "Without --tls-*, dask's configuration applies (distributed.comm.tls.* "
                        "in ~/.config/dask/*.yaml or the file DASK_CONFIG names)")
    g.add_argument("--dashboard", nargs="?", const="127.0.0.1:8787", default=None,
                   metavar="ADDR",
                   help="serve dask's dashboard for the local cluster (default address "
                        "127.0.0.1:8787; needs bokeh). Without it the local cluster has no "
                        "dashboard and no HTTP endpoint; it always uses TLS with temporary "
                        "credentials on 127.0.0.1")
    g.add_argument("--scale", type=int, default=None, metavar="K",
                   help="simulate 1 in K households (population.scale) in every run")
    g.add_argument("--seed", type=int, default=None, metavar="S",
                   help="root seed of the replicates (default: the scenario's seed)")
    g.add_argument("--overwrite", action="store_true",
                   help="discard an existing --output instead of resuming it (only a store "
                        "povsim created; a larger --replicates grows a store without it)")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar or messages")


def cmd_compare(args: argparse.Namespace) -> int:
    from .compare import compare, format_comparison
    from .execution import EnsembleInterrupted

    _check_output(args.output)
    _check_figure(args.figure)
    _check_interval(args.interval)
    try:
        ds = compare(
            args.scenario, replicates=args.replicates, seed=args.seed, scale=args.scale,
            output=args.output, workers=args.workers, scheduler=args.scheduler,
            progress=False if args.quiet else None,
            counterfactual=args.attribution == "counterfactual", interval=args.interval,
            overwrite=args.overwrite, log=_say(args), **_runner_options(args),
        )
    except EnsembleInterrupted as exc:
        return _interrupted(exc, args.output)
    print(format_comparison(ds))
    if args.figure:
        from .plotting import plot_comparison

        plot_comparison(ds, args.figure)
    if not args.quiet:
        print(f"\npovsim: wrote {args.output}" + (f" and {args.figure}" if args.figure else ""),
              file=sys.stderr)
    return 0


def _parse_sets(texts: list[str]) -> dict[str, list[Any]]:
    from .sweep import parse_set

    sets: dict[str, list[Any]] = {}
    for text in texts:
        key, values = parse_set(text)
        if key in sets:
            raise PovsimError(f"--set {key} is given twice; list all its values in one --set")
        sets[key] = values
    return sets


def _frontier_key(args: argparse.Namespace, sets: dict[str, list[Any]]) -> str | None:
    if args.frontier_key:
        if args.frontier_key not in sets:
            raise PovsimError(f"--frontier-key {args.frontier_key} is not swept "
                              f"(swept: {', '.join(sets)})")
        return str(args.frontier_key)
    if "budget.scale" in sets:
        return "budget.scale"
    numeric = [k for k, v in sets.items()
               if all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)]
    if len(sets) == 1 and len(numeric) == 1:
        return numeric[0]
    return None


def cmd_sweep(args: argparse.Namespace) -> int:
    from .execution import EnsembleInterrupted
    from .sweep import format_sweep, sweep

    _check_output(args.output)
    _check_figure(args.figure)
    _check_interval(args.interval)
    if not 0 < args.level <= 1:
        raise PovsimError(f"--level must be in (0, 1], got {args.level}")
    sets = _parse_sets(args.set)
    key = _frontier_key(args, sets) if args.design == "factorial" else None
    try:
        ds = sweep(
            args.scenario, sets, replicates=args.replicates, design=args.design,
            samples=args.samples, seed=args.seed, scale=args.scale, output=args.output,
            workers=args.workers, scheduler=args.scheduler,
            progress=False if args.quiet else None, interval=args.interval,
            overwrite=args.overwrite, log=_say(args), **_runner_options(args),
        )
    except EnsembleInterrupted as exc:
        return _interrupted(exc, args.output)
    print(format_sweep(ds))
    fr = None
    if key is not None:
        from .frontier import format_frontier, frontier
        from .store import write_group

        fr = frontier(ds, key=key, level=args.level, interval=args.interval)
        print()
        print(format_frontier(fr))
        if Path(args.output).suffix.lower() == ".zarr":
            write_group(fr, args.output, "frontier")
        else:  # the file again, atomically, with the frontier as its group
            from povsim.outputs import write_dataset

            from .store import annotate

            write_dataset(annotate(ds.load().copy()), args.output,
                          groups={"frontier": annotate(fr.copy())})
    if args.figure:
        from .plotting import plot_frontier, plot_sweep

        if fr is not None:
            plot_frontier(fr, ds, args.figure)
        else:
            plot_sweep(ds, args.figure)
    if not args.quiet:
        extra = " (frontier in its group 'frontier')" if fr is not None else ""
        print(f"\npovsim: wrote {args.output}{extra}"
              + (f" and {args.figure}" if args.figure else ""), file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """Add ``compare`` and ``sweep`` to the ``povsim`` sub-commands."""
    c = sub.add_parser(
        "compare", help="run scenarios side by side with replicates and compare the targets",
        description="Run every scenario with the same replicate seeds (common random numbers); "
                    "print, for each target, the probability it holds, the median year it is "
                    "met, the shortfall and the cost, and each scenario's paired difference "
                    "from the first; store the runs and the summary.")
    c.add_argument("scenario", nargs="+", help="scenario YAML files (the first is the reference)")
    c.add_argument("--replicates", "-n", type=int, required=True, metavar="N",
                   help="replicates per scenario")
    c.add_argument("--output", "-o", required=True, metavar="PATH",
                   help="zarr store (.zarr; resumable), netCDF file (.nc) or tidy CSV table "
                        "(.csv); checked before any run")
    c.add_argument("--figure", default=None, metavar="FIG.png", help="also draw a figure")
    c.add_argument("--attribution", choices=("direct", "counterfactual"), default="direct",
                   help="counterfactual: also run each scenario with each pathway switched off")
    c.add_argument("--interval", type=float, default=0.9, help="confidence level (default 0.9)")
    _add_execution(c)
    c.set_defaults(func=cmd_compare)

    s = sub.add_parser(
        "sweep", help="run a scenario over values of dotted keys; probabilities and frontier",
        description="Run the scenario at every point of a design over dotted keys, with "
                    "replicates (common random numbers); print P(target holds) at each point "
                    "and, over a budget (or one numeric key), the frontier: the smallest value "
                    "at which each target holds with probability >= --level.")
    s.add_argument("scenario", help="base scenario YAML file")
    s.add_argument("--set", action="append", required=True, metavar="KEY=V1,V2,...",
                   help="a dotted key and its values (YAML; commas inside [] or {} are kept); "
                        "repeat for more keys")
    s.add_argument("--design", choices=("factorial", "lhs"), default="factorial",
                   help="full factorial (default) or Latin hypercube (two numbers = a range)")
    s.add_argument("--samples", type=int, default=None, metavar="N",
                   help="points of an lhs design")
    s.add_argument("--replicates", "-n", type=int, required=True, metavar="N",
                   help="replicates per design point")
    s.add_argument("--output", "-o", required=True, metavar="STORE.zarr",
                   help="zarr store (.zarr; resumable), netCDF file (.nc) or tidy CSV table "
                        "(.csv); checked before any run")
    s.add_argument("--level", type=float, default=0.9,
                   help="probability the frontier asks of each target (default 0.9)")
    s.add_argument("--frontier-key", default=None, metavar="KEY",
                   help="key of the frontier (default: budget.scale if swept, else the only "
                        "numeric key)")
    s.add_argument("--interval", type=float, default=0.9, help="confidence level (default 0.9)")
    s.add_argument("--figure", default=None, metavar="FIG.png",
                   help="draw the frontier (or a heat map of P(target holds))")
    _add_execution(s)
    s.set_defaults(func=cmd_sweep)
