"""Likelihood-free Bayesian calibration of povsim scenarios (ABC-SMC with pyabc).

The package is ``povsim.calibration`` (the data folder ``calibration/`` is installed as
``povsim.calibration_data``); the entry point is the function :func:`povsim.calibrate`, also
available here as :func:`calibrate`.

Modules, in the order data flows:

* :mod:`~povsim.calibration.priors` — ``priors.yaml`` -> :class:`Prior` (key, frozen scipy
  distribution, basis, :meth:`~Prior.bounds`): :func:`load_priors`;
* :mod:`~povsim.calibration.targets` — ``targets.yaml`` -> :class:`TargetSet`, and the registry
  of measures (functions of a run's Dataset): :func:`load_targets`, :func:`register_measure`;
* :mod:`~povsim.calibration.abc` — the fit: :func:`calibrate`;
* :mod:`~povsim.calibration.posterior` — ``posterior.csv``, :func:`load_posterior`
  (:meth:`Posterior.sample`, :meth:`Posterior.median`), ``calibrated.yaml``;
* :mod:`~povsim.calibration.report` — figures and ``report.md``.

Example::

    import povsim
    res = povsim.calibrate("scenarios/baseline.yaml", "calibration/targets.yaml",
                           "calibration/priors.yaml", population_size=100, generations=9,
                           replicates=1, scale=25, db="calibration/abc.db",
                           output_dir="calibration")
    post = povsim.calibration.load_posterior("calibration/posterior.csv")
    draws = post.sample(20, rng=1)        # [{dotted key: value}, ...]
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

#: public name -> submodule; imported on first use, so that ``povsim --help`` and the other
#: commands do not pay for scipy, pandas and pyabc
_API = {
    "CalibrationInterrupted": "abc", "CalibrationResult": "abc", "calibrate": "abc",
    "estimate_hours": "abc", "Posterior": "posterior", "load_posterior": "posterior",
    "Prior": "priors", "load_priors": "priors", "MEASURES": "targets", "Target": "targets",
    "TargetSet": "targets", "load_targets": "targets", "register_measure": "targets",
}

__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(f"{__name__}.{_API[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
