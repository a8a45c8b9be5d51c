"""Registries of model components, so a study can add its own without editing povsim.

A *pathway* or a *shock* is registered under a name together with its pydantic settings class;
the scenario's ``pathways:`` (or ``shocks:``) section then accepts that name, and the model builds
the component from it. An *output* is a function called at each year end whose arrays become
variables of the result Dataset. See :func:`povsim.register_pathway`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = [
    "OUTPUTS",
    "PATHWAYS",
    "SHOCKS",
    "ComponentSpec",
    "register_output",
    "register_pathway",
    "register_shock",
]


@dataclass(frozen=True)
class ComponentSpec:
    """A registered component: its name, settings class and implementation class.

    Attributes
    ----------
    name
        The key of the component in the scenario (``pathways.<name>`` or ``shocks.<name>``).
    config
        Its pydantic settings class.
    component
        The class implementing it.
    """

    name: str
    config: type
    component: type


PATHWAYS: dict[str, ComponentSpec] = {}
SHOCKS: dict[str, ComponentSpec] = {}
OUTPUTS: dict[str, Callable[..., Any]] = {}


def _check_name(name: str, table: dict[str, Any], kind: str, replace: bool) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a {kind} name must be a Python identifier, got {name!r}")
    if name in table and not replace:
        raise ValueError(
            f"a {kind} named {name!r} is already registered; pass replace=True to replace it"
        )


def register_pathway(name: str, config: type, component: type, *, replace: bool = False) -> None:
    """Register a pathway under ``name``.

    Parameters
    ----------
    name
        Key under ``pathways:`` in scenario files, and the label in the ``pathway`` dimension.
    config
        A :class:`povsim.scenario.schema.PathwayConfig` subclass holding its settings.
    component
        A :class:`povsim.pathways.base.Pathway` subclass implementing it.
    replace
        Allow replacing an existing registration (for tests and notebooks).
    """
    _check_name(name, PATHWAYS, "pathway", replace)
    PATHWAYS[name] = ComponentSpec(name, config, component)


def register_shock(name: str, config: type, component: type, *, replace: bool = False) -> None:
    """Register a shock under ``name`` (a key under ``shocks:`` in scenario files).

    Parameters
    ----------
    name
        Key under ``shocks:`` in scenario files.
    config
        A :class:`povsim.scenario.schema.StrictModel` subclass holding its settings.
    component
        A :class:`povsim.components.Component` subclass implementing it.
    replace
        Allow replacing an existing registration (for tests and notebooks).

    Raises
    ------
    ValueError
        ``name`` is not a Python identifier, or is taken and ``replace`` is false.
    """
    _check_name(name, SHOCKS, "shock", replace)
    SHOCKS[name] = ComponentSpec(name, config, component)


def register_output(name: str, func: Callable[..., Any], *, replace: bool = False) -> None:
    """Register an extra output computed at every year end.

    Parameters
    ----------
    name
        Name of the registration (the variables are named by ``func``).
    func
        ``func(run)`` receives the run's state (:class:`povsim.context.RunState`:
        ``households``, ``places``, ``weight``, ``params``, ...) and returns a mapping
        ``{variable_name: (dims, values, attrs)}`` for one year, where ``dims`` exclude
        ``year`` (e.g. ``("region",)``) and ``attrs`` include ``units``.
    replace
        Allow replacing an existing registration.

    Raises
    ------
    ValueError
        ``name`` is not a Python identifier, or is taken and ``replace`` is false.
    """
    _check_name(name, OUTPUTS, "output", replace)
    OUTPUTS[name] = func


def unregister(kind: str, name: str) -> None:
    """Remove a registration; nothing happens if there is none.

    Parameters
    ----------
    kind
        ``"pathway"``, ``"shock"`` or ``"output"``.
    name
        The registered name.
    """
    table = {"pathway": PATHWAYS, "shock": SHOCKS, "output": OUTPUTS}[kind]
    table.pop(name, None)
