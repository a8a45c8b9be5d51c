"""``povsim explore``: the sub-command that serves the explorer's page (needs Solara only when
it runs, so ``povsim --help`` stays fast without it)."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_command", "cmd_explore"]

#: the server's default port (assumption: Solara's own default, 8765)
DEFAULT_PORT = 8765


def cmd_explore(args: argparse.Namespace) -> int:
    """``povsim explore``."""
    from .server import serve

    serve(host=args.host, port=args.port, open_browser=not args.no_browser, scale=args.scale,
          replicates=args.replicates, cache=args.cache)
    return 0


def add_command(sub: Any) -> None:
    """Add ``explore`` to the ``povsim`` sub-commands."""
    e = sub.add_parser(
        "explore", help="an interactive page for comparing a policy with the baseline "
                        '(needs pip install "povsim[explore]")',
        description="Serve the explorer (a Solara page): choose a baseline and a policy "
                    "scenario (library names or files), move budget.scale, the line-merge year "
                    "and the pathway switches, run a small ensemble and see the fan chart, the "
                    "target table and the paired difference from the baseline. Ctrl-C stops "
                    "the server.")
    e.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    e.add_argument("--port", type=int, default=DEFAULT_PORT,
                   help=f"port (default {DEFAULT_PORT}; 0: a free one)")
    e.add_argument("--no-browser", action="store_true", help="do not open a browser")
    e.add_argument("--scale", type=int, default=None, metavar="K",
                   help="starting population scale, 1 in K households (default 2000)")
    e.add_argument("--replicates", "-n", type=int, default=None, metavar="N",
                   help="starting runs per scenario (default 4)")
    e.add_argument("--cache", default=None, metavar="DIR",
                   help="keep the runs in DIR (reused next time); default: a temporary "
                        "directory removed at exit")
    e.set_defaults(func=cmd_explore)
