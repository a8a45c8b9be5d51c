"""The calibration fit as the HTML report and the docs' validation page show it.

A fit is the ``posterior.csv`` that ``povsim calibrate`` writes, read with
:func:`~povsim.calibration.posterior.load_posterior`, set against the targets and the priors
shipped with povsim (``calibration/targets.yaml`` and ``calibration/priors.yaml``, installed as
``povsim.calibration_data``), with the header comments of the ``calibrated.yaml`` beside it
(method, date, final epsilon, settings, data-file hashes). :func:`load_fit` gathers them;
:func:`shipped_posterior` says whether povsim ships a posterior. The residual rows come from
:func:`~povsim.calibration.report.residual_table`, the figures from
:func:`~povsim.calibration.report.fit_figure` and
:func:`~povsim.calibration.report.marginals_figure`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.resources
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from povsim.calibration.posterior import Posterior, load_posterior
from povsim.errors import PovsimError

__all__ = ["CalibrationFit", "load_fit", "read_header", "shipped_posterior"]

#: what a posterior file must be, said in every error about one
EXPECTED = ("the posterior.csv written by povsim calibrate (columns generation, particle, weight, "
            "distance, epsilon, one column per parameter key and sim:<target> per target)")


#: the header lines of calibrated.yaml that :func:`read_header` reads
_HEADER = ("date", "method", "final epsilon", "epsilons by generation", "settings",
           "fitted scenario", "priors")


def _shipped(name: str) -> Path:
    return Path(str(importlib.resources.files("povsim.calibration_data") / name))


def shipped_posterior() -> Path | None:
    """The posterior shipped with povsim, if there is one.

    Returns
    -------
    pathlib.Path or None
        ``posterior.csv`` of the package ``povsim.calibration_data`` (``calibration/`` in the
        repository), or ``None`` when povsim ships no posterior.
    """
    p = _shipped("posterior.csv")
    return p if p.is_file() else None


def read_header(path: str | Path) -> dict[str, str]:
    """The ``# name: value`` header comments of a ``calibrated.yaml``.

    Parameters
    ----------
    path
        A ``calibrated.yaml`` written by ``povsim calibrate``.

    Returns
    -------
    dict
        ``{name: value}`` of the header lines (``date``, ``method``, ``final epsilon``,
        ``epsilons by generation``, ``settings``, ``fitted scenario``, ``priors``); the data-file
        hashes listed under ``data files (sha256)`` come as ``sha256 <file name>``. Empty when
        the file has no such header or cannot be read.
    """
    out: dict[str, str] = {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return out
    in_hashes = False
    for line in lines:
        if not line.startswith("#"):
            break
        body = line[1:].strip()
        if body == "data files (sha256):":
            in_hashes = True
            continue
        name, sep, value = body.partition(": ")
        if in_hashes and line.startswith("#     ") and sep:
            out[f"sha256 {name.strip()}"] = value.strip()
            continue
        in_hashes = False
        if sep and name in _HEADER:
            out[name] = value.strip()
    return out


@dataclass(frozen=True)
class CalibrationFit:
    """A posterior with the targets and priors it is shown against.

    Attributes
    ----------
    path
        The posterior file.
    posterior
        Its contents.
    rows
        One row per target of the targets file that the posterior holds
        (:func:`~povsim.calibration.report.residual_table`: ``target, observed, tolerance,
        weight, median, low, high, residual, z, source``).
    missing
        Targets of the targets file that the posterior has no ``sim:`` column for.
    extra
        ``sim:`` columns of the posterior that are not targets of the targets file.
    priors
        The priors of the posterior's parameters found in the priors file, in posterior order.
    no_prior
        Parameters of the posterior that the priors file does not list.
    header
        The header of the ``calibrated.yaml`` beside the posterior (:func:`read_header`); empty
        when there is none.
    calibrated
        That ``calibrated.yaml``, or ``None``.
    targets_file, priors_file
        The files the rows and priors come from.
    """

    path: Path
    posterior: Posterior
    rows: list[dict[str, Any]]
    missing: list[str]
    extra: list[str]
    priors: list[Any]
    no_prior: list[str]
    header: dict[str, str] = field(default_factory=dict)
    calibrated: Path | None = None
    targets_file: Path | None = None
    priors_file: Path | None = None

    def settings(self) -> list[tuple[str, str]]:
        """What the fit was: method, date, population, generations, epsilon, settings.

        Returns
        -------
        list of (str, str)
            ``(name, value)`` pairs; the header of ``calibrated.yaml`` where it says, the
            posterior itself otherwise.
        """
        post, h = self.posterior, self.header
        rows = [("method", h.get("method", "ABC-SMC (pyabc); distance = sum weight*|sim-obs|"
                                           "/tolerance over the fitted targets")),
                ("date", h.get("date", "not recorded (no calibrated.yaml beside the posterior)")),
                ("population (particles in the final generation)", str(len(post.final))),
                ("generations", str(post.generations)),
                ("final epsilon (tolerance units)", f"{post.epsilon:.4g}"),
                ("epsilons by generation", ", ".join(f"{e:.4g}" for e in post.epsilons())),
                ("free parameters", str(len(post.keys)))]
        if "settings" in h:
            rows.append(("settings", h["settings"]))
        if "fitted scenario" in h:
            rows.append(("fitted scenario", h["fitted scenario"]))
        rows.append(("posterior file", str(self.path)))
        if self.calibrated is not None:
            rows.append(("calibrated values", str(self.calibrated)))
        return rows

    def targets_changed(self) -> bool:
        """Whether the targets file differs from the one the fit recorded (by sha256).

        Returns
        -------
        bool
            ``True`` when ``calibrated.yaml`` records a hash of ``targets.yaml`` and the targets
            file shown against differs from it; ``False`` otherwise (also when nothing is
            recorded).
        """
        recorded = self.header.get("sha256 targets.yaml")
        if not recorded or self.targets_file is None or not self.targets_file.is_file():
            return False
        return hashlib.sha256(self.targets_file.read_bytes()).hexdigest() != recorded

    def parameters(self) -> list[dict[str, Any]]:
        """Each parameter's posterior median and 90 % interval with its prior.

        Returns
        -------
        list of dict
            ``key, median, low, high, prior, basis`` per parameter of the posterior (``prior``
            and ``basis`` empty when the priors file does not list the key).
        """
        med, ci = self.posterior.median(), self.posterior.interval(0.9)
        by_key = {p.key: p for p in self.priors}
        out = []
        for k in self.posterior.keys:
            p = by_key.get(k)
            prior = (f"{p.kind}(" + ", ".join(f"{a}={v:g}" for a, v in p.params.items()) + ")"
                     if p is not None else "")
            out.append({"key": k, "median": med[k], "low": ci[k][0], "high": ci[k][1],
                        "prior": prior, "basis": p.basis if p is not None else ""})
        return out


def _check(post: Posterior, path: Path) -> None:
    """Refuse a table that has the columns but not the numbers of a posterior."""
    table = post.table
    if not post.targets:
        raise PovsimError(f"{path}: no sim:<target> column (expected {EXPECTED})")
    for col in ("generation", "weight", "epsilon", *post.keys,
                *(f"sim:{t}" for t in post.targets)):
        values = pd.to_numeric(table[col], errors="coerce")
        bad = values.isna() & (table[col].notna() | (col in ("generation", "weight")))
        if bad.any():
            raise PovsimError(f"{path}: column {col!r} holds {table[col][bad].iloc[0]!r}, not a "
                              f"number (expected {EXPECTED})")
    w = post.final["weight"].to_numpy(float)
    if not (np.all(np.isfinite(w)) and np.all(w >= 0) and w.sum() > 0):
        raise PovsimError(f"{path}: the weights of the final generation are not non-negative "
                          f"numbers with a positive sum (expected {EXPECTED})")


def load_fit(posterior: str | Path | None = None, *, targets: str | Path | None = None,
             priors: str | Path | None = None) -> CalibrationFit | None:
    """Read a posterior and set it against the targets and priors.

    Parameters
    ----------
    posterior
        A ``posterior.csv`` (or the directory holding it); ``None``: the one shipped with povsim
        (:func:`shipped_posterior`).
    targets, priors
        The targets and priors files (default: the ones shipped with povsim).

    Returns
    -------
    CalibrationFit or None
        ``None`` only when ``posterior`` is ``None`` and povsim ships no posterior.

    Raises
    ------
    PovsimError
        The posterior file is missing, unreadable or not a posterior table (the message names
        the file and what was expected); or the targets or priors file is invalid.
    """
    from povsim.calibration.priors import load_priors
    from povsim.calibration.targets import load_targets

    if posterior is None:
        path = shipped_posterior()
        if path is None:
            return None
    else:
        path = Path(posterior)
        if path.is_dir():
            path = path / "posterior.csv"
        if not path.is_file():
            raise PovsimError(f"{path}: no such posterior file (expected {EXPECTED})")
    try:
        post = load_posterior(path)
    except PovsimError as exc:  # one line: a parser's message may span several
        raise PovsimError(" ".join(f"{exc} (expected {EXPECTED})".split())) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure means "not a posterior"
        raise PovsimError(" ".join(f"{path}: cannot read the posterior table ({type(exc).__name__}"
                                   f": {exc}; expected {EXPECTED})".split())) from None
    _check(post, path)
    targets_file = Path(targets) if targets is not None else _shipped("targets.yaml")
    priors_file = Path(priors) if priors is not None else _shipped("priors.yaml")
    tset = load_targets(targets_file)
    have = set(post.targets)
    shown = dataclasses.replace(tset, targets=tuple(t for t in tset.targets if t.name in have))
    from povsim.calibration.report import residual_table

    rows = residual_table(post, shown) if shown.targets else []
    missing = [t.name for t in tset.targets if t.name not in have]
    extra = [t for t in post.targets if t not in set(tset.names)]
    plist = load_priors(priors_file) if priors_file.is_file() else []
    by_key = {p.key: p for p in plist}
    fitted = [by_key[k] for k in post.keys if k in by_key]
    no_prior = [k for k in post.keys if k not in by_key]
    calibrated = path.with_name("calibrated.yaml")
    calibrated = calibrated if calibrated.is_file() else None
    header = read_header(calibrated) if calibrated is not None else {}
    return CalibrationFit(path=path, posterior=post, rows=rows, missing=missing, extra=extra,
                          priors=fitted, no_prior=no_prior, header=header,
                          calibrated=calibrated, targets_file=targets_file,
                          priors_file=priors_file)


def band_class(z: float) -> str:
    """``held`` (within one tolerance), ``partly`` (within two) or ``missed`` (further)."""
    a = abs(z)
    return "held" if a <= 1 else "partly" if a <= 2 else "missed"

