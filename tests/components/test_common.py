"""The common checks of :mod:`povsim.testing` over every registered component.

Like scikit-learn's estimator checks: each built-in pathway, shock and the services programme,
and a pathway registered by a test plugin, declares what it touches and touches nothing else
(checked mode), is deterministic, survives counties with no eligible household, and every one
of its settings changes the outcome (the full sweep over every setting is ``slow``; the settings
that were once accepted and ignored are checked in the default run).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
from plugin_component import FlatBonus, FlatBonusConfig

import povsim
from povsim.context import UndeclaredAccess
from povsim.registry import unregister
from povsim.testing import (
    ComponentCase,
    check_component,
    check_setting,
    component_cases,
    settings_of,
)

PLUGIN = ComponentCase("pathway", "flat_bonus", FlatBonusConfig, FlatBonus)
CASES = [*component_cases(), PLUGIN]

#: settings that were accepted and ignored before Engine v2 (the Dataset equalled the baseline's)
ONCE_IGNORED = [
    ("medical", "capacity"),
    ("medical", "priority"),
    ("medical", "delay_months"),
    ("reconstruction", "priority"),
    ("reconstruction", "capacity"),
    # found by the common checks: payments started in the month of enrolment whatever it said
    ("dibao", "delay_months"),
]


@pytest.fixture(autouse=True, scope="module")
def plugin() -> Iterator[None]:
    """Register the test plugin's pathway for this module's tests."""
    povsim.register_pathway("flat_bonus", FlatBonusConfig, FlatBonus, replace=True)
    try:
        yield
    finally:
        unregister("pathway", "flat_bonus")


def _case(name: str) -> ComponentCase:
    return next(c for c in CASES if c.name == name)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_common_checks(case: ComponentCase) -> None:
    """Declarations hold in checked mode, runs are deterministic, empty counties are fine."""
    check_component(case, settings=False)


@pytest.mark.parametrize(("name", "key"), ONCE_IGNORED, ids=lambda x: str(x))
def test_once_ignored_settings_act(name: str, key: str) -> None:
    """Each of these settings now changes the results (they were ignored before)."""
    check_setting(_case(name), key)


def test_plugin_settings_act() -> None:
    """Every setting of the plugin's pathway changes the outcome (shared rationing, delay)."""
    check_component(PLUGIN, settings=["amount", "capacity", "priority", "delay_months",
                                      "enabled", "capacity_unit"])


@pytest.mark.slow
@pytest.mark.parametrize("case", component_cases(), ids=str)
def test_every_setting_acts(case: ComponentCase) -> None:
    """Every setting of every built-in component changes the outcome of its exercise."""
    check_component(case)


def test_settings_walk_nested_sections() -> None:
    """The settings of nested sections are found (production's microcredit, services' items)."""
    keys = {k for k, _, _ in settings_of(povsim.load_scenario(
        "scenarios/baseline.yaml").pathways.production)}
    assert {"microcredit.loan", "employment.share", "capacity", "priority"} <= keys


# --------------------------------------------------------------------------------------------
# checked mode catches what a component touches without declaring it
# --------------------------------------------------------------------------------------------
class _Bad(povsim.Pathway):
    """A pathway whose behaviour is set per test."""

    reads: ClassVar[tuple[str, ...]] = ("registered",)
    mode: ClassVar[str] = "read"

    def eligible(self, ctx: Any, year: int) -> np.ndarray:
        hh = ctx.households
        if self.mode == "read":
            _ = hh.pc_assessed  # not declared
        elif self.mode == "write":
            hh.registered[:1] = hh.registered[:1]  # declared as read only
        elif self.mode == "event":
            ctx.emit("hospital_stay", np.zeros(0, int), np.zeros(0))
        elif self.mode == "state":
            _ = ctx.flows
        return np.zeros(hh.n, dtype=bool)


@pytest.mark.parametrize(("mode", "match"), [
    ("read", "reads household column 'pc_assessed'"),
    ("write", "wrote to state it does not declare"),
    ("event", "raises event 'hospital_stay'"),
    ("state", "reads 'flows'"),
])
def test_checked_mode_refuses_undeclared_access(mode: str, match: str) -> None:
    """Reading, writing, raising or using state without declaring it is an UndeclaredAccess."""
    cls = type("Bad", (_Bad,), {"mode": mode})
    povsim.register_pathway("bad", FlatBonusConfig, cls, replace=True)
    try:
        scn = povsim.load_scenario("scenarios/baseline.yaml").with_overrides(
            {"population.scale": 20000, "pathways.bad": {}})
        model = povsim.PovertyModel(scn, checked=True)
        with pytest.raises(UndeclaredAccess, match=match):
            model.step()
        # unchecked, the same component runs (the check is what catches it)
        if mode != "write":
            povsim.PovertyModel(scn, checked=False).step()
    finally:
        unregister("pathway", "bad")
