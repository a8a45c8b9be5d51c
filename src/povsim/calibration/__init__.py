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
                           "calibration/priors.yaml", population_size=100, generations=6,
                           replicates=2, scale=100, db="calibration/abc.db",
                           output_dir="calibration")
    post = povsim.calibration.load_posterior("calibration/posterior.csv")
    draws = post.sample(20, rng=1)        # [{dotted key: value}, ...]
"""

from __future__ import annotations

from .abc import CalibrationInterrupted, CalibrationResult, calibrate, estimate_hours
from .posterior import Posterior, load_posterior
from .priors import Prior, load_priors
from .targets import MEASURES, Target, TargetSet, load_targets, register_measure

__all__ = ["MEASURES", "CalibrationInterrupted", "CalibrationResult", "Posterior", "Prior",
           "Target", "TargetSet", "calibrate", "estimate_hours", "load_posterior",
           "load_priors", "load_targets", "register_measure"]
