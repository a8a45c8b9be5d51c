"""Priors of the free parameters: ``calibration/priors.yaml`` read into :class:`Prior` objects.

A priors file is one YAML mapping with a ``priors:`` list. Each entry names a dotted scenario key
(as ``povsim show --sources`` lists them), a distribution with its parameters, and the basis on
which that prior was chosen::

    priors:
      - key: population.income_growth
        distribution: truncnorm
        params: {mean: 0.092, sd: 0.03, lower: 0.0, upper: 0.25}
        basis: "calibration/income.csv: poor-area nominal growth 10.5-12.3 % (2014-16) ..."

Distributions and their parameters (all frozen :mod:`scipy.stats` objects):

``uniform``    ``lower``, ``upper``
``normal``     ``mean``, ``sd``
``lognormal``  ``median``, ``sigma`` (log-sd)
``beta``       ``a``, ``b`` and optionally ``lower``, ``upper`` (default 0, 1)
``truncnorm``  ``mean``, ``sd``, ``lower``, ``upper``

The same objects serve the ABC-SMC fit (:mod:`povsim.calibration.abc`) and sensitivity analysis
(SALib wants bounds: :meth:`Prior.bounds`). Integer scenario fields (e.g. months) are rounded
when a value is applied to a scenario (:func:`apply_values`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from scipy import stats

from povsim.errors import ScenarioError

__all__ = ["DISTRIBUTIONS", "Prior", "apply_values", "check_against_scenario", "load_priors",
           "priors_from_mapping"]

#: parameter names each distribution takes (required, optional)
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "uniform": (("lower", "upper"), ()),
    "normal": (("mean", "sd"), ()),
    "lognormal": (("median", "sigma"), ()),
    "beta": (("a", "b"), ("lower", "upper")),
    "truncnorm": (("mean", "sd", "lower", "upper"), ()),
}


def _frozen(distribution: str, p: Mapping[str, float]) -> Any:
    """The frozen scipy distribution of a validated entry."""
    if distribution == "uniform":
        return stats.uniform(loc=p["lower"], scale=p["upper"] - p["lower"])
    if distribution == "normal":
        return stats.norm(loc=p["mean"], scale=p["sd"])
    if distribution == "lognormal":
        return stats.lognorm(s=p["sigma"], scale=p["median"])
    if distribution == "beta":
        lo, hi = p.get("lower", 0.0), p.get("upper", 1.0)
        return stats.beta(p["a"], p["b"], loc=lo, scale=hi - lo)
    if distribution == "truncnorm":
        a = (p["lower"] - p["mean"]) / p["sd"]
        b = (p["upper"] - p["mean"]) / p["sd"]
        return stats.truncnorm(a, b, loc=p["mean"], scale=p["sd"])
    raise ValueError(distribution)  # pragma: no cover - validated before


def _scipy_args(distribution: str, p: Mapping[str, float]) -> tuple[str, tuple[float, ...],
                                                                     dict[str, float]]:
    """``(scipy name, args, kwargs)`` of the same distribution (for pyabc's ``RV``)."""
    if distribution == "uniform":
        return "uniform", (), {"loc": p["lower"], "scale": p["upper"] - p["lower"]}
    if distribution == "normal":
        return "norm", (), {"loc": p["mean"], "scale": p["sd"]}
    if distribution == "lognormal":
        return "lognorm", (p["sigma"],), {"scale": p["median"]}
    if distribution == "beta":
        lo, hi = p.get("lower", 0.0), p.get("upper", 1.0)
        return "beta", (p["a"], p["b"]), {"loc": lo, "scale": hi - lo}
    a = (p["lower"] - p["mean"]) / p["sd"]
    b = (p["upper"] - p["mean"]) / p["sd"]
    return "truncnorm", (a, b), {"loc": p["mean"], "scale": p["sd"]}


@dataclass(frozen=True)
class Prior:
    """The prior of one free parameter.

    Attributes
    ----------
    key
        Dotted scenario key (``"shocks.illness.rate"``).
    distribution
        The frozen :mod:`scipy.stats` distribution.
    basis
        Why this prior: the calibration file rows or the assumption it rests on.
    kind
        Distribution name as written in the file (``"uniform"``, ``"truncnorm"``, ...).
    params
        The distribution's parameters as written in the file.
    """

    key: str
    distribution: Any
    basis: str
    kind: str = "uniform"
    params: Mapping[str, float] = field(default_factory=dict)

    def bounds(self) -> tuple[float, float]:
        """The support, or its 1 % and 99 % quantiles where it is unbounded.

        Returns
        -------
        (float, float)
            ``(low, high)``, finite, ``low < high`` (what SALib's ``bounds`` want).
        """
        lo, hi = (float(x) for x in self.distribution.support())
        if not math.isfinite(lo):
            lo = float(self.distribution.ppf(0.01))
        if not math.isfinite(hi):
            hi = float(self.distribution.ppf(0.99))
        return lo, hi

    def scipy_args(self) -> tuple[str, tuple[float, ...], dict[str, float]]:
        """``(scipy.stats name, args, kwargs)`` building the same distribution."""
        return _scipy_args(self.kind, self.params)

    @property
    def name(self) -> str:
        """The key with dots replaced by ``__`` (a column or identifier-safe name)."""
        return self.key.replace(".", "__")


class _Entry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str = Field(min_length=1, pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
    distribution: Literal["uniform", "normal", "lognormal", "beta", "truncnorm"]
    params: dict[str, float]
    basis: str = Field(min_length=1)

    @model_validator(mode="after")
    def _check_params(self) -> _Entry:
        req, opt = DISTRIBUTIONS[self.distribution]
        missing = [k for k in req if k not in self.params]
        extra = [k for k in self.params if k not in req + opt]
        if missing or extra:
            allowed = ", ".join(req) + (f" (optional: {', '.join(opt)})" if opt else "")
            raise ValueError(f"{self.distribution} takes params {allowed}; "
                             + (f"missing {', '.join(missing)}" if missing else "")
                             + ("; " if missing and extra else "")
                             + (f"unknown {', '.join(extra)}" if extra else ""))
        p = self.params
        if any(not math.isfinite(v) for v in p.values()):
            raise ValueError("params must be finite numbers")
        for lo, hi in (("lower", "upper"),):
            if lo in p and hi in p and not p[lo] < p[hi]:
                raise ValueError(f"params.lower must be below params.upper, got {p[lo]} and {p[hi]}")
        for pos in ("sd", "sigma", "a", "b", "median"):
            if pos in p and not p[pos] > 0:
                raise ValueError(f"params.{pos} must be positive, got {p[pos]}")
        return self


class _File(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str = ""
    priors: list[_Entry] = Field(min_length=1)


def validation_error(exc: ValidationError, file: str) -> ScenarioError:
    """The first problem pydantic found in a calibration file, as a :class:`ScenarioError`
    naming ``file``, the key path, what was expected and (briefly) what was found."""
    err = exc.errors()[0]
    key = ".".join(str(x) for x in err["loc"] if not str(x).startswith("function-"))
    msg = err["msg"].removeprefix("Value error, ")
    found = None if err["type"] in ("missing", "value_error") else repr(err.get("input"))
    if found is not None and len(found) > 80:
        found = found[:77] + "..."
    return ScenarioError(msg, file=file, key=key or None, found=found)


def priors_from_mapping(data: Any, file: str = "<priors>") -> list[Prior]:
    """Validate a priors mapping (as read from YAML) and build the :class:`Prior` list.

    Raises
    ------
    ScenarioError
        Naming ``file``, the key path (``priors.2.params``) and what was expected.
    """
    if not isinstance(data, Mapping):
        raise ScenarioError("a priors file is a mapping with a 'priors:' list, found "
                            f"{type(data).__name__}", file=file)
    try:
        parsed = _File.model_validate(data)
    except ValidationError as exc:
        raise validation_error(exc, file) from None
    seen: set[str] = set()
    out = []
    for i, e in enumerate(parsed.priors):
        if e.key in seen:
            raise ScenarioError(f"{e.key} has two priors", file=file, key=f"priors.{i}.key")
        seen.add(e.key)
        out.append(Prior(key=e.key, distribution=_frozen(e.distribution, e.params),
                         basis=e.basis, kind=e.distribution, params=dict(e.params)))
    return out


def _read_yaml(path: Path) -> Any:
    import yaml

    if not path.is_file():
        raise ScenarioError(f"file not found: {path}", file=str(path))
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise ScenarioError(f"not valid YAML: {getattr(exc, 'problem', exc)}", file=str(path),
                            line=None if line is None else line + 1) from None


def load_priors(path: str | Path) -> list[Prior]:
    """Read and validate a priors file.

    Parameters
    ----------
    path
        A YAML file with a ``priors:`` list (see the module docstring).

    Returns
    -------
    list of Prior
        In file order.

    Raises
    ------
    ScenarioError
        The file is missing, not YAML, or an entry is invalid (the message names the file, the
        entry's key path and what is accepted).
    """
    path = Path(path)
    return priors_from_mapping(_read_yaml(path), str(path))


def _current(scenario: Any, key: str) -> Any:
    obj = scenario
    for part in key.split("."):
        if isinstance(obj, Mapping):
            if part not in obj:
                raise KeyError(part)
            obj = obj[part]
        elif isinstance(obj, BaseModel) and part in type(obj).model_fields:
            obj = getattr(obj, part)
        else:
            raise KeyError(part)
    return obj


def apply_values(scenario: Any, values: Mapping[str, float]) -> Any:
    """The scenario with each dotted key set to its value (integer fields rounded).

    A dated parameter (``{2015: a, 2017: b}``) is replaced by the single value for every year.
    """
    upd: dict[str, Any] = {}
    for key, v in values.items():
        try:
            cur = _current(scenario, key)
        except KeyError:
            cur = None
        if isinstance(cur, int) and not isinstance(cur, bool):
            upd[key] = int(round(float(v)))
        else:
            upd[key] = float(v)
    return scenario.with_overrides(upd)


def check_against_scenario(priors: Sequence[Prior], scenario: Any, file: str = "<priors>"
                           ) -> None:
    """Check that every prior's key is a numeric scenario parameter that accepts its support.

    Raises
    ------
    ScenarioError
        Naming the priors file, the entry and the problem (unknown key, not a number, a prior
        whose bounds the scenario schema rejects).
    """
    for i, p in enumerate(priors):
        try:
            cur = _current(scenario, p.key)
        except KeyError:
            raise ScenarioError(f"{p.key} is not a parameter of scenario {scenario.name!r} "
                                "(see `povsim show SCENARIO`)", file=file,
                                key=f"priors.{i}.key") from None
        numeric = isinstance(cur, int | float) and not isinstance(cur, bool)
        dated = isinstance(cur, dict) and cur and all(
            isinstance(v, int | float) for v in cur.values())
        if not (numeric or dated or cur is None):
            raise ScenarioError(f"{p.key} is not a number (found {type(cur).__name__}); only "
                                "numeric parameters can be calibrated", file=file,
                                key=f"priors.{i}.key")
        for v in p.bounds():
            try:
                apply_values(scenario, {p.key: v})
            except ScenarioError as exc:
                raise ScenarioError(f"the prior of {p.key} reaches {v:g}, which the scenario "
                                    f"rejects: {exc}", file=file,
                                    key=f"priors.{i}.params") from None
