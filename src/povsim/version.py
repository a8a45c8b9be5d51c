"""The installed povsim version, for provenance attributes (results, stores, markers)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version

__all__ = ["povsim_version"]


@cache
def povsim_version() -> str:
    """Installed povsim version (``"unknown"`` when running from an uninstalled tree).

    Read once per process: the look-up in the installed metadata takes ~2 ms, and every run's
    Dataset records it."""
    try:
        return version("povsim")
    except PackageNotFoundError:  # pragma: no cover - only outside an install
        return "unknown"
