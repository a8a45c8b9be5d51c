"""Serving the explorer's page: ``povsim explore`` starts a Solara server on this machine.

The server is Solara's own (``solara run``), started in production mode (no reloader), with
Solara's usage statistics and its version check against the package index switched off: the
page makes no request anywhere but to the server that serves it. Its scripts and styles come
from the ``solara-assets`` package, so the page also works without a network.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

from povsim.errors import PovsimError

from .core import ENV_CACHE, ENV_REPLICATES, ENV_SCALE

__all__ = ["APP", "ENV_CACHE", "ENV_REPLICATES", "ENV_SCALE", "INSTALL_HINT", "require_solara",
           "serve", "solara_arguments"]

#: the component the server shows
APP = "povsim.explore.app:Page"
#: what to install when Solara is missing
INSTALL_HINT = 'pip install "povsim[explore]"'
#: Solara's settings that keep the page to itself: no usage statistics sent (its default sends
#: them to a third party)
QUIET_ENV = {"SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}


def require_solara() -> None:
    """Raise a :class:`~povsim.errors.PovsimError` saying what to install if Solara is missing."""
    import importlib.util

    missing = [m for m in ("solara", "solara.server") if _find(m) is None]
    if missing:
        raise PovsimError(f"the explorer needs Solara, which is not installed: {INSTALL_HINT}")
    if importlib.util.find_spec("solara_assets") is None:
        raise PovsimError("the explorer needs the solara-assets package (the page's scripts, "
                          f"served without a network), which is not installed: {INSTALL_HINT}")


def _find(name: str) -> object:
    import importlib.util

    try:
        return importlib.util.find_spec(name)
    except ModuleNotFoundError:
        return None


def solara_arguments(host: str, port: int, open_browser: bool) -> list[str]:
    """The ``solara run`` arguments :func:`serve` uses."""
    return ["run", APP, "--host", host, "--port", str(int(port)), "--production",
            "--no-check-version", "--open" if open_browser else "--no-open",
            "--log-level-uvicorn", "warning"]


def serve(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = True, *,
          scale: int | None = None, replicates: int | None = None,
          cache: str | Path | None = None) -> None:
    """Serve the explorer at ``http://HOST:PORT`` until interrupted (Ctrl-C).

    Parameters
    ----------
    host
        Address to listen on (default: this machine only; ``0.0.0.0`` serves the network —
        anyone who can reach it can run simulations).
    port
        Port (0: a free one, printed at start).
    open_browser
        Open the page in the default browser once the server is up.
    scale, replicates
        The page's starting population scale (1 in ``scale`` households) and runs per
        scenario.
    cache
        Keep the runs in this directory (across sessions); default: a temporary directory.

    Raises
    ------
    PovsimError
        Solara is not installed (the message says what to install), or bad options.
    """
    require_solara()
    if not (0 <= int(port) <= 65535):
        raise PovsimError(f"--port must be between 0 and 65535, got {port}")
    for name, value in (("--scale", scale), ("--replicates", replicates)):
        if value is not None and int(value) < 1:
            raise PovsimError(f"{name} must be a positive integer, got {value}")
    env = dict(QUIET_ENV)
    if scale is not None:
        env[ENV_SCALE] = str(int(scale))
    if replicates is not None:
        env[ENV_REPLICATES] = str(int(replicates))
    if cache is not None:
        path = Path(cache)
        if path.exists() and not path.is_dir():
            raise PovsimError(f"--cache: {path} exists and is not a directory")
        env[ENV_CACHE] = str(path.resolve())
    os.environ.update(env)
    # Solara reads its settings when imported: after the environment above
    from solara.__main__ import cli

    # the page's module (pandas, xarray, matplotlib, the model) is imported now, before the
    # server says it is up, rather than when the first browser connects
    from . import app  # noqa: F401

    # http on the loopback: Solara falls back from SameSite=None cookies and says so at length
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https")
    try:
        cli.main(args=solara_arguments(host, int(port), open_browser), prog_name="povsim explore",
                 standalone_mode=False)
    except OSError as exc:  # the port is taken, or the host cannot be bound
        raise PovsimError(f"cannot serve the explorer at {host}:{port}: {exc}") from None
