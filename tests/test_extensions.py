"""A study adds its own pathway, shock and output without editing povsim."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import numpy as np
import pytest
import xarray as xr
from _support import SCENARIOS, SMALL_SCALE, check_budget, check_stock_flow

import povsim
from povsim.households import Column
from povsim.registry import OUTPUTS, PATHWAYS, SHOCKS, unregister
from povsim.scenario import scenario_from_yaml_string
from povsim.scenario.schema import PathwayConfig, StrictModel

GRANT = 1500.0
LEVY = 240.0


class CashGrantConfig(PathwayConfig):
    """Settings of a one-off cash grant to registered households."""

    amount: float = 1000.0


class CashGrant(povsim.Pathway):
    """Pays each registered household ``amount`` a year, once enrolled."""

    owns: ClassVar[tuple[Column, ...]] = (
        Column("grant_yearly", np.float64, "yuan/year", "cash grant received", "cash_grant"),
    )
    reads: ClassVar[tuple[str, ...]] = ("registered",)

    def eligible(self, model: Any, year: int) -> np.ndarray:
        hh = model.households
        return hh.registered & (hh.grant_yearly == 0)

    def cost(self, model: Any, idx: np.ndarray, year: int) -> np.ndarray:
        return np.full(len(idx), self.config.amount)

    def enrol(self, model: Any, idx: np.ndarray, year: int, month: int,
              credit_ok: np.ndarray) -> None:
        model.households.grant_yearly[idx] = self.config.amount

    def income(self, model: Any) -> np.ndarray:
        return model.households.grant_yearly.copy()


class LevyConfig(StrictModel):
    """Settings of a flat levy taken from every household once a year."""

    enabled: bool = True
    amount: float = 100.0
    month: int = 3


class Levy(povsim.Component):
    """Takes ``amount`` yuan from every household's income in ``month`` (0-11) each year."""

    modifies: ClassVar[tuple[str, ...]] = ("income_ytd",)

    def setup(self, model: Any) -> None:
        self.taken = 0.0

    def start_year(self, model: Any, year: int) -> None:
        self.taken = 0.0

    def step(self, model: Any, month: int) -> None:
        if self.config.enabled and month % 12 == self.config.month:
            model.households.income_ytd -= self.config.amount
            self.taken += self.config.amount * model.households.n * model.weight

    def record(self, model: Any, year: int, flows: bool) -> dict[str, Any]:
        return {"levy_taken": ((), np.array(self.taken if flows else np.nan),
                               {"units": "yuan", "description": "levy collected"})}


def grant_households(model: Any) -> dict[str, Any]:
    """Output: households holding a grant, by region."""
    hh = model.households
    n = np.bincount(hh.region, weights=(hh.grant_yearly > 0) * model.weight,
                    minlength=model.places.n_regions)
    return {"grant_households": (("region",), n, {"units": "households",
                                                  "description": "households with a grant"})}


YAML = f"""
name: extended
population: {{scale: {SMALL_SCALE}}}
pathways:
  cash_grant: {{amount: {GRANT}}}
shocks:
  levy: {{amount: {LEVY}}}
budget:
  sources:
    cash_fund:
      amount: 1.0e10
      pathways: [cash_grant]
"""


@pytest.fixture
def registered() -> Iterator[None]:
    """Register the study's components for one test, and remove them afterwards."""
    povsim.register_pathway("cash_grant", CashGrantConfig, CashGrant, replace=True)
    povsim.register_shock("levy", LevyConfig, Levy, replace=True)
    povsim.register_output("grant_households", grant_households, replace=True)
    try:
        yield
    finally:
        unregister("pathway", "cash_grant")
        unregister("shock", "levy")
        unregister("output", "grant_households")


@pytest.mark.usefixtures("registered")
def test_user_pathway_shock_and_output_run() -> None:
    """The pathway appears in the pathway dimension with spending, the shock takes effect and
    the output variable is in the Dataset; the accounting invariants still hold."""
    scn = scenario_from_yaml_string(YAML)
    assert scn.pathways.all()["cash_grant"].amount == GRANT
    ds = povsim.run(scn)
    assert "cash_grant" in ds["pathway"].values
    spent = ds["spending"].sel(pathway="cash_grant")
    assert float(spent.sel(source="cash_fund").sum()) > 0
    # the grant is paid only from the source that names it
    assert float(spent.drop_sel(source="cash_fund").sum()) == 0.0
    # 2015 spending = amount × households enrolled (all registered households, ample money)
    enrolled_2015 = float(ds["grant_households"].sel(year=2015).sum())
    assert float(spent.sel(year=2015).sum()) == pytest.approx(GRANT * enrolled_2015, rel=1e-9)
    assert float(ds["households_served"].sel(pathway="cash_grant", year=2015).sum()) == (
        pytest.approx(enrolled_2015))
    # the output, with units
    assert ds["grant_households"].dims == ("year", "region")
    assert ds["grant_households"].attrs["units"] == "households"
    # the shock's own record
    assert float(ds["levy_taken"].sel(year=2015)) == pytest.approx(
        LEVY * ds.attrs["n_households"] * ds.attrs["scale"])
    check_stock_flow(ds)
    check_budget(ds, scn)


@pytest.mark.usefixtures("registered")
def test_user_shock_lowers_incomes() -> None:
    """The levy lowers every household's first-year net income by exactly amount / size.

    The dibao floor is switched off (``settle_months: null``): it would pay the levy back to
    the households it covers."""
    no_floor = {"pathways.dibao.settle_months": None}
    with_levy = povsim.PovertyModel(scenario_from_yaml_string(YAML).with_overrides(no_floor))
    without = povsim.PovertyModel(scenario_from_yaml_string(YAML.replace(
        f"levy: {{amount: {LEVY}}}", "levy: {enabled: false}")).with_overrides(no_floor))
    for model in (with_levy, without):
        for _ in range(12):
            model.step()
    a, b = with_levy.households, without.households
    np.testing.assert_allclose(b.pc_income - a.pc_income, LEVY / a.size.astype(float),
                               rtol=1e-9)


@pytest.mark.usefixtures("registered")
def test_user_pathway_can_be_switched_off() -> None:
    """A user pathway obeys ``enabled: false``: no spending, no grants."""
    ds = povsim.run(scenario_from_yaml_string(YAML.replace(
        f"cash_grant: {{amount: {GRANT}}}", "cash_grant: {enabled: false}")))
    assert float(ds["spending"].sel(pathway="cash_grant").sum()) == 0.0
    assert float(ds["grant_households"].sum()) == 0.0


@pytest.mark.usefixtures("registered")
def test_user_pathway_settings_validated() -> None:
    """A wrong key in the user pathway's section is a scenario error naming it."""
    with pytest.raises(povsim.ScenarioError, match="cash_grant"):
        scenario_from_yaml_string(YAML.replace("amount: 1500.0", "amout: 1500.0"))


def test_unregistered_after_use() -> None:
    """The fixture leaves no registration behind, so the names are unknown again."""
    assert "cash_grant" not in PATHWAYS
    assert "levy" not in SHOCKS
    assert "grant_households" not in OUTPUTS
    with pytest.raises(povsim.ScenarioError, match="cash_grant"):
        scenario_from_yaml_string(YAML)


def test_registration_refuses_duplicates_without_replace() -> None:
    """Registering an existing name needs replace=True; bad names are refused."""
    with pytest.raises(ValueError, match="already registered"):
        povsim.register_pathway("dibao", CashGrantConfig, CashGrant)
    with pytest.raises(ValueError, match="identifier"):
        povsim.register_pathway("cash grant", CashGrantConfig, CashGrant)


# --------------------------------------------------------------------------------------------
# declarations are checked when the model is built
# --------------------------------------------------------------------------------------------


class ClashConfig(PathwayConfig):
    """Settings of the clashing pathways."""


class ClashA(povsim.Pathway):
    """Owns ``shared_flag``."""

    owns: ClassVar[tuple[Column, ...]] = (
        Column("shared_flag", np.bool_, "flag", "declared twice", "clash_a"),
    )


class ClashB(povsim.Pathway):
    """Also owns ``shared_flag``."""

    owns: ClassVar[tuple[Column, ...]] = (
        Column("shared_flag", np.bool_, "flag", "declared twice", "clash_b"),
    )


class StealsEngineColumn(povsim.Pathway):
    """Claims a column the engine owns."""

    owns: ClassVar[tuple[Column, ...]] = (
        Column("income_ytd", np.float64, "yuan", "engine column", "thief"),
    )


class ReadsNothing(povsim.Pathway):
    """Reads a column nobody declares."""

    reads: ClassVar[tuple[str, ...]] = ("no_such_column",)


@pytest.fixture
def clashing() -> Iterator[None]:
    """Register pathways with bad declarations for one test."""
    names = {"clash_a": ClashA, "clash_b": ClashB, "thief": StealsEngineColumn,
             "reader": ReadsNothing}
    for name, cls in names.items():
        povsim.register_pathway(name, ClashConfig, cls, replace=True)
    try:
        yield
    finally:
        for name in names:
            unregister("pathway", name)


def _scenario(*pathways: str) -> Any:
    body = "\n".join(f"  {p}: {{}}" for p in pathways)
    return scenario_from_yaml_string(
        f"name: clash\npopulation: {{scale: {SMALL_SCALE}}}\npathways:\n{body}\n")


@pytest.mark.usefixtures("clashing")
def test_two_owners_of_one_column_refused() -> None:
    """Two components owning the same column: ModelBuildError naming both and the column."""
    with pytest.raises(povsim.ModelBuildError) as info:
        povsim.PovertyModel(_scenario("clash_a", "clash_b"))
    msg = str(info.value)
    assert "clash_a" in msg and "clash_b" in msg and "shared_flag" in msg


@pytest.mark.usefixtures("clashing")
def test_owning_an_engine_column_refused() -> None:
    """Claiming a column the engine owns: ModelBuildError naming the engine and the claimant."""
    with pytest.raises(povsim.ModelBuildError) as info:
        povsim.PovertyModel(_scenario("thief"))
    msg = str(info.value)
    assert "engine" in msg and "thief" in msg and "income_ytd" in msg


@pytest.mark.usefixtures("clashing")
def test_reading_an_undeclared_column_refused() -> None:
    """Reading a column nobody declares: ModelBuildError naming the component and column."""
    with pytest.raises(povsim.ModelBuildError) as info:
        povsim.PovertyModel(_scenario("reader"))
    assert "reader" in str(info.value) and "no_such_column" in str(info.value)


def test_results_unaffected_by_an_unused_registration(baseline_ds: xr.Dataset) -> None:
    """Registering a pathway that the scenario does not name changes nothing in a run."""
    povsim.register_pathway("cash_grant", CashGrantConfig, CashGrant, replace=True)
    try:
        ds = povsim.run(SCENARIOS / "baseline.yaml", scale=SMALL_SCALE)
    finally:
        unregister("pathway", "cash_grant")
    xr.testing.assert_identical(ds, baseline_ds)


class CashGrantByColumn(CashGrant):
    """The same grant with its income declared as a column instead of ``income``."""

    income_columns: ClassVar[tuple[tuple[str, float], ...]] = (("grant_yearly", 1),)
    income = povsim.Component.income  # type: ignore[assignment]


class ColumnAndIncome(CashGrant):
    """Declares ``income_columns`` and keeps its own ``income``: the two could disagree."""

    income_columns: ClassVar[tuple[tuple[str, float], ...]] = (("grant_yearly", 1),)


class IncomeOfAStrangersColumn(CashGrantByColumn):
    """An income from a column it does not declare."""

    income_columns: ClassVar[tuple[tuple[str, float], ...]] = (("prod_gain", 1),)


class IncomeWithBadSign(CashGrantByColumn):
    income_columns: ClassVar[tuple[tuple[str, float], ...]] = (("grant_yearly", -1),)


def test_income_declared_as_columns_is_paid_as_income(registered: None) -> None:
    """A pathway declaring ``income_columns`` gives the run of one overriding ``income`` with
    the same flow, bit for bit (incomes, exits, attribution)."""
    scn = scenario_from_yaml_string(YAML)
    plain = povsim.run(scn, seed=4)
    povsim.register_pathway("cash_grant", CashGrantConfig, CashGrantByColumn, replace=True)
    by_column = povsim.run(scn, seed=4)
    assert float(plain["exits_by_pathway"].sel(attribution="cash_grant").sum()) > 0
    for name in plain.variables:
        xr.testing.assert_identical(plain[name], by_column[name])


@pytest.mark.parametrize("cls, words", [
    (ColumnAndIncome, "declare one or the other"),
    (IncomeOfAStrangersColumn, "'prod_gain' is not a household column it owns"),
    (IncomeWithBadSign, "sign +1 or -1, the first +1"),
])
def test_bad_income_columns_refused(registered: None, cls: type, words: str) -> None:
    """A bad ``income_columns`` declaration: ModelBuildError naming the component."""
    povsim.register_pathway("cash_grant", CashGrantConfig, cls, replace=True)
    with pytest.raises(povsim.ModelBuildError, match="cash_grant") as info:
        povsim.PovertyModel(scenario_from_yaml_string(YAML))
    assert words in str(info.value)
