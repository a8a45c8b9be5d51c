"""Assumption constants live in the schema with their source, and the code reads them there."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from povsim.cli import main
from povsim.population.synthesis import synthesize
from povsim.rng import Streams
from povsim.scenario import Scenario, iter_parameters

BASELINE = Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml"

MOVED = {
    "population.composition.max_household_size": 10,
    "population.composition.elderly_share": 0.18,
    "population.composition.child_share": 0.25,
    "population.composition.other_transfer_share": 0.10,
    "population.composition.property_share": 0.014,
    "population.composition.wage_share": 0.5,
    "population.composition.nonregistered_no_labour": 0.06,
    "population.composition.nonregistered_disabled": 0.04,
    "population.composition.nonregistered_hazard_factor": 0.3,
    "population.composition.nonregistered_dangerous_house": 0.03,
    "population.composition.poor_village_people_cap": 0.8,
    "population.composition.poor_village_registered_cap": 0.85,
    "pathways.production.employment.training_months": 3,
    "shocks.disasters.local_wage_share": 0.5,
}


def test_moved_constants_are_sourced_parameters() -> None:
    params = {key: (value, meta) for key, value, meta in iter_parameters(Scenario())}
    for key, default in MOVED.items():
        value, meta = params[key]
        assert value == default, key
        assert meta.get("source"), key


def test_show_sources_lists_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["show", str(BASELINE), "--sources"]) == 0
    out = capsys.readouterr().out
    for key in MOVED:
        assert f"{key} = " in out, key


@pytest.fixture(scope="module")
def small() -> Scenario:
    return Scenario().with_overrides({"population.scale": 5000})


def test_synthesis_reads_the_composition(small: Scenario) -> None:
    base = synthesize(small, Streams(3)).households
    capped = synthesize(
        small.with_overrides({"population.composition.max_household_size": 3}), Streams(3)
    ).households
    assert int(np.max(base.size)) > 3
    assert int(np.max(capped.size)) <= 3
