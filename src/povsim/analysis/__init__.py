"""Analyses built on the ensemble layer and the calibration: hindcast, sensitivity, scale bias.

* :mod:`~povsim.analysis.hindcast` — :func:`hindcast`: the hindcast scenario run with each
  replicate's parameters drawn from the calibration posterior (``povsim hindcast``);
* :mod:`~povsim.analysis.sensitivity` — :func:`sensitivity`: Morris screening over every prior,
  then Sobol indices on the most influential (SALib; ``povsim sensitivity``);
* :mod:`~povsim.analysis.scale_bias` — :func:`scale_bias`: every target measure's replicate mean
  and standard error at several population scales (``benchmarks/scale_bias.py``).

All run on dask.distributed through :class:`povsim.ensembles.Runner` (the same cluster options
as ``povsim sweep``). Example::

    import povsim
    h = povsim.hindcast("hindcast", posterior="calibration/posterior.csv", replicates=50,
                        output="hindcast.nc", figure="hindcast.png")
    s = povsim.sensitivity("baseline", priors="calibration/priors.yaml", output_dir="sa")
"""

from __future__ import annotations

import sys
import types
from importlib import import_module
from typing import Any

#: public name -> submodule, imported on first use (dask, scipy and SALib are slow to import)
_API = {
    "hindcast": "hindcast", "HINDCAST_VARIABLES": "hindcast", "format_hindcast": "hindcast",
    "draw_parameters": "hindcast",
    "sensitivity": "sensitivity", "SensitivityResult": "sensitivity",
    "SENSITIVITY_OUTPUTS": "sensitivity", "format_sensitivity": "sensitivity",
    "scale_bias": "scale_bias", "format_scale_bias": "scale_bias",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        value = getattr(import_module(f"{__name__}.{_API[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))


class _Package(types.ModuleType):
    """The functions ``hindcast``, ``sensitivity`` and ``scale_bias`` share their names with the
    submodules that define them: importing a submodule must not replace the function on the
    package (as the import system would, binding the submodule)."""

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _API.get(name) == name:
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
