"""The installed povsim version, for provenance attributes (results, stores, markers)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

__all__ = ["povsim_version"]


def povsim_version() -> str:
    """Installed povsim version (``"unknown"`` when running from an uninstalled tree)."""
    try:
        return version("povsim")
    except PackageNotFoundError:  # pragma: no cover - only outside an install
        return "unknown"
