"""Common checks every component must pass (like scikit-learn's estimator checks).

:func:`check_component` runs, for one registered component (built-in or a study's own):

``declarations``
    a run in checked mode (:mod:`povsim.context`): the component reads and writes only what it
    declares, and raises only the events it declares;
``determinism``
    two runs with the same seed give identical results;
``empty county``
    a run at a scale so coarse that some counties have no registered (so no eligible)
    household completes;
``settings``
    every setting changes the outcome of a small scenario built to exercise it — a setting
    accepted and ignored fails here.

A component can say how to exercise it with two class attributes (the checks' "tags"):
``check_scenario`` (dotted overrides making the component matter, e.g. heavy disasters for
reconstruction) and ``check_settings`` (setting key → ``{"value": v, "overrides": {...}}`` for
settings whose effect needs a particular context, such as a priority that matters only when
money is short). Settings not listed are changed by a generic rule (:func:`changed_value`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import numpy as np
import xarray as xr
from pydantic import BaseModel

from povsim.model import PovertyModel
from povsim.registry import PATHWAYS, SHOCKS
from povsim.scenario import Scenario, load_scenario
from povsim.scenario.schema import Services

__all__ = [
    "ComponentCase",
    "changed_value",
    "check_component",
    "check_declarations",
    "check_deterministic",
    "check_empty_county",
    "check_setting",
    "component_cases",
    "settings_of",
]

#: scale of the checks' small scenario (about 800 simulated households)
CHECK_SCALE = 10000
#: a scale at which many counties have no simulated household at all
EMPTY_SCALE = 100000
#: simulated households a year in the capacity that exercises the shared pathway settings
BINDING_CAPACITY = 20
_BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"


@dataclass(frozen=True)
class ComponentCase:
    """One registered component: its kind, scenario section and classes.

    Attributes
    ----------
    kind
        ``"pathway"``, ``"shock"`` or ``"services"``.
    name
        Its registered name (its key under ``pathways:`` or ``shocks:``).
    config
        Its settings class (a :class:`pydantic.BaseModel` subclass).
    component
        Its component class.
    """

    kind: str  # "pathway", "shock" or "services"
    name: str
    config: type
    component: type

    @property
    def section(self) -> str:
        """The component's key path in a scenario."""
        return {"pathway": f"pathways.{self.name}", "shock": f"shocks.{self.name}",
                "services": "services"}[self.kind]

    def __str__(self) -> str:
        return f"{self.kind}:{self.name}"


def component_cases() -> list[ComponentCase]:
    """Every registered pathway and shock, and the services programme.

    Returns
    -------
    list of ComponentCase
        Built-in and user-registered components, pathways first.
    """
    from povsim.services import ServicesProgramme

    out = [ComponentCase("pathway", n, s.config, s.component) for n, s in PATHWAYS.items()]
    out += [ComponentCase("shock", n, s.config, s.component) for n, s in SHOCKS.items()]
    out.append(ComponentCase("services", "services", Services, ServicesProgramme))
    return out


def _base(case: ComponentCase, base: Scenario | None, scale: int) -> Scenario:
    scn = base if base is not None else load_scenario(_BASELINE)
    over: dict[str, Any] = {"population.scale": scale}
    over.update(getattr(case.component, "check_scenario", {}) or {})
    return scn.with_overrides(over)


_CACHE: dict[tuple[str, int], xr.Dataset] = {}


def _run(scn: Scenario, seed: int = 1, *, fresh: bool = False) -> xr.Dataset:
    """A checked run; the result is cached by scenario and seed unless ``fresh``."""
    key = (scn.sha256(), seed)
    if fresh or key not in _CACHE:
        ds = PovertyModel(scn, seed=seed, checked=True).run(progress=False)
        if fresh:
            return ds
        if len(_CACHE) > 32:
            _CACHE.clear()
        _CACHE[key] = ds
    return _CACHE[key]


def _same(a: xr.Dataset, b: xr.Dataset) -> bool:
    a = a.copy()
    b = b.copy()
    a.attrs, b.attrs = {}, {}
    return a.equals(b)


# --------------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------------
def settings_of(config: BaseModel, prefix: str = "") -> Iterator[tuple[str, Any, Any]]:
    """Leaf settings of a config: ``(dotted key, value, field info)``, recursing into sections
    and mappings of sections (e.g. ``items.water.unit_cost``).

    Parameters
    ----------
    config
        A settings object (a component's section of a scenario).
    prefix
        Prepended to every key (used by the recursion).

    Yields
    ------
    tuple of (str, object, pydantic.fields.FieldInfo)
        The dotted key, its value and its field.
    """
    fields = type(config).model_fields
    for name, info in fields.items():
        value = getattr(config, name)
        key = f"{prefix}{name}"
        if isinstance(value, BaseModel):
            yield from settings_of(value, key + ".")
        elif isinstance(value, dict) and value and all(isinstance(v, BaseModel)
                                                       for v in value.values()):
            for k, v in value.items():
                yield from settings_of(v, f"{key}.{k}.")
        else:
            yield key, value, info


def _bounds(info: Any) -> tuple[float | None, float | None]:
    lo = hi = None
    for m in getattr(info, "metadata", []) or []:
        lo = getattr(m, "ge", lo) if getattr(m, "ge", None) is not None else lo
        hi = getattr(m, "le", hi) if getattr(m, "le", None) is not None else hi
    for arg in get_args(info.annotation) or ():
        for m in getattr(arg, "__metadata__", ()) or ():
            lo = getattr(m, "ge", lo) if getattr(m, "ge", None) is not None else lo
            hi = getattr(m, "le", hi) if getattr(m, "le", None) is not None else hi
    return lo, hi


def changed_value(value: Any, info: Any) -> Any:
    """A different valid value for a setting by a generic rule (``None``: no rule applies).

    Parameters
    ----------
    value
        The setting's current value.
    info
        Its pydantic field (annotation and bounds).

    Returns
    -------
    object or None
        A boolean negated; another literal choice; a number moved within its bounds; a list of
        months halved; a mapping of numbers scaled. ``None`` for any other kind of value.
    """
    if isinstance(value, bool):
        return not value
    ann = info.annotation
    if get_origin(ann) is not None and str(get_origin(ann)).endswith("Literal"):
        others = [c for c in get_args(ann) if c != value]
        return others[0] if others else None
    lo, hi = _bounds(info)
    if isinstance(value, int):
        new = value + 3
        return min(new, int(hi)) if hi is not None and new > hi else new
    if isinstance(value, float):
        if hi is not None and hi <= 1.0:
            return value * 0.5 if value >= 0.5 else min(1.0, value + 0.3)
        new = value * 2.0 if value > 0 else 1.0
        return new if hi is None or new <= hi else value * 0.5
    if isinstance(value, list) and value and all(isinstance(v, int) for v in value):
        half = value[: max(1, len(value) // 2)]
        return half if half != value else [value[0] % 12 + 1]
    if isinstance(value, dict) and value and all(isinstance(v, (int, float))
                                                 for v in value.values()):
        scale = 0.5 if all(0 <= v <= 1 for v in value.values()) else 2.0
        return {k: v * scale for k, v in value.items()}
    return None


def check_setting(case: ComponentCase, key: str, *, base: Scenario | None = None,
                  scale: int = CHECK_SCALE, reference: xr.Dataset | None = None) -> None:
    """The setting ``key`` of the component changes the outcome of its exercise scenario.

    Parameters
    ----------
    case
        The component (see :func:`component_cases`).
    key
        The setting's dotted key within the component's section (``"capacity"``).
    base
        The scenario to start from (default: ``scenarios/baseline.yaml``).
    scale
        Population scale of the small scenario.
    reference
        The run of the unchanged scenario, if already made (saves a run).

    Raises
    ------
    AssertionError
        If changing the setting leaves every result as it was, or no value to try is known.
    """
    spec = (getattr(case.component, "check_settings", {}) or {}).get(key, {})
    scn = _base(case, base, scale)
    extra = dict(spec.get("overrides", {}))
    if case.kind == "pathway" and "value" not in spec and not extra:
        # the shared settings of every pathway: a capacity of about twenty simulated
        # households a year binds for any pathway, and the priority and the capacity unit
        # matter only when something is rationed
        if key == "capacity":
            spec = {"value": BINDING_CAPACITY * scale}
        elif key in ("capacity_unit", "priority"):
            extra = {f"{case.section}.capacity": BINDING_CAPACITY * scale}
    if extra:
        scn = scn.with_overrides(extra)
    if "value" in spec:
        value = spec["value"]
    else:
        leaf = {k: (v, i) for k, v, i in settings_of(_section(scn, case))}
        if key not in leaf:
            raise AssertionError(f"{case}: no setting {key!r}")
        value = changed_value(*leaf[key])
        if value is None:
            raise AssertionError(
                f"{case}: no generic value to try for {key!r}; give one in "
                f"{case.component.__name__}.check_settings")
    ref = reference if reference is not None and not extra else _run(scn)
    changed = _run(scn.with_overrides({f"{case.section}.{key}": value}), fresh=True)
    if _same(ref, changed):
        raise AssertionError(
            f"{case}: setting {case.section}.{key} = {value!r} leaves every result unchanged "
            f"(accepted and ignored?)")


def _section(scn: Scenario, case: ComponentCase) -> BaseModel:
    if case.kind == "services":
        return scn.services
    if case.kind == "pathway":
        return scn.pathways.all()[case.name]
    return getattr(scn.shocks, case.name, None) or scn.shocks.user()[case.name]


# --------------------------------------------------------------------------------------------
# the other checks
# --------------------------------------------------------------------------------------------
def check_declarations(case: ComponentCase, *, base: Scenario | None = None,
                       scale: int = CHECK_SCALE) -> xr.Dataset:
    """A checked run: the component touches only what it declares (else UndeclaredAccess).

    Parameters
    ----------
    case
        The component (see :func:`component_cases`).
    base
        The scenario to start from (default: ``scenarios/baseline.yaml``).
    scale
        Population scale of the small scenario.

    Returns
    -------
    xarray.Dataset
        The checked run's results (a reference for the other checks).

    Raises
    ------
    povsim.context.UndeclaredAccess
        The component read or wrote a household column, or raised an event, it does not
        declare.
    """
    return _run(_base(case, base, scale))


def check_deterministic(case: ComponentCase, *, base: Scenario | None = None,
                        scale: int = CHECK_SCALE, reference: xr.Dataset | None = None) -> None:
    """Two runs with the same seed are identical.

    Parameters
    ----------
    case
        The component (see :func:`component_cases`).
    base
        The scenario to start from (default: ``scenarios/baseline.yaml``).
    scale
        Population scale of the small scenario.
    reference
        The first run, if already made (:func:`check_declarations`' result).

    Raises
    ------
    AssertionError
        The two runs differ.
    """
    scn = _base(case, base, scale)
    a = reference if reference is not None else _run(scn)
    if not _same(a, _run(scn, fresh=True)):
        raise AssertionError(f"{case}: two runs with the same seed differ")


def check_empty_county(case: ComponentCase, *, base: Scenario | None = None) -> None:
    """A run with counties that have no registered household at all completes.

    Parameters
    ----------
    case
        The component (see :func:`component_cases`).
    base
        The scenario to start from (default: ``scenarios/baseline.yaml``).

    Raises
    ------
    AssertionError
        The run did not complete.
    """
    scn = _base(case, base, EMPTY_SCALE)
    ds = _run(scn)
    reg = ds["county_registered_poor"].isel(year=0).values
    if not np.any(reg == 0):  # pragma: no cover - depends on the population data
        raise AssertionError(f"{case}: the coarse scenario has no county without registered "
                             f"households; lower the scale")
    if int(ds.attrs["complete"]) != 1:
        raise AssertionError(f"{case}: the run with empty counties did not complete")


def check_component(case: ComponentCase, *, base: Scenario | None = None,
                    settings: bool | list[str] = True, scale: int = CHECK_SCALE) -> None:
    """Run every common check on one component (see the module docstring).

    Parameters
    ----------
    case
        The component (see :func:`component_cases`).
    base
        The scenario to start from (default: ``scenarios/baseline.yaml``).
    settings
        ``True``: check every setting; a list: only those keys; ``False``: none.
    scale
        Population scale of the small scenario.

    Raises
    ------
    AssertionError
        A check failed (every failing setting is listed).
    """
    ref = check_declarations(case, base=base, scale=scale)
    check_deterministic(case, base=base, scale=scale, reference=ref)
    check_empty_county(case, base=base)
    if settings is False:
        return
    keys = settings if isinstance(settings, list) else [
        k for k, _, _ in settings_of(_section(_base(case, base, scale), case))]
    failures = []
    for key in keys:
        try:
            check_setting(case, key, base=base, scale=scale, reference=ref)
        except AssertionError as exc:
            failures.append(str(exc))
    if failures:
        raise AssertionError("\n".join(failures))
