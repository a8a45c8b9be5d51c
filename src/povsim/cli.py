"""The ``povsim`` command line: ``validate``, ``run``, ``show`` (and ``rerun``, ``scenarios``,
``export``, ``compare``, ``sweep``, ``report``, ``calibrate``, ``explore``).

Every error a user can cause is printed as one clear message (file, key, expected, found) with
exit status 2; a traceback is a bug.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from povsim.errors import PovsimError

__all__ = ["main"]


def _overrides(pairs: list[str] | None) -> dict[str, Any]:
    from povsim.scenario.loader import parse_override

    out: dict[str, Any] = {}
    for text in pairs or []:
        key, value = parse_override(text)
        out[key] = value
    return out


def _load(path: str, overrides: dict[str, Any] | None, command: str = "run") -> Any:
    """Load a scenario file and check the data it names: what ``validate`` checks is
    everything ``run`` needs before it simulates."""
    from povsim.commands import check_not_results
    from povsim.library import resolve_scenario_path
    from povsim.population.data import check_inputs
    from povsim.scenario import load_scenario

    check_not_results(path, command)
    scn = load_scenario(path, overrides=overrides or None)
    check_inputs(scn, resolve_scenario_path(path).resolve().parent, file=path)
    return scn


def cmd_validate(args: argparse.Namespace) -> int:
    for path in args.scenario:
        scn = _load(path, _overrides(args.set), "validate")
        print(f"{path}: valid scenario {scn.name!r} (sha256 {scn.sha256()[:12]})")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    from pydantic import BaseModel

    from povsim.scenario.schema import iter_parameters

    scn = _load(args.scenario, _overrides(args.set), "show")
    from povsim.commands import flow, scenario_yaml

    if args.yaml:
        sys.stdout.write(scenario_yaml(scn))
        return 0
    for key, value, meta in iter_parameters(scn):
        if isinstance(value, BaseModel):
            continue
        if isinstance(value, dict) and value and isinstance(next(iter(value.values())), BaseModel):
            continue
        unit = f" [{meta['unit']}]" if meta.get("unit") else ""
        # the value as `--set KEY=VALUE` reads it; the unit is a comment
        print(f"{key} = {flow(value)}" + (f"  #{unit}" if unit else ""))
        if args.sources and meta.get("source"):
            print(f"    # {meta['source']}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from povsim.results import write_dataset
    from povsim.targets import evaluate, format_table

    overrides = _overrides(args.set)
    if args.scale is not None:
        overrides["population.scale"] = args.scale
    if args.budget_scale is not None:
        overrides["budget.scale"] = args.budget_scale
    scn = _load(args.scenario, overrides)
    from povsim.outputs import check_output

    out = check_output(args.output)  # before the simulation: nothing computed is lost
    if args.figure and not Path(args.figure).resolve().parent.exists():
        raise PovsimError(f"--figure: directory {Path(args.figure).parent} does not exist")
    import time

    import povsim

    def announce(model: Any) -> None:
        print(
            f"povsim: scenario {scn.name!r}, seed {model.seed_value}, scale "
            f"1:{int(model.weight)}, {model.households.n:,} households, {model.n_steps} "
            f"monthly steps",
            file=sys.stderr,
        )

    t0 = time.perf_counter()
    from povsim.library import resolve_scenario_path

    ds = povsim.run(scn, seed=args.seed,
                    base_dir=resolve_scenario_path(args.scenario).resolve().parent,
                    progress=None if not args.quiet else False, interruptible=True,
                    on_start=announce)
    elapsed = time.perf_counter() - t0
    if not int(ds.attrs["complete"]):
        write_dataset(ds, out)
        print(
            f"\ninterrupted after {ds.attrs['steps_completed']} of {ds.attrs['n_steps']} months; "
            f"the completed years ({', '.join(str(int(y)) for y in ds['year'].values)}) were "
            f"written to {out}",
            file=sys.stderr,
        )
        return 130
    write_dataset(ds, out)
    print(format_table(evaluate(ds, scn)))
    if args.figure:
        from povsim.plotting import plot_run

        plot_run(ds, args.figure)
        print(f"wrote {args.figure}", file=sys.stderr)
    print(
        f"\nwrote {out} ({ds.attrs['n_households']:,} households x {ds.attrs['n_steps']} steps "
        f"in {elapsed:.1f} s)",
        file=sys.stderr,
    )
    return 0


def _import_plugins(modules: list[str]) -> None:
    """Import study modules that register components (``--plugin``)."""
    import importlib

    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as exc:  # noqa: BLE001 - any failure of a user's module is reported
            raise PovsimError(
                f"--plugin: cannot import {name!r} ({type(exc).__name__}: {exc}); it must be an "
                f"importable module (on PYTHONPATH or installed)"
            ) from None


def _parser() -> argparse.ArgumentParser:
    from povsim.version import povsim_version

    p = argparse.ArgumentParser(
        prog="povsim",
        description="Simulate Sichuan's 2015-2020 poverty-alleviation campaign (五个一批).",
    )
    p.add_argument("--version", action="version", version=f"povsim {povsim_version()}")
    p.add_argument("--plugin", action="append", metavar="MODULE", default=[],
                   help="import MODULE first, which runs its code with your permissions (a "
                        "study's module that registers its own pathways, shocks or outputs; "
                        "only use modules you trust); repeatable")
    sub = p.add_subparsers(dest="command", required=True)

    v = sub.add_parser("validate", help="check scenario files and report every problem")
    v.add_argument("scenario", nargs="+", help="scenario YAML file(s)")
    v.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key")
    v.set_defaults(func=cmd_validate)

    s = sub.add_parser("show", help="print every parameter of a scenario (with --sources, why)")
    s.add_argument("scenario")
    s.add_argument("--set", action="append", metavar="KEY=VALUE")
    s.add_argument("--sources", action="store_true", help="print the source of each default")
    s.add_argument("--yaml", action="store_true",
                   help="print the resolved scenario as a complete YAML file (validate accepts "
                        "it; same sha256)")
    s.set_defaults(func=cmd_show)

    r = sub.add_parser("run", help="run one scenario and write its results")
    r.add_argument("scenario")
    r.add_argument("--output", "-o", default="results.nc",
                   help="netCDF (.nc), zarr (.zarr) or a tidy CSV table (.csv); checked before "
                        "the run, written atomically")
    r.add_argument("--seed", type=int, default=None, help="root seed (default: scenario seed)")
    r.add_argument("--scale", type=int, default=None,
                   help="simulate 1 in SCALE households (default: population.scale)")
    r.add_argument("--budget-scale", type=float, default=None, help="multiply all money")
    r.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a key")
    r.add_argument("--figure", metavar="FIG.png", default=None,
                   help="also draw the summary figure (stock, flows, spending, places)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_run)

    from povsim.commands import add_commands as add_run_commands

    add_run_commands(sub)
    try:
        from povsim.ensembles.cli import add_commands
    except ImportError:  # ensembles not available
        pass
    else:
        add_commands(sub)
    from povsim.report import add_command as add_report

    add_report(sub)
    from povsim.calibration.cli import add_command as add_calibrate

    add_calibrate(sub)
    from povsim.analysis.cli import add_commands as add_analysis

    add_analysis(sub)
    from povsim.explore.cli import add_command as add_explore

    add_explore(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``povsim`` command."""
    from povsim.provenance import set_command

    parser = _parser()
    args = parser.parse_args(argv)
    set_command(list(sys.argv[1:] if argv is None else argv))
    try:
        _import_plugins(args.plugin)
        return int(args.func(args) or 0)
    except PovsimError as exc:
        print(f"povsim: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("povsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # output piped into a command that stopped reading (e.g. `| head`): not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    finally:
        set_command(None)  # a later write from Python (tests, notebooks) is "python API"


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
