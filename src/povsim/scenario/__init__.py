"""Scenarios: the validated parameter tree of a povsim run and how it is read from YAML."""

from povsim.scenario.loader import (
    apply_overrides,
    build_scenario,
    load_scenario,
    load_yaml,
    parse_override,
    scenario_from_yaml_string,
)
from povsim.scenario.schema import REGIONS, Scenario, at, iter_parameters

__all__ = [
    "REGIONS",
    "Scenario",
    "apply_overrides",
    "at",
    "build_scenario",
    "iter_parameters",
    "load_scenario",
    "load_yaml",
    "parse_override",
    "scenario_from_yaml_string",
]
