"""The scenario schema: every parameter of a povsim run, validated with pydantic.

Each field carries its default *and the source of that default* (``source=`` in the field's
metadata: a seed section such as ``seed (七)``, a row of a file in ``calibration/``, or
``assumption: why``). :func:`iter_parameters` walks the tree so the sources can be listed
(``povsim show``) and tested.

Money is in current yuan; rates are fractions (0.12, not 12 %); lines are yuan per person per
year; a *dated* parameter is either one number (the same every year) or a mapping
``{year: value}`` read step-wise (the value of the latest year at or before the one asked for).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Annotated, Any, Literal, NoReturn, TypeVar, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, core_schema

__all__ = [
    "REGIONS",
    "Dated",
    "Problem",
    "Scenario",
    "StrictModel",
    "at",
    "iter_parameters",
    "param",
]

#: The four regions of the seed's "四大片区" plus the rest of the province, in output order.
REGIONS: tuple[str, ...] = (
    "qinba",
    "wumeng",
    "liangshan_yi",
    "tibetan_plateau",
    "rest_of_province",
)


def _region_names(v: list[str]) -> list[str]:
    _known_names(v, REGIONS, "region", "known regions")
    return v


#: a list of region names, each one of :data:`REGIONS`
RegionNames = Annotated[list[str], AfterValidator(_region_names)]


# --------------------------------------------------------------------------------------------
# located errors: validators report the key path, pydantic carries it in the error's ``loc``
# --------------------------------------------------------------------------------------------


class Problem:
    """One located problem found by a validator, turned into a pydantic error by :func:`fail`.

    Parameters
    ----------
    kind
        Error type (``"outside_calendar"``, ``"unknown_name"``, ...): the ``type`` of the
        pydantic error.
    message
        What is wrong, in words (the error's ``msg``).
    loc
        Key path below the model or field being validated.
    found
        Short text of the offending value, or ``None`` (the message already says it).
    expected
        What is accepted there, or ``None``.
    """

    __slots__ = ("expected", "found", "kind", "loc", "message")

    def __init__(
        self,
        kind: str,
        message: str,
        loc: tuple[Any, ...] = (),
        *,
        found: str | None = None,
        expected: str | None = None,
    ) -> None:
        self.kind, self.message, self.loc = kind, message, tuple(loc)
        self.found, self.expected = found, expected

    def details(self) -> InitErrorDetails:
        ctx = {k: v for k, v in (("found", self.found), ("expected", self.expected)) if v}
        return InitErrorDetails(
            type=PydanticCustomError(self.kind, self.message, ctx or None),
            loc=self.loc,
            input=self.found,
        )


def fail(*problems: Problem) -> NoReturn:
    """Raise ``problems`` as one :class:`pydantic.ValidationError`.

    Raised inside a validator, pydantic prefixes each ``loc`` with the path of the value being
    validated, so the loader can point at the key (and line) without parsing any message.
    """
    raise ValidationError.from_exception_data("Scenario", [p.details() for p in problems])


#: pydantic's own error types (the others are ours, raised as PydanticCustomError)
_KNOWN_ERRORS = frozenset(get_args(core_schema.ErrorType))


def _relocated(exc: ValidationError, prefix: tuple[Any, ...]) -> ValidationError:
    """The errors of ``exc`` with ``prefix`` put in front of every ``loc``."""
    details: list[InitErrorDetails] = []
    for e in exc.errors(include_url=False):
        ctx = e.get("ctx")
        kind: Any = e["type"]
        if kind not in _KNOWN_ERRORS:
            kind = PydanticCustomError(kind, e["msg"], ctx)
        item = InitErrorDetails(type=kind, loc=(*prefix, *e["loc"]), input=e.get("input"))
        if ctx and isinstance(kind, str):
            item["ctx"] = ctx
        details.append(item)
    return ValidationError.from_exception_data("Scenario", details)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


# --------------------------------------------------------------------------------------------
# dated values
# --------------------------------------------------------------------------------------------


_T = TypeVar("_T")


def _year_key(key: Any) -> int | None:
    """The year a schedule key stands for: an integer, or text of digits (``"2015"``)."""
    if isinstance(key, int) and not isinstance(key, bool):
        return key
    if isinstance(key, str) and key.isascii() and key.isdigit():
        return int(key)
    return None


class _Schedule:
    """Validation of a dated value (see :data:`Dated`).

    A number is validated by the item's own rules (bounds, finiteness, strictness); a mapping
    must have at least one key, every key must be a year (``2015``, or ``"2015"``, read as the
    same year), no year may be given twice, and every value follows the item's rules. Errors
    are located at the year key (``lines.poverty.2016``).
    """

    def __get_pydantic_core_schema__(self, source: Any, handler: Any) -> core_schema.CoreSchema:
        item = get_args(source)[0]  # Dated[X] is X | dict[int, X]
        return core_schema.no_info_wrap_validator_function(
            self._validate,
            handler.generate_schema(item),
            serialization=core_schema.plain_serializer_function_ser_schema(
                self._dump, info_arg=True
            ),
        )

    @staticmethod
    def _validate(value: Any, handler: Any) -> float | dict[int, float]:
        if isinstance(value, Mapping):
            if not value:
                fail(Problem("schedule_empty", "an empty schedule", expected=_DATED_WORDS))
            out: dict[int, float] = {}
            given: dict[int, Any] = {}
            for key, item in value.items():
                year = _year_key(key)
                if year is None:
                    fail(Problem("bad_key", "bad key", (key,), found=_short(key),
                                 expected="an integer as key"))
                if year in out:
                    fail(Problem("duplicate_year",
                                 f"year {year} is given twice ({given[year]!r} and {key!r})",
                                 (key,)))
                given[year] = key
                out[year] = handler(item, key)
            return out
        if isinstance(value, bool) or not isinstance(value, int | float):
            fail(Problem("dated_type", "wrong type", found=_short(value), expected=_DATED_WORDS))
        return handler(value)

    @staticmethod
    def _dump(value: Any, info: Any) -> Any:
        if isinstance(value, dict):
            if info.mode == "json":
                return {str(k): v for k, v in value.items()}
            return dict(value)
        return value


_DATED_WORDS = "a number or a mapping {year: value}"

Dated = Annotated[_T | dict[int, _T], _Schedule()]
"""A yearly parameter: one number for every year, or ``{year: value}`` read step-wise.

``Dated[NonNeg]`` is a number >= 0 or a non-empty mapping of years to such numbers. Year keys are
integers; a key written as text of digits (``"2015"``) is the same year, and giving one year
twice (``2015`` and ``"2015"``) is an error.
"""

NonNeg = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
DatedNonNeg = Dated[NonNeg]
DatedFraction = Dated[Fraction]


def param(default: Any, source: str, *, unit: str | None = None, **kw: Any) -> Any:
    """A pydantic field whose metadata records where its default comes from.

    Parameters
    ----------
    default
        The default value (use ``default_factory=`` in ``kw`` for mutable values).
    source
        Seed section, ``calibration/<file>: <series> <year>`` row, or ``assumption: <why>``.
    unit
        Unit of the value, shown by ``povsim show`` and in the docs.
    """
    extra = {"source": source}
    if unit:
        extra["unit"] = unit
    if "default_factory" in kw:
        return Field(json_schema_extra=extra, **kw)
    return Field(default, json_schema_extra=extra, **kw)


def at(value: float | dict[int, float], year: int) -> float:
    """Value of a dated parameter in ``year`` (step-wise: latest year at or before ``year``).

    Before the first listed year, the first value applies.

    Parameters
    ----------
    value
        A constant, or a dated value ``{year: value}`` as the scenario files write them.
    year
        The calendar year.

    Returns
    -------
    float
        The value in force in ``year``.

    Examples
    --------
    >>> at({2015: 1.0, 2017: 3.0}, 2016)
    1.0
    >>> at(2.5, 2030)
    2.5
    """
    if not isinstance(value, dict):
        return float(value)
    years = sorted(value)
    chosen = years[0]
    for y in years:
        if y <= year:
            chosen = y
    return float(value[chosen])


class StrictModel(BaseModel):
    """Base of all scenario sections: unknown keys are errors, instances are immutable.

    Values are strict: no text is read as a number (``"1.3"``), no ``true`` as 1, no number as
    ``true``, and no infinity or NaN is accepted anywhere.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, strict=True, allow_inf_nan=False
    )

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and cls.model_config.get("extra") == "forbid":
            unknown = [k for k in data if k not in cls.model_fields]
            if unknown:
                allowed = "one of: " + ", ".join(cls.model_fields)
                fail(*(Problem("unknown_key", f"unknown key {_short(k, 40)}", (k,),
                               expected=allowed) for k in unknown))
        return data


# --------------------------------------------------------------------------------------------
# calendar, population, targeting
# --------------------------------------------------------------------------------------------


class Calendar(StrictModel):
    """When the campaign runs. One step is one month; households are assessed each year end."""

    start_year: int = param(
        2015, "seed (三): 五年集中攻坚 from the 2015 decision; end-2014 stock is the start",
        unit="year", ge=2000, le=2100,
    )
    end_year: int = param(
        2020, "seed (三): all registered poor out of poverty by 2020", unit="year", ge=2000, le=2100
    )

    @model_validator(mode="after")
    def _order(self) -> Calendar:
        if self.end_year < self.start_year:
            fail(Problem("calendar_order", f"end_year ({self.end_year}) must not be before "
                         f"start_year ({self.start_year})"))
        return self

    @property
    def base_year(self) -> int:
        """Year whose end is the starting stock (``start_year - 1``)."""
        return self.start_year - 1

    @property
    def years(self) -> list[int]:
        """Simulated years, ``start_year`` .. ``end_year``."""
        return list(range(self.start_year, self.end_year + 1))

    @property
    def n_steps(self) -> int:
        """Number of monthly steps."""
        return 12 * (self.end_year - self.start_year + 1)


class Targeting(StrictModel):
    """Registration errors (识真贫, seed (四)): who is on the register at the start."""

    inclusion_error: Fraction = param(
        0.10,
        "calibration/parameters.csv: registration_review_removed China 2016 (9.29M of a ~90M "
        "register, derived ~10% wrongly included)",
        unit="fraction of registered people",
    )
    exclusion_error: Fraction = param(
        0.09,
        "calibration/parameters.csv: registration_review_added China 2016 (8.07M of ~90M, "
        "derived ~9% of the poor missed)",
        unit="fraction of poor people",
    )
    identification_rate: DatedFraction = param(
        0.10,
        "assumption: yearly dynamic adjustment (动态管理) registers a tenth of the persistently "
        "poor off the register each year; set loosely so the 2015-16 stock follows "
        "sichuan_poor_population.csv (3.80M, 2.72M), where additions are small",
        unit="probability per household-year",
    )
    review_year: int | None = param(
        2016,
        "calibration/parameters.csv: registration_review_added/removed 2016 (回头看 Aug "
        "2015-Jun 2016)",
        unit="year",
    )
    review_removal_rate: Fraction = param(
        0.5,
        "assumption: the 2016 review removes about half of the wrongly included still on the "
        "register (national review removed 9.29M)",
        unit="probability per wrongly included household",
    )
    review_identification_rate: Fraction = param(
        0.3,
        "assumption: the 2016 review finds a third of the poor left off the register (national "
        "review added 8.07M); kept low so the 2016 stock follows sichuan_poor_population.csv",
        unit="probability per unregistered poor household",
    )


class Composition(StrictModel):
    """How households are drawn: members, income shares, and the households off the register.

    No composition data are in the sources; each default is a named assumption or a calibration
    row, as marked.
    """

    max_household_size: int = param(
        10, "assumption: sizes are 1 + Poisson(mean - 1), capped at 10", unit="persons", ge=1,
        le=30,
    )
    elderly_share: Fraction = param(
        0.18, "assumption: members aged 60+; no composition data in the sources",
        unit="fraction of members",
    )
    child_share: Fraction = param(
        0.25, "assumption: school-age members among those under 60; no composition data in the "
        "sources", unit="fraction of members under 60",
    )
    other_transfer_share: Fraction = param(
        0.10, "assumption: eco-compensation, grain and other subsidies", unit="fraction of income",
    )
    property_share: Fraction = param(
        0.014, "calibration/parameters.csv: poor_area_rural_income_property share 2019",
        unit="fraction of income",
    )
    wage_share: Fraction = param(
        0.5, "calibration/parameters.csv: poor-area wage 35.3% vs business 36.0% of income (2019)",
        unit="fraction of market income of households with labour",
    )
    base_year_costs: float = param(
        0.04,
        "derived: the base-year income (income.csv, the register) is net of that year's "
        "medical bills and lost work, which the simulated years subtract again; without "
        "grossing the market base up the baseline's 2015 poor-county income grew 5.4 % against "
        "the 9.6 % of exp(population.income_growth) at unchanged prices of shocks, a one-off "
        "dip of about 4 % of market income (the expected out-of-pocket cost of the illness "
        "shock, about 260 yuan a person, over the poor counties' ~6,900 yuan)",
        unit="fraction of market income added to the base (wage and farm)",
        ge=0, le=0.5,
    )
    nonregistered_no_labour: Fraction = param(
        0.06, "assumption: households without labour outside the register",
        unit="fraction of households",
    )
    nonregistered_disabled: Fraction = param(
        0.04, "assumption: households with a disabled member outside the register",
        unit="fraction of households",
    )
    nonregistered_hazard_factor: Fraction = param(
        0.3, "assumption: hazard-zone share outside the register, relative to the region's",
        unit="ratio",
    )
    nonregistered_dangerous_house: Fraction = param(
        0.03, "assumption: dangerous houses outside the register", unit="fraction of households",
    )
    poor_village_people_cap: Fraction = param(
        0.8, "assumption: poor villages hold at most 80% of a county's rural people",
        unit="fraction of county rural population",
    )
    poor_village_registered_cap: Fraction = param(
        0.85, "assumption: at most 85% of a poor village's people are registered poor",
        unit="fraction of village population",
    )


class CountyHeterogeneity(StrictModel):
    """How a region's counties differ where the sources give no county figure
    (:func:`povsim.population.synthesis.county_totals`)."""

    people_sigma: float = param(
        0.5,
        "assumption: log-sd of a county's share of its region's rural population; county "
        "populations are not in calibration/, and Sichuan's counties range from tens of "
        "thousands to about a million rural people (0.5: the middle 90% within 2.3x of the "
        "median)",
        unit="log persons",
        ge=0,
        le=2,
    )
    incidence_sigma: float = param(
        0.5,
        "assumption: log-sd of a county's registered-poor incidence relative to its region's; "
        "no county figure in calibration/ but Zhaojue (counties.csv registered_poor, about "
        "twice the Yi-area mean per county) and the deepest fifth of the national poor "
        "counties at 23% in 2016 (parameters.csv deepest_20pct_poor_counties_avg_incidence, "
        "about twice the provincial Yi/Tibetan mean of 12.8-21.4%) put the deepest fifth near "
        "2x the mean: exp(0.5 x 1.4) = 2",
        unit="log fraction",
        ge=0,
        le=2,
    )


def _growth_offset(region: str) -> Any:
    return param(
        0.0,
        f"assumption: calibrated; the sources give no rural income growth for {region} "
        "(calibration/income.csv has the poor areas of the province as one series), so its "
        "households grow by income_growth + this offset; 0 is the province's rate",
        unit="per year",
        ge=-0.2,
        le=0.2,
    )


class RegionalGrowth(StrictModel):
    """Each region's income growth relative to ``population.income_growth`` (an offset added to
    the yearly log growth of its households' market incomes). The seed's four poverty areas
    differ in markets, roads and climate; the offsets let the calibration fit their 2016
    incidence (calibration/targets.yaml) without a sourced regional growth series."""

    qinba: float = _growth_offset("the Qinba area")
    wumeng: float = _growth_offset("the Wumeng area")
    liangshan_yi: float = _growth_offset("the Yi area")
    tibetan_plateau: float = _growth_offset("the Tibetan plateau")
    rest_of_province: float = _growth_offset("the rest of the province")


class Population(StrictModel):
    """The synthetic population: regions, counties, villages and households."""

    scale: int = param(
        10,
        "benchmarks/README.md (scale bias): 1 in 10 is the coarsest scale whose every target "
        "measure agrees with 1:1 within replicate noise (calibration observations within a "
        "quarter of their tolerance); 1:25 and coarser bias the county and services targets. "
        "Use 1 for full scale, 100 for a fast, biased look",
        unit="households represented by one simulated household",
        ge=1,
        le=100_000,
    )
    regions_file: str = param(
        "calibration:regions.csv",
        "calibration/regions.csv: region totals derived from sichuan_poor_population.csv",
    )
    counties_file: str = param(
        "calibration:counties.csv",
        "calibration/counties.csv: the 88 poor counties of sichuan_county_exit_list.csv plus 73 "
        "non-poor counties with poverty tasks (sichuan_county_exits.csv: 161 counties)",
    )
    registered_poor: int = param(
        4_976_500,
        "seed (一): 497.65万 rural poor; calibration/sichuan_poor_population.csv "
        "registered_poor_population_yearend 2014",
        unit="persons at end of base year",
        ge=0,
    )
    income_sigma: float = param(
        0.6,
        "assumption: log-sd of per-capita income within a village group; gives poor-county "
        "incidences of 12-25% around the calibration/income.csv means",
        unit="log yuan",
        gt=0,
        le=3,
    )
    share_poor_in_poor_villages: Fraction = param(
        0.60,
        "calibration/parameters.csv: share_of_poor_living_in_registered_poor_villages China 2017",
        unit="fraction of registered poor people",
    )
    village_population: int = param(
        1300,
        "assumption: mean rural village population; Sichuan's village totals are not in the "
        "sources",
        unit="persons",
        ge=50,
    )
    near_poor_multiple: float = param(
        1.5,
        "assumption: outside the 88 poor counties only households below 1.5x the line are "
        "simulated; richer ones are counted but never become poor within 6 years",
        unit="multiple of the poverty line",
        ge=1,
    )
    no_labour_share: Fraction = param(
        0.332,
        "calibration/parameters.csv: share_registered_poor_planned_for_social_security_safety_net "
        "Sichuan 2015 (1.65M of 4.98M)",
        unit="fraction of registered poor people",
    )
    illness_cause_share: Fraction = param(
        0.48,
        "calibration/parameters.csv: share_registered_poor_due_to_illness Sichuan 2015",
        unit="fraction of registered poor people",
    )
    disability_cause_share: Fraction = param(
        0.08,
        "assumption: Sichuan disability share not found (parameters.md 'missing'); national "
        "unsourced 'weak labour' 8%",
        unit="fraction of registered poor people",
    )
    disaster_cause_share: Fraction = param(
        0.10,
        "assumption: national unsourced 'disaster' share 20% halved for Sichuan where illness "
        "is larger (parameters.md 'unsourced figures')",
        unit="fraction of registered poor people",
    )
    chronic_share_nonpoor: Fraction = param(
        0.10,
        "assumption: households outside the register with a chronically ill member; Shaanxi "
        "self-reported poor health 44.6% among the poor (parameters.csv) is far higher",
        unit="fraction of households",
    )
    dangerous_house_share: Fraction = param(
        0.20,
        "assumption: registered poor households in a dangerous house outside hazard zones; "
        "not in the sources; set loosely so 2015 exits approach the 1.18M of "
        "sichuan_poor_population.csv (0.30 gives 0.90M, 0.20 gives 0.99M at 1:20)",
        unit="fraction of registered poor households",
    )
    willing_to_move: Fraction = param(
        0.85,
        "assumption: 'willing' households among those in hazard/remote zones (seed (六): "
        "具有搬迁条件和意愿)",
        unit="fraction of households",
    )
    uninsured_share: Fraction = param(
        0.03,
        "calibration/parameters.csv: ncms_enrolment China 2016 (>97%)",
        unit="fraction of households",
    )
    schooling_gap_share: Fraction = param(
        0.03,
        "assumption: households with a school-age child out of compulsory school; not in the "
        "sources",
        unit="fraction of households with children",
    )
    income_growth: DatedFraction = param(
        0.092,
        "derived: Sichuan rural disposable income 10,247 (income.csv 2015) -> 15,929 "
        "(parameters.csv rural_income_* 2020): 9.2%/yr nominal background growth",
        unit="per year",
    )
    regional_growth: RegionalGrowth = param(
        None, "see each field", default_factory=RegionalGrowth)
    income_volatility: float = param(
        0.25,
        "assumption: sd of the yearly log change of a household's market income "
        "(farm yields, job changes); no panel estimate in the sources",
        unit="log yuan per year",
        ge=0,
        le=2,
    )
    pension_monthly: DatedNonNeg = param(
        {2014: 70.0, 2018: 88.0},
        "assumption: rural basic pension per person 60+; national minimum 70 yuan/month in "
        "2014 and 88 from 2018 (not in the sources)",
        unit="yuan per person per month",
    )
    targeting: Targeting = param(None, "see each field", default_factory=Targeting)
    composition: Composition = param(None, "see each field", default_factory=Composition)
    county_heterogeneity: CountyHeterogeneity = param(
        None, "see each field", default_factory=CountyHeterogeneity)


# --------------------------------------------------------------------------------------------
# lines
# --------------------------------------------------------------------------------------------


POVERTY_LINE_DEFAULT = {
    2014: 2800.0,
    2015: 2855.0,
    2016: 2952.0,
    2017: 3185.0,
    2018: 3436.0,
    2019: 3707.0,
    2020: 4000.0,
}

DIBAO_LINE_DEFAULT = {
    2014: 2280.0,
    2015: 2280.0,
    2016: 2592.0,
    2017: 2964.0,
    2018: 3372.0,
    2019: 3840.0,
    2020: 4368.0,
}


class Merge(StrictModel):
    """"两线合一": how the dibao line is raised to the poverty line (seed (七))."""

    year: int | None = param(
        2017,
        "calibration/dibao.csv: year_dibao_line_reached_poverty_line_flag Sichuan 2017",
        unit="year (null: never merged)",
    )
    path: Literal["step", "linear"] = param(
        "linear",
        "seed (七): 逐步把低保线提高到扶贫线标准 (step by step)",
    )


class Lines(StrictModel):
    """The national poverty line and the county dibao line, yuan per person per year."""

    poverty: DatedNonNeg = param(
        None,
        "calibration/poverty_line.csv: national_rural_poverty_line_current_prices 2014-2016 and "
        "~4000 in 2020; 2017-2019 derived by geometric interpolation between 2016 and 2020",
        unit="yuan per person per year",
        default_factory=lambda: dict(POVERTY_LINE_DEFAULT),
    )
    dibao: DatedNonNeg = param(
        None,
        "calibration/parameters.csv: rural_dibao_lower_limit Sichuan 2015 (190/month) and the "
        "interpolated 2016-2020 rows (216, 247, 281, 320, 364 per month), x12",
        unit="yuan per person per year",
        default_factory=lambda: dict(DIBAO_LINE_DEFAULT),
    )
    merge: Merge = param(None, "see each field", default_factory=Merge)

    @field_validator("poverty", "dibao")
    @classmethod
    def _not_falling(cls, v: float | dict[int, float]) -> float | dict[int, float]:
        if isinstance(v, dict):
            years = sorted(v)
            for a, b in zip(years, years[1:], strict=False):
                if v[b] < v[a]:
                    fail(Problem("falling_line",
                                 f"a line must not fall: {v[a]:g} in {a} then {v[b]:g} in {b}"))
        return v


# --------------------------------------------------------------------------------------------
# pathways
# --------------------------------------------------------------------------------------------


class PathwayConfig(StrictModel):
    """Settings every pathway shares. Subclasses add eligibility, cost and effect parameters."""

    enabled: bool = param(True, "seed (五)-(九): the five pathways all run in the campaign")
    delay_months: int = param(
        0, "assumption: overridden per pathway", unit="months", ge=0, le=120
    )
    capacity: DatedNonNeg | None = param(
        None,
        "assumption: no yearly capacity limit beyond money unless a pathway sets one",
        unit="households or persons per year (see capacity_unit)",
    )
    capacity_unit: Literal["households", "persons"] = param(
        "households", "assumption: capacities are counted in households unless stated"
    )
    priority: Literal["poorest_first", "random", "registered_first"] = param(
        "poorest_first",
        "seed (四): 扶真贫 — the task forces serve the deepest poverty first",
    )


class Employment(StrictModel):
    """Labour transfer: training and job matching (seed (五) 发展劳务经济)."""

    share: Fraction = param(
        0.5,
        "assumption: half of production enrolments go to labour transfer, half to farming "
        "support; Sichuan transferred 842,000 poor labourers in 2016 (parameters.csv)",
        unit="fraction of enrolled households with labour",
    )
    unit_cost: NonNeg = param(
        3000.0,
        "assumption: free vocational training plus living allowance per trainee (seed (五)); "
        "no Sichuan cost figure in the sources",
        unit="yuan per household",
    )
    monthly_wage: DatedNonNeg = param(
        {2014: 2797.0, 2016: 3275.0, 2017: 3485.0, 2018: 3721.0, 2019: 3962.0, 2020: 4072.0},
        "calibration/parameters.csv: migrant_monthly_income_working_in_west 2014 and "
        "migrant_monthly_income China 2016-2020",
        unit="yuan per month",
    )
    months_worked: float = param(
        10.0, "assumption: months a transferred labourer works in a year", unit="months", ge=0,
        le=12,
    )
    net_share: Fraction = param(
        0.35,
        "assumption: share of the migrant wage that counts as household net income after "
        "living costs away from home",
        unit="fraction",
    )
    training_months: int = param(
        3, "assumption: months of training and job matching before work starts", unit="months",
        ge=0, le=24,
    )
    placement_rate: Fraction = param(
        0.7,
        "assumption: trainees who find and keep a job; relocated working-age employment 94% "
        "(parameters.csv 2022) is an upper bound",
        unit="probability",
    )


class Microcredit(StrictModel):
    """扶贫小额信贷 (seed (二十)): up to 50,000 yuan for 3 years, interest subsidised."""

    enabled: bool = param(True, "seed (二十): 每个贫困户3年5万元 micro-credit")
    takeup: DatedFraction = param(
        {2014: 0.02, 2016: 0.267, 2018: 0.333},
        "calibration/parameters.csv: microcredit_takeup_rate China 2014, 2016 and cumulative "
        "2020 (>1/3)",
        unit="fraction of enrolled production households",
    )
    loan: NonNeg = param(
        38300.0,
        "calibration/parameters.csv: microcredit_avg_loan China 2016 (283.3bn / 7.4M households)",
        unit="yuan per household",
    )
    interest_rate: Fraction = param(
        0.0458,
        "calibration/parameters.csv: microcredit_interest_rate_example Sichuan:Wangcang 2015",
        unit="per year (subsidised by the pathway)",
    )
    term_years: int = param(
        3, "calibration/parameters.csv: microcredit_max_term China 2014", unit="years", ge=1, le=10
    )
    income_gain: NonNeg = param(
        4000.0,
        "assumption: median yearly gain of a loan-financed project; the Yanchi livestock case "
        "(12,000/family, parameters.csv) is a strong case",
        unit="yuan per household per year",
    )
    failure_rate: Fraction = param(
        0.2,
        "assumption: projects that yield nothing; no Sichuan default rate found (parameters.md)",
        unit="probability",
    )


class Production(PathwayConfig):
    """扶持生产和就业发展一批 (seed (五)): farming support, labour transfer, micro-credit."""

    delay_months: int = param(
        9, "assumption: one crop or livestock cycle before farming support pays", unit="months",
        ge=0, le=120,
    )
    capacity: DatedNonNeg | None = param(
        None,
        "assumption: money buys the places (training, project support: places = money / cost "
        "per place); 842,000 labourers transferred in 2016 (parameters.csv) shows no other "
        "limit was binding; a number is a hard cap",
        unit="households per year (hard cap; null: none)",
    )
    unit_cost: NonNeg = param(
        5000.0,
        "assumption: farming support per household (seedlings, livestock, cooperative shares); "
        "no per-household figure in the sources",
        unit="yuan per household",
    )
    income_gain: NonNeg = param(
        3000.0,
        "calibration/parameters.csv: eco_cooperative_income_gain 3,000/person/yr and "
        "relocation_site_lemon_income 3,500/household/yr (Qu county 2017)",
        unit="yuan per household per year (median)",
    )
    income_gain_sigma: float = param(
        0.5, "assumption: log-sd of project gains across households", unit="log yuan", ge=0,
        le=3,
    )
    success_rate: Fraction = param(
        0.75, "assumption: domain.md §3 'a project can fail'; share that yields", unit="probability"
    )
    employment: Employment = param(None, "see each field", default_factory=Employment)
    microcredit: Microcredit = param(None, "see each field", default_factory=Microcredit)


class Relocation(PathwayConfig):
    """移民搬迁安置一批 (seed (六)): willing households in hazard or remote zones move to sites.

    A county funds resettlement sites (统一规划易地搬迁集中安置区): each village's willing
    registered households in a hazard or remote zone form one site's cohort and move together
    when its site is built. Money buys the sites (housing subsidy per person plus site
    infrastructure); ``capacity`` is only an optional hard cap.
    """

    delay_months: int = param(
        6,
        "derived: calibration/budget_and_relocation.csv relocated_cumulative Sichuan Sep 2017 "
        "(580,000) less relocated_registered_poor 2016 (332,600): 75% of 2017's 330,000 had "
        "moved by September, so moves spread evenly over the year a site is funded; 6 months is "
        "the mean build time of a site funded in January",
        unit="months from funding a site to moving in (housing is secure at the move)",
        ge=0, le=120,
    )
    capacity: DatedNonNeg | None = param(
        None,
        "assumption: money alone limits relocation (sites funded -> people moved); the yearly "
        "plans (budget_and_relocation.csv relocated_registered_poor Sichuan 2016 332,600, 2017 "
        "330,000, relocation_target 2018 340,000) may be given as a hard cap",
        unit="persons per year (hard cap; null: none)",
    )
    capacity_unit: Literal["households", "persons"] = param(
        "persons", "calibration/budget_and_relocation.csv counts relocation in persons"
    )
    priority: Literal["largest_first", "poorest_first", "random"] = param(  # type: ignore
        "largest_first",
        "assumption: a county builds sites first for the villages with the most willing "
        "hazard-zone poor (seed (六): 实施一个项目、安置一方群众; 集中安置区 ... 优先安排实施); "
        "poorest_first: lowest mean income of the cohort first",
    )
    unit_cost: NonNeg = param(
        25100.0,
        "calibration/parameters.csv: relocation_investment_per_person Sichuan:Guangyuan 2016 "
        "(25,100), taken as the housing subsidy per person; the rest of the Sichuan 2016 cost "
        "per person (49,760) is the site's infrastructure (site_cost)",
        unit="yuan per person",
    )
    site_cost: NonNeg = param(
        3.53e6,
        "derived: (49,760 - 25,100) yuan per person x site_people (143): Sichuan 2016 "
        "relocation_investment (16.55bn) / relocated_registered_poor (332,600) less the housing "
        "subsidy",
        unit="yuan per site (infrastructure and public services)",
    )
    site_people: float = param(
        143.0,
        "derived: calibration/budget_and_relocation.csv relocated_cumulative Sichuan Sep 2017 "
        "(580,000) / relocation_centralized_sites 2017 (4,051)",
        unit="persons per centralised site",
        gt=0,
    )
    household_contribution: NonNeg = param(
        10000.0,
        "calibration/budget_and_relocation.csv: relocation_household_self_funding_cap Sichuan 2016",
        unit="yuan per household (lent by a building loan, or paid the year it moves)",
    )
    building_loan: bool = param(
        True,
        "seed (六): 给予搬迁建房贷款贴息 — the household's contribution is lent (credit sources "
        "for relocation) and the pathway pays the interest; without the loan (or when credit "
        "runs out) the household pays it out of the year's income",
    )
    loan_interest_rate: Fraction = param(
        0.0458,
        "assumption: the benchmark rate of calibration/parameters.csv "
        "microcredit_interest_rate_example Sichuan:Wangcang 2015, subsidised in full (贴息)",
        unit="per year (paid by the pathway)",
    )
    loan_term_years: int = param(
        3, "assumption: the term of the poverty micro-loans (parameters.csv microcredit_max_term "
        "China 2014)", unit="years", ge=1, le=20,
    )
    transition_months: int = param(
        6, "assumption: months of lost farm income while settling in", unit="months", ge=0, le=36
    )
    transition_income_loss: Fraction = param(
        0.5, "assumption: share of farm income lost during the transition", unit="fraction"
    )
    wage_gain: NonNeg = param(
        6000.0,
        "assumption: yearly wage income gained from job access at the site (every relocated "
        "household with labour has one member employed, parameters.csv 2020); wages are "
        "72-80% of relocated income",
        unit="yuan per household with labour per year",
    )
    farm_income_kept: Fraction = param(
        0.5,
        "assumption: share of farm income kept after moving (ration fields, seed (六))",
        unit="fraction",
    )


class Dibao(PathwayConfig):
    """低保政策兜底一批 (seed (七)): the gap to the dibao line for households without labour."""

    priority: Literal["poorest_first", "random", "registered_first"] = param(
        "registered_first", "seed (七): 全部纳入最低生活保障 for the registered poor without labour"
    )
    include_unregistered: bool = param(
        True,
        "seed (七): dibao is means-tested for all rural households without labour, registered "
        "or not",
    )
    disability_top_up: bool = param(
        True,
        "seed (七): disabled poor get the gap between their income and the national line",
    )
    living_subsidy_monthly: NonNeg = param(
        50.0,
        "calibration/parameters.csv: disabled_living_subsidy_min_guideline China 2016",
        unit="yuan per disabled person per month",
    )
    delay_months: int = param(
        0, "seed (七): payments start in the month of enrolment", unit="months", ge=0, le=120
    )
    settle_months: Literal[1, 2, 3, 4, 6, 12] | None = param(
        3,
        "seed (七) 据实发放差额补助 (the gap is paid against actual income) and 政策性兜底: every "
        "settle_months the income so far this year is compared with the floor and the shortfall "
        "paid, and once more at the year end; assumption: a quarterly review (the dibao review "
        "period is not in calibration/); null: no settlement, the January payment only (no floor)",
        unit="months",
    )
    floor_margin: float = param(
        0.0,
        "assumption: the floor is the dibao line itself (seed (七) 兜底 to the line); from 2019 "
        "Sichuan's own dibao line lies above the poverty line (parameters.csv "
        "rural_dibao_lower_limit_interpolated 320 and 364 yuan/month), which is margin enough",
        unit="fraction above the dibao line",
        ge=0,
        le=1,
    )
    covers_medical: bool = param(
        True,
        "seed (七) 通过社会保障实施政策性兜底 with (八): what a dibao household still pays for "
        "a hospital stay after the medical-aid layers counts against its income, so a bill does "
        "not push it below the floor",
    )
    monitor_from: int | None = param(
        2020,
        "seed (四) 动态化管理 and (二十三) 保持扶贫政策不变: from this year exited households near "
        "the line are monitored and, when their income falls short of the poverty line, paid the "
        "shortfall (temporary assistance from the dibao envelope) before they fall back onto the "
        "register. causes_health_return.csv: new_at_risk_or_edge_monitored_increase China 2020 "
        "(the national monitoring of households at risk of returning); before it returns were "
        "re-counted, returned_to_poverty China 2016 (over 600,000, about 1.1 % of the 55.75 M "
        "poor of 2015, national_series.csv). null: never",
        unit="year",
        ge=1900,
        le=2100,
    )
    monitor_band: float = param(
        0.5,
        "assumption: households whose last per-capita net income was below 1.5 times the line "
        "are monitored (the range of the national 2020 monitoring of households at risk, "
        "causes_health_return.csv new_at_risk_or_edge_monitored_increase; the band itself is "
        "not in calibration/)",
        unit="fraction above the poverty line",
        ge=0,
        le=5,
    )
    monitor_years: int | None = param(
        None,
        "seed (二十三) 保持扶贫政策不变: exited households stay monitored to the end of the "
        "campaign (null); a number limits it to that many years after the exit",
        unit="years after the exit",
        ge=1,
        le=50,
    )


class Medical(PathwayConfig):
    """医疗救助扶持一批 (seed (八)): what registered poor patients pay after all layers."""

    base_reimbursement: Fraction = param(
        0.55,
        "calibration/parameters.csv: ncms_actual_inpatient_reimbursement China 2009 (share of "
        "the whole bill, everyone)",
        unit="fraction of the bill",
    )
    poor_uplift: Fraction = param(
        0.10,
        "calibration/parameters.csv: ncms_poor_inpatient_reimbursement_uplift China 2016 (>5pp) "
        "and cii_poor_deductible_reduction Wanzhou 2019 (+10pp)",
        unit="fraction of the bill",
    )
    cii_deductible: NonNeg = param(
        5000.0,
        "calibration/parameters.csv: cii_lowest_band_reimbursement (poor deductible 6,000 -> "
        "5,000)",
        unit="yuan per year",
    )
    cii_rate: Fraction = param(
        0.5,
        "calibration/parameters.csv: cii_min_reimbursement_ratio China 2015",
        unit="fraction above the deductible",
    )
    assistance_rate: Fraction = param(
        0.70,
        "calibration/parameters.csv: medical_aid_ratio_poor Yongzhou 2020",
        unit="fraction of what remains",
    )
    assistance_cap: NonNeg = param(
        30000.0,
        "assumption: yearly medical-assistance limit per household (seed (八) 年度救助限额); "
        "Sichuan's figure not found",
        unit="yuan per household per year",
    )
    oop_cap_share: Fraction = param(
        0.10,
        "calibration/parameters.csv: county_inpatient_oop_cap_registered_poor Sichuan 2016",
        unit="fraction of the bill",
    )
    in_county_share: Fraction = param(
        0.9346,
        "calibration/parameters.csv: in_county_treatment_rate_poor Sichuan 2018",
        unit="fraction of stays",
    )
    cover_exited: bool = param(
        True,
        "seed (二十三) 保持扶贫政策不变: households that exited keep medical aid until the end of "
        "the campaign",
    )
    premium_subsidy: NonNeg = param(
        120.0,
        "assumption: individual NCMS premium paid for each poor person (100% of premium, "
        "parameters.csv 2018); the premium itself is not in the sources",
        unit="yuan per person per year",
    )


class Reconstruction(PathwayConfig):
    """灾后重建帮扶一批 (seed (九)): houses rebuilt and production restarted after disasters."""

    priority: Literal["poorest_first", "random", "registered_first"] = param(
        "registered_first", "seed (九): 对个别建不起房的特困家庭实行政府兜底"
    )
    delay_months: int = param(
        6, "assumption: months to rebuild or repair a house with a subsidy", unit="months", ge=0,
        le=120,
    )
    rebuild_subsidy: NonNeg = param(
        20000.0,
        "calibration/parameters.csv: rural_house_rebuild_subsidy_total Sichuan:Wenchuan 2008",
        unit="yuan per destroyed house",
    )
    repair_subsidy: NonNeg = param(
        3000.0,
        "calibration/parameters.csv: rural_house_repair_subsidy_min/max Lushan 2013 (1,000-5,000)",
        unit="yuan per damaged house",
    )
    income_recovery_months: int = param(
        3,
        "assumption: months of lost farm income after a disaster when production is restarted "
        "with help (without help: shocks.disasters.income_loss_months)",
        unit="months",
        ge=0,
        le=36,
    )
    self_rebuild_rate: Fraction = param(
        0.25,
        "assumption: yearly chance that a household without aid rebuilds on its own",
        unit="probability per year",
    )


class HousingRenovation(PathwayConfig):
    """危房改造 (seed (十)): dangerous houses of the registered poor made safe in place, and
    houses of hazard-zone households that will not move reinforced where they stand."""

    hazard_unit_cost: NonNeg = param(
        30000.0,
        "assumption: in-place reinforcement plus hazard works (地质灾害防治, seed (十八)) for a "
        "household in a hazard zone that will not move; about the Henan relocation subsidy per "
        "person (parameters.csv relocation_housing_subsidy_per_person 30,000)",
        unit="yuan per household",
    )

    delay_months: int = param(
        6, "assumption: months to renovate", unit="months", ge=0, le=120
    )
    unit_cost: NonNeg = param(
        8500.0,
        "calibration/parameters.csv: dilapidated_house_renovation_subsidy China:poor areas 2013",
        unit="yuan per household",
    )


class TaskForces(StrictModel):
    """驻村帮扶工作组 (seed (二十六), (四)): a resident task force in every poor village.

    Cadres sent from province, prefecture and county organs staff one force per poor village
    that has not exited; the money of ``budget.sources`` allowed to pay ``task_forces`` limits
    how many are staffed. Where a force works it finds the poor off the register, re-checks
    the register (识真贫), enrols its households first and follows up those who fall back
    (:mod:`povsim.pathways.task_forces`). Outside force villages the named helpers' work is the
    base rates (``population.targeting``, ``exits.household.return_detection_rate``).
    """

    enabled: bool = param(
        True, "seed (二十六): 确保全省11501个贫困村每个村至少有1个驻村帮扶工作组")
    cadres_per_force: float = param(
        4.4,
        "derived: calibration/parameters.csv village_based_cadres Sichuan 2019 (59,000) less "
        "first_secretaries_non_poor_villages Sichuan 2017 (8,274), over 11,501 poor villages; "
        "above work_team_min_size Sichuan:Ziyang 2018 (3)",
        unit="cadres per force", gt=0, le=50,
    )
    cost_per_cadre: NonNeg = param(
        30000.0,
        "assumption: allowance, travel and insurance of a cadre resident in a village for a "
        "year (salaries stay with the sending unit); no Sichuan figure in the sources",
        unit="yuan per cadre-year",
    )
    village_work_funds: NonNeg = param(
        20000.0,
        "assumption: a force's yearly work funds (工作经费) for visits, records and small "
        "projects; no Sichuan figure in the sources",
        unit="yuan per force-year",
    )
    withdraw_on_exit: bool = param(
        True,
        "seed (二十六): 贫困村不“摘帽”…工作组就不撤出 — a force stays until its village exits "
        "and is withdrawn then (false: forces stay to the end of the run)",
    )
    identification_rate: Fraction = param(
        0.25,
        "assumption: a resident force finds a quarter of the persistently poor left off its "
        "village's register each year (识真贫, seed (四)); below the door-to-door 2016 review "
        "(population.targeting.review_identification_rate 0.3), above the yearly base 0.1",
        unit="probability per household-year",
    )
    removal_rate: Fraction = param(
        0.2,
        "assumption: a resident force's yearly re-check removes a fifth of the wrongly "
        "included households above the line (识真贫, seed (四)); the 2016 review removes half "
        "(population.targeting.review_removal_rate)",
        unit="probability per wrongly included household-year",
    )
    return_detection_rate: Fraction = param(
        0.98,
        "assumption: a force visiting every household finds almost all who fall back (seed "
        "(四) 动态化管理; base exits.household.return_detection_rate 0.9)",
        unit="probability per household-year",
    )
    enrol_first: bool = param(
        True,
        "seed (二十六): 工作组要长年驻扎、包干完成脱贫任务 — a county's pathways serve the "
        "households of villages with a force first (after the villages due to exit)",
    )
#: township facilities of seed (三) 乡乡有标准中心校、有达标卫生院、有便民服务中心, in build order
TOWNSHIP_FACILITIES = ("school", "health_centre", "service_centre")


class TownshipFacility(StrictModel):
    """One township facility of seed (三) and its roll-out in the poor counties."""

    initial_coverage: Fraction = param(
        0.5, "per facility, see TownshipServices", unit="fraction of townships"
    )
    unit_cost: NonNeg = param(1.0e6, "per facility, see TownshipServices",
                              unit="yuan per township")


def _township_facilities() -> dict[str, TownshipFacility]:
    return {
        # assumption: a boarding central school (寄宿制, seed (十四)) brought to standard; the
        # 27.2 bn of calibration/budget_and_relocation.csv education_investment_poor_areas_
        # cumulative Sichuan 2019 over the ~1,500 townships of the poor counties (their 20.9 M
        # rural people / township_population) is ~18 M yuan each for all of education
        # (village schools, teachers, subsidies); about a quarter is taken as the central
        # school's buildings and equipment
        "school": TownshipFacility(initial_coverage=0.5, unit_cost=5.0e6),
        # assumption: health centre standardised (达标卫生院, seed (十五)) with its general
        # practitioners; about calibration/budget_and_relocation.csv deep_poverty_townships_
        # funds_ganzi 2019 (4.5 M yuan per township, all purposes)
        "health_centre": TownshipFacility(initial_coverage=0.5, unit_cost=3.0e6),
        # assumption: a service hall in the township offices (便民服务中心); not in the sources
        "service_centre": TownshipFacility(initial_coverage=0.6, unit_cost=0.5e6),
    }


class FreeEducation(StrictModel):
    """15-year free education and "9+3" vocational schooling in the ethnic areas (seed (十四))."""

    prefectures: list[str] = param(
        None,
        "seed (十四) 支持民族自治州...推进15年免费教育: Sichuan's three autonomous prefectures "
        "(calibration/counties.csv prefecture)",
        default_factory=lambda: ["甘孜州", "阿坝州", "凉山州"],
    )
    autonomous_counties: bool = param(
        True,
        "seed (十四) 民族自治州和自治县: the autonomous counties outside those prefectures "
        "(county names ending in 自治县 in calibration/counties.csv: 北川, 峨边, 马边)",
    )
    compulsory_years: int = param(
        9,
        "seed (十四) 在实行9年免费义务教育基础上: a household's school-age child finishes "
        "compulsory school in a given year with probability children / 9",
        unit="years",
        ge=1,
        le=15,
    )
    takeup: Fraction = param(
        0.3,
        "assumption: share of children finishing compulsory school in the ethnic areas who "
        "enter free '9+3' vocational school (the rest: free high school, work or nothing); "
        "enrolment figures are not in the sources",
        unit="fraction of leavers",
    )
    unit_cost: NonNeg = param(
        10_000.0,
        "assumption: three years of free tuition, textbooks and a living allowance, about "
        "3,300 yuan a year (the per-trainee 3,000 of pathways.production.employment.unit_cost "
        "per school year); not in the sources",
        unit="yuan per student (whole course)",
    )
    employment_rate: Fraction = param(
        0.9,
        "assumption: share of '9+3' graduates in work; official reports of near-full "
        "employment are not in the sources",
        unit="fraction of graduates",
    )
    income_gain: NonNeg = param(
        13_000.0,
        "derived: 10 months a year at the 2018 migrant wage (calibration/parameters.csv "
        "migrant_monthly_income China 2018, 3,721 yuan/month) x the 0.35 net share of "
        "pathways.production.employment: the graduate's contribution to household net income",
        unit="yuan per graduate household per year",
    )

    @field_validator("prefectures")
    @classmethod
    def _nonempty_names(cls, v: list[str]) -> list[str]:
        bad = [Problem("empty_name", "empty prefecture name", (i,), found=repr(x),
                       expected="a prefecture of calibration/counties.csv, e.g. 凉山州")
               for i, x in enumerate(v) if not str(x).strip()]
        if bad:
            fail(*bad)
        return v


class TownshipServices(PathwayConfig):
    """Schools and township services (seed (三), (十四), (十五)): township central schools,
    health centres with general practitioners and service centres built in the poor
    counties, and '9+3' free vocational schooling in the ethnic areas."""

    delay_months: int = param(
        36, "seed (十四) '9+3': three years of vocational school after the nine compulsory ones",
        unit="months", ge=0, le=120,
    )
    priority: Literal["poorest_first", "random", "registered_first"] = param(
        "poorest_first", "seed (四): 扶真贫 — the deepest poverty first"
    )
    township_population: float = param(
        14_000.0,
        "assumption: Sichuan's ~64.6 M rural people (seed (一), domain.md §1) over about 4,600 "
        "townships and towns before the 2019 merger; the township count is not in the sources",
        unit="rural persons per township",
        gt=100,
        le=1.0e6,
    )
    nonpoor_initial_bonus: Fraction = param(
        0.5,
        "assumption: townships outside the 88 poor counties start with half of each missing "
        "facility already standard (as services.nonpoor_initial_bonus)",
        unit="fraction of the gap",
    )
    build_years: int = param(
        1,
        "assumption: a facility paid for in January is built, equipped and staffed and acts "
        "from the January after",
        unit="years",
        ge=1,
        le=10,
    )
    facilities: dict[str, TownshipFacility] = param(
        None,
        "assumption: initial coverage of the poor counties' townships and cost per township "
        "are not in the sources (see each facility's comment in the schema)",
        default_factory=_township_facilities,
    )
    schooling_fix_rate: Fraction = param(
        0.5,
        "assumption: seed (十四) 办好...寄宿制教育, 保证学生就地就近上学 — yearly chance that an "
        "out-of-school child returns once the township's central school is standard, on top "
        "of services.schooling_fix_rate",
        unit="probability per household-year",
    )
    stay_reduction: Fraction = param(
        0.15,
        "calibration/causes_health_return.csv: health_program_oop_reduction_effect Chishui "
        "2017 (15% less out-of-pocket spending), applied as 15% fewer hospital stays (same "
        "bill distribution, so 15% less expected out-of-pocket) where a standard health "
        "centre with its GPs and a village clinic both reach the household",
        unit="fraction of stays",
    )
    free_education: FreeEducation = param(None, "see each field", default_factory=FreeEducation)

    @field_validator("facilities")
    @classmethod
    def _known_facilities(cls, v: dict[str, TownshipFacility]) -> dict[str, TownshipFacility]:
        _known_names(v, TOWNSHIP_FACILITIES, "township facility", "known")
        return v


#: The four poverty regions of seed (二): the 88 poor counties lie in them
POVERTY_REGIONS = ["qinba", "wumeng", "liangshan_yi", "tibetan_plateau"]


class EcoCompensation(StrictModel):
    """生态补偿 (seed (十八)): new-round returning farmland to forest (退耕还林) and the raised
    grassland and forest compensation, paid to registered poor households whose land is in the
    programmes, for the contract years."""

    enabled: bool = param(
        True, "seed (十八): 建立和完善生态补偿机制…适度提高补助标准, 重点向贫困地区倾斜")
    regions: RegionNames = param(
        None,
        "seed (十八) 重点向贫困地区倾斜, 优先支持贫困地区天然林保护、退耕还林、退牧还草: the four "
        "poverty regions (the mountain counties of Qinba, Wumeng and Liangshan for returning "
        "farmland, the plateau for grassland)",
        default_factory=lambda: list(POVERTY_REGIONS),
    )
    share: Fraction = param(
        0.1,
        "assumption: share of registered poor households of those regions with land entering "
        "the new programmes 2015-2020; no Sichuan figure in the sources (calibration/"
        "parameters.md lists none); the new round took only slopes above 25 degrees",
        unit="fraction of registered households",
    )
    per_household: NonNeg = param(
        1200.0,
        "assumption: about 4 mu per household x 300 yuan per mu and year (the new round's "
        "1,500 yuan per mu over five years, a national rule not in the sources); the grassland "
        "subsidy rise on the plateau is of the same order per household",
        unit="yuan per household per year",
    )
    net_share: Fraction = param(
        0.5,
        "assumption: half of the payment is a net gain; the rest replaces crop or livestock "
        "income given up on the retired land",
        unit="fraction of the payment counted as income gain",
    )
    years: int = param(
        5,
        "assumption: the new round's five-year payment schedule for returning farmland",
        unit="years",
        ge=1,
        le=20,
    )


class Ecological(PathwayConfig):
    """生态扶贫 (seed (十八)): ecological ranger posts (生态护林员) for registered poor households
    with labour, and ecological compensation (生态补偿)."""

    capacity: DatedNonNeg | None = param(
        {2015: 0.0, 2016: 15400.0, 2017: 30800.0, 2018: 46200.0, 2019: 61600.0,
         2020: 77000.0},
        "derived: calibration/parameters.csv eco_rangers_hired_from_poor China:central+west "
        "2020 (1.1M) x Sichuan's 7% share of the national registered poor "
        "(sichuan_poor_population.csv share_of_national_registered_poor 2013) = 77,000 posts in "
        "2020; assumption: none before the national programme began in 2016 (parameters.md: "
        "'since 2016'), rising evenly to 2020",
        unit="ranger posts held in the year (households; null: money alone limits)",
    )
    wage: DatedNonNeg = param(
        9500.0,
        "derived: mean of calibration/parameters.csv eco_ranger_annual_pay China:Guizhou 2019 "
        "(10,000) and China:Yunnan 2020 (9,000), Sichuan's neighbours; no Sichuan figure",
        unit="yuan per post per year",
    )
    regions: RegionNames = param(
        None,
        "seed (十八) 支持贫困地区群众直接参与重大生态工程建设, 增加其生态建设管护收入: posts in the "
        "forests and grasslands of the four poverty regions, whose counties are the 88 poor "
        "counties of calibration/counties.csv (the national programme hires in poor counties, "
        "parameters.md eco_rangers_hired_from_poor)",
        default_factory=lambda: list(POVERTY_REGIONS),
    )
    keep_after_exit: bool = param(
        True,
        "seed (二十三) 摘帽…保持扶贫政策不变: a ranger keeps the post after the household exits "
        "(contracts renewed each year while the household has labour)",
    )
    compensation: EcoCompensation = param(None, "see each field",
                                          default_factory=EcoCompensation)
class AssetIncome(PathwayConfig):
    """资产收益扶贫 (seed (二十一)): fiscal poverty funds turned into assets quantified to poor
    households as preferred shares with a guaranteed dividend (投资收益扶贫, 优先股, 收益保底、按股分红),
    entrusted funds for households without labour (理财收益扶贫, 委托经营), and, in poor villages,
    collective assets and contracted land pooled in the same shares (资产收益扶贫)."""

    delay_months: int = param(
        6,
        "assumption: the asset is formed in the first half of the year it is funded and the "
        "first dividend, paid at the year end in practice, is half a year's (pro rata); the "
        "monthly flow from July gives the same yearly income",
        unit="months from funding to the first dividend", ge=0, le=120,
    )
    capacity: DatedNonNeg | None = param(
        None,
        "assumption: money buys the shares (shares = money / unit_cost, the capacity rule of "
        "povsim.budget.capacity); a number is a hard cap",
        unit="households per year (hard cap; null: none)",
    )
    takeup: DatedFraction = param(
        0.2,
        "assumption: share of registered poor households a scheme reaches. 60% of the poor live "
        "in registered poor villages and 3/4 of those villages had no cooperative, 2/3 no "
        "collective economy (calibration/parameters.md share_of_poor_living_in_registered_poor_"
        "villages China 2017, its note), so a vehicle for shares existed for about a third of "
        "them: 0.6 x 1/3 = 0.2",
        unit="fraction of registered poor households",
    )
    unit_cost: NonNeg = param(
        22500.0,
        "derived: calibration/parameters.csv equity_dividend_daihuzi_rugu Sichuan:Mianning 2016 "
        "(1,800 yuan per household per year) / dividend_rate (0.08): the fiscal money "
        "quantified to one household as shares",
        unit="yuan of asset per household (grant money)",
    )
    dividend_rate: Fraction = param(
        0.08,
        "assumption: the guaranteed yearly return of a preferred share (收益保底, seed (二十一)); "
        "no rate in calibration/; with unit_cost it reproduces the sourced 1,800-yuan dividend",
        unit="per year of the asset's value",
    )
    failure_rate: Fraction = param(
        0.05,
        "assumption: yearly chance that the asset behind a household's shares fails and stops "
        "paying; over the five years about 23% fail, near the ~21% of pre-2014 state-bank "
        "poverty loans that went bad (calibration/parameters.csv "
        "bad_loan_rate_state_bank_poverty_loans_pre2014 China 2014)",
        unit="probability per year",
    )
    entrusted: bool = param(
        True,
        "seed (二十一) 探索理财收益扶贫模式: households without labour capacity (who cannot take "
        "production support) get shares through entrusted funds (委托经营); false: shares only "
        "for households with labour",
    )
    collective_dividend: NonNeg = param(
        200.0,
        "assumption: the dividend on village collective assets and pooled contracted land "
        "(资产收益扶贫, seed (二十一)) added for shareholders in designated poor villages; about a "
        "ninth of the 1,800-yuan 带资入股 dividend (calibration/parameters.csv "
        "equity_dividend_daihuzi_rugu), as collective economies were thin (2/3 of registered "
        "poor villages had none, calibration/parameters.md); the land's rent is taken to equal "
        "the farm income it gave up",
        unit="yuan per household per year",
    )


# --------------------------------------------------------------------------------------------
# shocks
# --------------------------------------------------------------------------------------------


class Illness(StrictModel):
    """Illness per person: hospital stays with a heavy-tailed bill and lost labour (domain.md §4)."""

    enabled: bool = param(True, "seed (一): 因病致贫返贫 is the largest cause")
    rate: Fraction = param(
        0.12,
        "calibration/parameters.csv: hospitalisation_rate_survey_age15plus China 2011 (9.6%) to "
        "admissions 2017-18 (17.6-18.2%); parameters.md reading 10-14%",
        unit="stays per person per year",
    )
    chronic_multiplier: float = param(
        3.0,
        "assumption: relative rate for a household member with chronic illness",
        unit="ratio",
        ge=1,
        le=20,
    )
    cost_median: NonNeg = param(
        3000.0,
        "calibration/parameters.csv: cost_per_admission township 450-1,283 (2015) and "
        "poor_inpatient_spending_per_stay 4,139 (2020): a median of 3,000",
        unit="yuan per stay",
    )
    cost_sigma: float = param(
        1.0,
        "assumption: log-sd of the bill; makes about 2% of stays exceed 30,000 yuan",
        unit="log yuan",
        ge=0,
        le=3,
    )
    labour_months_lost: float = param(
        1.0, "assumption: months of work lost by an earning patient per stay", unit="months",
        ge=0, le=12,
    )
    chronic_onset: Fraction = param(
        0.05,
        "assumption: share of stays that leave a chronic condition (the patient no longer works)",
        unit="probability per stay",
    )


class DisasterEvent(StrictModel):
    """A historical disaster replayed in a given year, month and set of counties."""

    name: str = param("event", "user-supplied label")
    kind: Literal["earthquake", "flood", "landslide"] = param("earthquake", "domain.md §4")
    year: int = param(2017, "user-supplied", unit="year")
    month: int = param(8, "user-supplied", unit="month (1-12)", ge=1, le=12)
    counties: list[str] = param(
        None, "county names of calibration/counties.csv", default_factory=list
    )
    regions: RegionNames = param(
        None, "region keys; every county of the region is hit", default_factory=list
    )
    share_of_villages: Fraction = param(
        1.0, "assumption: share of the hit counties' villages affected", unit="fraction"
    )
    destroyed: Fraction = param(
        0.02,
        "calibration/shocks.csv: earthquake_houses_damaged Jiuzhaigou 2017 (73,671 damaged, "
        "1,680 destroyed)",
        unit="fraction of affected households",
    )
    damaged: Fraction = param(
        0.3,
        "calibration/shocks.csv: earthquake_houses_damaged Jiuzhaigou 2017 (73,671 houses over "
        "the affected counties)",
        unit="fraction of affected households",
    )
    income_loss: Fraction = param(
        0.5,
        "assumption: share of farm and local wage income lost while production is disrupted",
        unit="fraction",
    )


class Hazard(StrictModel):
    """A hazard of the catalogue, by region."""

    annual_probability: dict[str, Fraction] = param(
        None, "per hazard, see Disasters", default_factory=dict
    )
    months: list[int] = param(None, "per hazard", default_factory=lambda: list(range(1, 13)))
    share_of_villages: Fraction = param(0.2, "per hazard", unit="fraction")
    destroyed: Fraction = param(0.005, "per hazard", unit="fraction of affected households")
    damaged: Fraction = param(0.05, "per hazard", unit="fraction of affected households")
    income_loss: Fraction = param(0.3, "per hazard", unit="fraction of farm income")

    @field_validator("annual_probability")
    @classmethod
    def _regions(cls, v: dict[str, float]) -> dict[str, float]:
        _known_names(v, REGIONS, "region", "known regions")
        return v

    @field_validator("months")
    @classmethod
    def _months(cls, v: list[int]) -> list[int]:
        bad = [Problem("out_of_range", "out of range", (i,), found=str(m), expected="a month 1-12")
               for i, m in enumerate(v) if not 1 <= m <= 12]
        if bad:
            fail(*bad)
        return v


def _earthquake() -> Hazard:
    return Hazard(
        annual_probability={
            "qinba": 0.002,
            "wumeng": 0.004,
            "liangshan_yi": 0.006,
            "tibetan_plateau": 0.008,
            "rest_of_province": 0.003,
        },
        months=list(range(1, 13)),
        share_of_villages=0.8,
        destroyed=0.02,
        damaged=0.3,
        income_loss=0.5,
    )


def _flood() -> Hazard:
    return Hazard(
        annual_probability={
            "qinba": 0.10,
            "wumeng": 0.08,
            "liangshan_yi": 0.08,
            "tibetan_plateau": 0.05,
            "rest_of_province": 0.10,
        },
        months=[6, 7, 8, 9],
        share_of_villages=0.3,
        destroyed=0.002,
        damaged=0.03,
        income_loss=0.3,
    )


def _landslide() -> Hazard:
    return Hazard(
        annual_probability={
            "qinba": 0.05,
            "wumeng": 0.06,
            "liangshan_yi": 0.10,
            "tibetan_plateau": 0.10,
            "rest_of_province": 0.03,
        },
        months=[6, 7, 8, 9],
        share_of_villages=0.05,
        destroyed=0.05,
        damaged=0.10,
        income_loss=0.4,
    )


class Disasters(StrictModel):
    """Natural disasters: a county-level catalogue plus replayed historical events."""

    enabled: bool = param(True, "seed (九): 地震、洪涝、滑坡、泥石流")
    earthquake: Hazard = param(
        None,
        "assumption: county-year probability of a damaging quake; Sichuan had M6-7 quakes in "
        "2013, 2014, 2017, 2019 over ~180 counties (calibration/shocks.csv, parameters.csv); "
        "damage from Jiuzhaigou 2017",
        default_factory=_earthquake,
    )
    flood: Hazard = param(
        None,
        "assumption: county-year probability of a damaging flood in June-September; flood "
        "years hit 70-142 of ~180 counties (calibration/shocks.csv 2013, 2020; parameters.csv "
        "2018) and collapse 0.2-0.5% of affected houses",
        default_factory=_flood,
    )
    landslide: Hazard = param(
        None,
        "assumption: debris flows and landslides hit few villages hard (Maoxian 2017, "
        "calibration/shocks.csv; Liangshan 46 events 2006-2020, parameters.csv)",
        default_factory=_landslide,
    )
    income_loss_months: int = param(
        6,
        "assumption: months of disrupted income without reconstruction help",
        unit="months",
        ge=0,
        le=36,
    )
    local_wage_share: Fraction = param(
        0.5,
        "assumption: half of wage income is earned locally and disrupted with farming; "
        "west-origin out-migrants working in their own province are 49% "
        "(calibration/parameters.csv 2017)",
        unit="fraction of wage income",
    )
    events: list[DisasterEvent] = param(
        None, "user-supplied replays (none in the baseline)", default_factory=list
    )


class Shocks(StrictModel):
    """Shocks that push households into or back into poverty (domain.md §4), and user shocks."""

    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)

    illness: Illness = param(None, "see each field", default_factory=Illness)
    disasters: Disasters = param(None, "see each field", default_factory=Disasters)

    @model_validator(mode="before")
    @classmethod
    def _registered(cls, data: Any, info: ValidationInfo) -> Any:
        from povsim.registry import SHOCKS

        return _user_components(data, SHOCKS, "shock", ("illness", "disasters"), info)

    def user(self) -> dict[str, Any]:
        """Settings of user-registered shocks by name."""
        return dict(self.model_extra or {})


# --------------------------------------------------------------------------------------------
# budget
# --------------------------------------------------------------------------------------------


BUILTIN_PATHWAYS = (
    "production",
    "relocation",
    "dibao",
    "medical",
    "reconstruction",
    "housing_renovation",
    "task_forces",
    "township_services",
    "ecological",
    "asset_income",
)


class Source(StrictModel):
    """One source of money: a yearly amount and the pathways it may pay for."""

    amount: DatedNonNeg = param(0.0, "per source, see Budget", unit="yuan per year")
    pathways: list[str] | None = param(
        None, "assumption: a source without a list may pay for any pathway"
    )
    kind: Literal["grant", "credit"] = param(
        "grant", "seed (二十): fiscal funds are grants; micro-credit and relocation loans credit"
    )
    county_rule: Literal["registered_poor", "equal", "poverty_gap", "poor_villages",
                         "need"] | None = param(
        None,
        "assumption: a source is split across counties by budget.county_rule unless it names "
        "its own; poor_villages: by the designated poor villages; need: in proportion to what the pathways it pays expect to spend in each "
        "county this year (Pathway.county_need), for money that follows posts and contracts "
        "rather than the register",
    )
    description: str = param("", "free text")


def _sources() -> dict[str, Source]:
    return {
        "special_poverty_funds": Source(
            amount={2015: 6.74e9, 2016: 7.63e9, 2017: 9.03e9, 2018: 10.43e9, 2019: 11.83e9,
                    2020: 13.23e9},
            pathways=["production", "housing_renovation", "reconstruction", "medical",
                      "relocation", "asset_income"],
            description=(
                "central special poverty funds x Sichuan's 7% share of the national poor "
                "(budget_and_relocation.csv central_special_poverty_funds China 2014-2019, 2015 "
                "interpolated, 2020 +20bn trend assumption; sichuan_poor_population.csv "
                "share_of_national_registered_poor 2013) + provincial 3.0bn "
                "(provincial_special_poverty_funds_lower_bound Sichuan 2017); the sum to Sep "
                "2019 equals central_plus_provincial_special_poverty_funds_cumulative (42.7bn); "
                "asset_income: seed (二十一) 将财政扶贫资金投入形成的资产量化给贫困户"
            ),
        ),
        "integrated_agri_funds": Source(
            amount={2015: 0.0, 2016: 24.0e9},
            pathways=["production", "housing_renovation", "relocation", "asset_income"],
            description=(
                "budget_and_relocation.csv integrated_agri_funds_cumulative Sichuan 2020 "
                "(>=120bn, lower bound) spread over 2016-2020; assumption: integration began in "
                "2016; asset_income: seed (二十一) 将财政支农资金投入到村或农民合作社形成的资产划出一部分,"
                "采取优先股的方式量化到贫困户"
            ),
        ),
        "relocation_funds": Source(
            amount={2015: 5.0e9, 2016: 16.55e9, 2017: 16.4e9, 2018: 16.9e9, 2019: 8.9e9,
                    2020: 8.9e9},
            pathways=["relocation"],
            description=(
                "budget_and_relocation.csv relocation_investment Sichuan 2016 (16.55bn); other "
                "years derived as the yearly relocation quota x 49,760 yuan per person; 2015 "
                "assumption"
            ),
        ),
        "dibao_funds": Source(
            amount=6.631e9,
            pathways=["dibao"],
            description=(
                "parameters.csv rural_dibao_spending Sichuan 2020 (6.631bn), held for every year "
                "(assumption: civil-affairs money follows need)"
            ),
        ),
        "medical_assistance": Source(
            amount=2.0e9,
            pathways=["medical"],
            description=(
                "assumption: medical assistance, critical-illness top-ups and premium subsidies "
                "for the poor; budget_and_relocation.csv major_illness_insurance_claims 2016 "
                "(0.35bn) covers only one layer"
            ),
        ),
        "microcredit": Source(
            amount=8.0e9,
            kind="credit",
            pathways=["production"],
            description=(
                "budget_and_relocation.csv poverty_microloans Sichuan Sep 2016 (17.2bn "
                "cumulative since 2015, ~8bn a year)"
            ),
        ),
        "relocation_loans": Source(
            amount=1.0e9,
            kind="credit",
            pathways=["relocation"],
            description=(
                "seed (六) 给予搬迁建房贷款贴息 and seed (二十) 移民搬迁...贷款政策: building loans for "
                "the household's contribution; assumption: enough to lend it to every household "
                "of the largest yearly plan (budget_and_relocation.csv relocation_target Sichuan "
                "2018, 340,000 persons / 3.4 persons per house (parameters.csv "
                "persons_per_relocation_house_built Sichuan 2016) x 10,000 yuan)"
            ),
        ),
        "paired_assistance": Source(
            amount=2.945e9,
            pathways=["production", "housing_renovation", "medical"],
            description=(
                "budget_and_relocation.csv east_west_collaboration_fiscal_funds Sichuan 2019, "
                "held for every year (assumption)"
            ),
        ),
        "disaster_relief": Source(
            amount=1.5e9,
            pathways=["reconstruction"],
            description=(
                "assumption: yearly post-disaster housing and production aid for rural "
                "households; Sichuan totals not in the sources"
            ),
        ),
        "task_force_funds": Source(
            amount=1.8e9,
            pathways=["task_forces"],
            county_rule="poor_villages",
            description=(
                "seed (二十六) 从省、市、县三级抽调...干部: the sending units pay their cadres' "
                "village allowances and the forces' work funds, so the money follows the poor "
                "villages; assumption: a force in each of the 11,501 poor villages at the "
                "default costs, 4.4 cadres x 30,000 + 20,000 yuan = 1.748bn a year, rounded up"
            ),
        ),
        "education_health_programmes": Source(
            amount={2015: 5.44e9, 2020: 0.0},
            pathways=["township_services"],
            description=(
                "budget_and_relocation.csv education_investment_poor_areas_cumulative Sichuan "
                "2019 (27.2bn) spread over 2015-2019 (5.44bn a year; assumption: nothing new "
                "in the consolidation year 2020); assumption: township health centres and "
                "service centres are paid from the same envelope (their money is not in the "
                "sources)"
            ),
        ),
        "ecological_transfers": Source(
            amount={2015: 0.12e9, 2016: 0.266e9, 2017: 0.413e9, 2018: 0.559e9, 2019: 0.705e9,
                    2020: 0.852e9},
            pathways=["ecological"],
            county_rule="need",
            description=(
                "central ecological transfers (forestry and grassland funds for ranger posts, "
                "returning-farmland and grassland compensation), not the poverty funds: "
                "assumption: sized to the programme, pathways.ecological.capacity x wage "
                "(9,500 yuan per post) + compensation 0.12bn a year (about 1.0M registered "
                "households in the four poverty regions, calibration/regions.csv registered_poor "
                "2014 / 3.4 persons per household, x share 0.1 x 1,200 yuan); it follows the "
                "posts and contracts to the counties (county_rule: need)"
            ),
        ),
        "sectoral_programmes": Source(
            amount={2015: 7.49e9, 2018: 12.73e9, 2019: 13.2074e9},
            pathways=["services"],
            description=(
                "10% (assumption: the part that builds village roads, water, power, broadband, "
                "clinics and culture rooms; the rest goes to trunk roads, schools, hospitals) of "
                "budget_and_relocation.csv fiscal_funds_invested_22_special_programs Sichuan 2017 "
                "(74.9bn, used for 2015-2017) and special_programs_planned_investment 2018, 2019 "
                "(2020 holds 2019)"
            ),
        ),
    }


class Plans(StrictModel):
    """County plans: yearly poverty-reduction tasks and an exit plan per county (seed (三),
    (十九), (二十三); :func:`povsim.planning.county_plans`)."""

    deadline: int = param(
        2019,
        "seed (三): 按照'五年集中攻坚、一年巩固提升'的要求, 以县为单位分年度制定到村到户的扶贫脱贫计划, "
        "确保全省每年减少农村贫困人口100万左右: the plans lift everyone in the five years of the "
        "attack, 2015-2019 (497.65万 / 5 ≈ 100万 a year), and 2020 consolidates (到2020年…全部脱贫)",
        unit="year",
        ge=2000,
        le=2100,
    )
    cost_per_exit: float = param(
        49_600.0,
        "derived: the 2015-2016 grant money of budget.sources (37.7 + 74.2 bn yuan, "
        "calibration/budget_and_relocation.csv) / people lifted out 2015-2016 (1.1765M "
        "people_lifted_out_derived_from_stock 2015 + 1.078M people_lifted_out_reported 2016, "
        "calibration/sichuan_poor_population.csv)",
        unit="yuan per person lifted out",
        gt=0,
    )
    max_task_share: Fraction = param(
        0.5,
        "assumption: a county's work teams can verify and help at most half of its register in "
        "a year, about twice the sourced provincial pace of 2016 (people_lifted_out_reported "
        "1.078M of registered_poor_population_yearend 2015 3.80M, "
        "calibration/sichuan_poor_population.csv)",
        unit="fraction of the county's registered poor per year",
    )
    verify_within_task: bool = param(
        True,
        "seed (三): 以县为单位分年度制定到村到户的扶贫脱贫计划, 确保全省每年减少农村贫困人口100万左右; "
        "(二十三) 分年度逐级验收: a county declares out at most its year's task (plus "
        "task_slack) of the registered households that pass the exit test, the highest incomes "
        "first; the others stay on the register and are verified the next year",
    )
    task_slack: float = param(
        0.1,
        "assumption: the seed's 100万左右 ('about a million'): a county may exceed its task by "
        "a tenth",
        unit="fraction of the county's task",
        ge=0, le=10,
    )
    concentrate: bool = param(
        True,
        "seed (十九): 工作到村、扶贫到户, (三) 分年度制定到村到户的扶贫脱贫计划 — households of the "
        "villages due to exit this year come first in every pathway's rationing, and the "
        "services programme builds for those villages first",
    )


class Budget(StrictModel):
    """Money: yearly amounts by source, and the rules that split them (seed (二十))."""

    scale: float = param(
        1.0, "assumption: 1.0 is the sourced budget; one multiplier on all money", unit="ratio",
        ge=0, le=100,
    )
    sources: dict[str, Source] = param(
        None, "see each source's description", default_factory=_sources
    )
    county_rule: Literal["registered_poor", "equal", "poverty_gap"] = param(
        "registered_poor",
        "seed (二十): 资金精准投放到村到户 — money follows the registered poor",
    )
    poor_county_min_share: Fraction = param(
        0.5,
        "seed (二十): 省直有关部门每年投向贫困县的项目资金，原则上达到50%以上",
        unit="fraction of each source going to the 88 poor counties",
    )
    pathway_rule: Literal["need", "shares"] = param(
        "need",
        "seed (四): 项目规划到户 — counties plan from the needs of their eligible households",
    )
    pathway_shares: dict[str, Fraction] | None = param(
        None,
        "used only with pathway_rule: shares; must sum to 1 over the pathways named",
    )
    carry_over: bool = param(
        True,
        "seed (二十): 项目资金尽可能由县级统筹 — unspent county money stays with the county",
    )

    @field_validator("pathway_shares")
    @classmethod
    def _shares_sum(cls, v: dict[str, float] | None) -> dict[str, float] | None:
        if v is not None and v:
            total = sum(v.values())
            if abs(total - 1.0) > 1e-6:
                fail(Problem("shares_sum", f"pathway shares must sum to 1, they sum to {total:g}"))
        return v

    @model_validator(mode="after")
    def _shares_needed(self) -> Budget:
        if self.pathway_rule == "shares" and not self.pathway_shares:
            fail(Problem("shares_missing", "pathway_rule 'shares' needs pathway_shares"))
        return self


# --------------------------------------------------------------------------------------------
# services, exits, targets
# --------------------------------------------------------------------------------------------


SERVICE_ITEMS = ("road", "water", "power", "broadband", "clinic", "culture_room")


class ServiceItem(StrictModel):
    """One village service of seed (三) and its roll-out."""

    initial_coverage: Fraction = param(0.5, "per item, see Services", unit="fraction of villages")
    unit_cost: NonNeg = param(1.0e6, "per item, see Services", unit="yuan per village")


def _service_items() -> dict[str, ServiceItem]:
    return {
        "road": ServiceItem(initial_coverage=0.6, unit_cost=3.0e6),
        "water": ServiceItem(initial_coverage=0.5, unit_cost=0.8e6),
        "power": ServiceItem(initial_coverage=0.85, unit_cost=0.5e6),
        "broadband": ServiceItem(initial_coverage=0.4, unit_cost=0.3e6),
        "clinic": ServiceItem(initial_coverage=0.6, unit_cost=0.3e6),
        "culture_room": ServiceItem(initial_coverage=0.4, unit_cost=0.2e6),
    }


class Services(StrictModel):
    """Village services (seed (十一)-(十六)) built by the sectoral programmes."""

    enabled: bool = param(True, "seed (三): 村村有硬化路、有卫生室、有文化室、有宽带网")
    items: dict[str, ServiceItem] = param(
        None,
        "assumption: initial coverage of poor villages and cost per village are not in the "
        "sources; roads dominate (transport_special_program_planned ~51bn/yr, "
        "budget_and_relocation.csv)",
        default_factory=_service_items,
    )
    nonpoor_initial_bonus: Fraction = param(
        0.5,
        "assumption: non-poor villages start with half of each missing service already built",
        unit="fraction of the gap",
    )
    schooling_fix_rate: Fraction = param(
        0.5,
        "seed (十四) 控辍保学: share of out-of-school children brought back each year "
        "(assumption: rate not in the sources)",
        unit="probability per household-year",
    )

    @field_validator("items")
    @classmethod
    def _known(cls, v: dict[str, ServiceItem]) -> dict[str, ServiceItem]:
        _known_names(v, SERVICE_ITEMS, "service", "known")
        return v


GUARANTEES = ("food_clothing", "schooling", "medical", "housing", "water")


class HouseholdExit(StrictModel):
    """When a registered household exits (domain.md §5)."""

    income_margin: float = param(
        0.0,
        "assumption: verification compares per-capita income with the line itself",
        unit="fraction above the line",
        ge=-0.5,
        le=2,
    )
    require: list[Literal["food_clothing", "schooling", "medical", "housing", "water"]] = param(
        None,
        "domain.md §5, seed (三): 两不愁三保障 (food, clothing; schooling, medical care, safe "
        "housing) plus safe water",
        default_factory=lambda: list(GUARANTEES),
    )
    require_stable: bool = param(
        True,
        "domain.md §5: 'stably above the line' — the household's income without this year's "
        "transitory luck must also be above the line; the same test decides returns and new "
        "poor (dynamic management follows persistent, not passing, poverty)",
    )
    return_detection_rate: Fraction = param(
        0.9,
        "assumption: exited households that fall back below the line are found by the yearly "
        "return monitoring",
        unit="probability per household-year",
    )
    intake: Literal["next_year", "year_end"] = param(
        "next_year",
        "seed (四) 动态化管理 and sichuan_poor_population.csv: the households found poor at a "
        "year-end review (returns and new poor) are registered the next January, served by the "
        "pathways that year and counted in that year's flows; the year-end stock is the "
        "register after the year's exits (2015 stock 3.80 M - 1.078 M lifted out in 2016 = "
        "2.72 M at the end of 2016). year_end: registered at once, in the year-end stock",
    )


class PlaceExit(StrictModel):
    """When a poor village or county exits ("摘帽")."""

    max_incidence: Fraction = param(
        0.03,
        "calibration/poverty_line.csv: county_exit_max_incidence Sichuan 2020 (3% in the west)",
        unit="fraction of rural population",
    )
    max_wrong_exit_rate: Fraction | None = param(
        None, "per place, see Exits", unit="fraction of exited people"
    )
    max_omission_rate: Fraction | None = param(
        None, "per place, see Exits", unit="fraction of population"
    )
    require_services: list[str] = param(None, "per place, see Exits", default_factory=list)

    @field_validator("require_services")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        _known_names(v, SERVICE_ITEMS, "service", "known")
        return v


class Exits(StrictModel):
    """Exit rules for households, villages and counties (domain.md §5, seed (二十三))."""

    household: HouseholdExit = param(None, "see each field", default_factory=HouseholdExit)
    village: PlaceExit = param(
        None,
        "calibration/poverty_line.csv county_exit_max_incidence (3%) applied to villages; "
        "seed (三): village road, clinic, broadband; water from 户户有安全饮用水",
        default_factory=lambda: PlaceExit(
            max_incidence=0.03, require_services=["road", "water", "clinic", "broadband"]
        ),
    )
    county: PlaceExit = param(
        None,
        "calibration/poverty_line.csv: county_exit_max_incidence Sichuan 2020 (3%), "
        "county_exit_max_wrong_exit_or_omission_rate Sichuan 2020 (2%)",
        default_factory=lambda: PlaceExit(
            max_incidence=0.03, max_wrong_exit_rate=0.02, max_omission_rate=0.02
        ),
    )
    quota: DatedNonNeg | None = param(
        None,
        "seed (十九) 每年对市(州)、县(市、区)和相关部门下达减贫任务: an optional province-wide "
        "yearly exit quota (people); none in the baseline",
        unit="persons per year",
    )


class Targets(StrictModel):
    """The campaign's targets (seed (三), domain.md §1)."""

    year: int = param(2020, "seed (三): 到2020年", unit="year")
    registered_poor: int = param(
        0, "seed (三): 497.65万农村贫困人口全部脱贫 (stock left at the end)", unit="persons", ge=0
    )
    pace: float = param(
        1_000_000.0, "seed (三): 每年减少农村贫困人口100万左右", unit="persons per year", ge=0
    )
    pace_tolerance: Fraction = param(
        0.1, "assumption: 'about' (左右) read as within 10%", unit="fraction"
    )
    pace_years: list[int] = param(
        None,
        "seed (三): 五年集中攻坚 — the five attack years 2015-2019",
        default_factory=lambda: [2015, 2016, 2017, 2018, 2019],
    )
    villages: int = param(
        11501, "seed (三); calibration/sichuan_village_exits.csv poor_villages_total", ge=0,
        unit="villages",
    )
    counties: int = param(
        88, "seed (三); calibration/sichuan_county_exits.csv poor_counties_total", ge=0,
        unit="counties",
    )
    income_baseline_2010: NonNeg = param(
        3273.0,
        "calibration/income.csv: poor_county_rural_net_income China:poor counties 2010 (no "
        "Sichuan figure in the sources)",
        unit="yuan per person per year",
    )
    income_multiple: float = param(
        2.0, "seed (三): 贫困县农民人均纯收入比2010年翻一番以上", ge=0, unit="ratio"
    )
    services_coverage: Fraction = param(
        1.0, "seed (三): 村村有... — every poor village", unit="fraction"
    )


# --------------------------------------------------------------------------------------------
# the scenario
# --------------------------------------------------------------------------------------------


def _known_names(names: Any, known: tuple[str, ...], kind: str, label: str) -> None:
    """Refuse names (a list, or the keys of a mapping) that are not in ``known``."""
    items = enumerate(names) if isinstance(names, list) else ((k, k) for k in names)
    bad = [Problem("unknown_name", f"unknown {kind} {name!r}; {label}: {', '.join(known)}", (at,),
                   found=_short(name))
           for at, name in items if name not in known]
    if bad:
        fail(*bad)


def _user_components(
    data: Any, table: dict[str, Any], kind: str, builtin: tuple[str, ...], info: ValidationInfo
) -> Any:
    """Validate the entries of a section that name user-registered components."""
    if not isinstance(data, dict):
        return data
    out = dict(data)
    for key, value in data.items():
        if key in builtin:
            continue
        spec = table.get(key)
        if spec is None:
            known = sorted(set(builtin) | set(table))
            fail(Problem("unknown_name", f"unknown {kind} {key!r}; known {kind}s: "
                         f"{', '.join(known)}", (key,)))
        if isinstance(value, spec.config):
            continue
        try:
            out[key] = spec.config.model_validate(
                value if value is not None else {}, context=info.context
            )
        except ValidationError as exc:
            raise _relocated(exc, (key,)) from None
    return out


class Pathways(StrictModel):
    """The five pathways of seed (五)-(九), dangerous-house renovation (十), the village task
    forces (二十六) and user pathways."""
    """The five pathways of seed (五)-(九), dangerous-house renovation (十), asset income (二十一),
    and user pathways."""

    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)

    production: Production = param(None, "see each field", default_factory=Production)
    relocation: Relocation = param(None, "see each field", default_factory=Relocation)
    dibao: Dibao = param(None, "see each field", default_factory=Dibao)
    medical: Medical = param(None, "see each field", default_factory=Medical)
    reconstruction: Reconstruction = param(None, "see each field", default_factory=Reconstruction)
    housing_renovation: HousingRenovation = param(
        None, "see each field", default_factory=HousingRenovation
    )
    task_forces: TaskForces = param(None, "see each field", default_factory=TaskForces)
    township_services: TownshipServices = param(
        None, "see each field", default_factory=TownshipServices
    )
    ecological: Ecological = param(None, "see each field", default_factory=Ecological)
    asset_income: AssetIncome = param(None, "see each field", default_factory=AssetIncome)

    @model_validator(mode="before")
    @classmethod
    def _registered(cls, data: Any, info: ValidationInfo) -> Any:
        from povsim.registry import PATHWAYS

        return _user_components(data, PATHWAYS, "pathway", BUILTIN_PATHWAYS, info)

    def all(self) -> dict[str, PathwayConfig]:
        """Every pathway's settings by name: the built-ins first, then user pathways."""
        out = {name: getattr(self, name) for name in BUILTIN_PATHWAYS}
        out.update(self.model_extra or {})
        return out

    def __contains__(self, name: object) -> bool:
        return name in self.all()


class Scenario(StrictModel):
    """A complete, validated povsim scenario.

    Build one with :func:`povsim.load_scenario` (from YAML, with ``extends:``) or directly,
    ``Scenario()`` being the baseline. Instances are immutable; derive a variant with
    :meth:`with_overrides`. Every key, its unit, default and source: the scenario-key
    reference (``povsim show SCENARIO --sources``).

    Attributes
    ----------
    name, description
        The scenario's label and text.
    seed
        Root seed of its runs (overridden by ``povsim.run(seed=...)``).
    calendar
        The simulated years (base year, start and end year).
    carry_forward
        Whether schedules hold their last value after their last listed year.
    population
        The synthetic population: scale, data files, starting stock, household shares.
    lines
        The poverty and dibao lines and their merge (两线合一).
    pathways
        The five pathways (and users' own): costs, capacities, priorities, effects.
    shocks
        Illness, disasters (catalogue and replayed ``events``), users' own shocks.
    budget
        The sources of money, their amounts and which pathways each may pay for.
    services
        The village services programme (roads, water, ...).
    exits
        The household, village and county exit rules and their assessment.
    plans
        The county plans: yearly poverty-reduction tasks, exit years and the deadline.
    targets
        The campaign's targets (registered poor, pace, villages, counties, income, services).
    """

    name: str = param("baseline", "user label")
    description: str = param("", "user text")
    seed: int = param(7, "assumption: any fixed root seed; runs are reproducible", ge=0)
    calendar: Calendar = param(None, "see each field", default_factory=Calendar)
    carry_forward: bool = param(
        False,
        "assumption: the sourced lines and money cover the years of their schedules only; a "
        "calendar ending later is refused unless this is true, and then each schedule holds "
        "its last listed value (the step-wise reading) for the years after it",
    )
    population: Population = param(None, "see each field", default_factory=Population)
    lines: Lines = param(None, "see each field", default_factory=Lines)
    pathways: Pathways = param(None, "see each pathway", default_factory=Pathways)
    shocks: Shocks = param(None, "see each field", default_factory=Shocks)
    budget: Budget = param(None, "see each field", default_factory=Budget)
    plans: Plans = param(None, "see each field", default_factory=Plans)
    services: Services = param(None, "see each field", default_factory=Services)
    exits: Exits = param(None, "see each field", default_factory=Exits)
    targets: Targets = param(None, "see each field", default_factory=Targets)

    @model_validator(mode="after")
    def _cross_checks(self, info: ValidationInfo) -> Scenario:
        # Years a user wrote are checked against the calendar; the loader passes the dotted
        # keys written in the files and overrides as ``context={"explicit": {...}}``. Defaults
        # (and scenarios rebuilt from their JSON, which have no context) are taken as they are.
        explicit = (info.context or {}).get("explicit")
        problems = self._calendar_problems(explicit) + self._name_problems()
        if problems:
            fail(*problems)
        return self

    def _calendar_problems(self, explicit: set[str] | None) -> list[Problem]:
        cal = self.calendar
        sim = f"({cal.start_year}-{cal.end_year})"
        horizon = self.data_end_year()
        # a run cut short (``--set calendar.end_year=2016``) keeps the years of its sourced data
        last = max(cal.end_year, horizon[0]) if horizon else cal.end_year
        span = "the calendar" if last == cal.end_year else "the calendar and its sourced years"
        out: list[Problem] = []

        def written(path: tuple[Any, ...]) -> bool:
            return explicit is not None and ".".join(map(str, path)) in explicit

        for path, value in _schedules(self):
            if written(path):
                out.extend(
                    Problem("outside_calendar",
                            f"year {y} is outside {span} ({cal.base_year}-{last})", path)
                    for y in value if not cal.base_year <= y <= last
                )
        years: list[tuple[tuple[Any, ...], int | None, int]] = [
            (("lines", "merge", "year"), self.lines.merge.year, cal.base_year),
            (("targets", "year"), self.targets.year, cal.start_year),
        ]
        years += [(("targets", "pace_years", i), y, cal.start_year)
                  for i, y in enumerate(self.targets.pace_years)]
        for path, year, first in years:
            if year is not None and written(path) and not first <= year <= last:
                out.append(Problem("outside_calendar",
                                   f"{year} is outside {span} ({first}-{last})", path,
                                   found=str(year)))
        for i, ev in enumerate(self.shocks.disasters.events):
            if not cal.start_year <= ev.year <= cal.end_year:
                out.append(Problem("outside_calendar", f"{ev.year} is outside the calendar {sim}",
                                   ("shocks", "disasters", "events", i, "year"),
                                   found=str(ev.year)))
        if self.targeting_review_outside():
            out.append(Problem("outside_calendar",
                               f"{self.population.targeting.review_year} is outside the "
                               f"calendar {sim}", ("population", "targeting", "review_year")))
        if horizon is not None and cal.end_year > horizon[0] and not self.carry_forward:
            out.append(Problem(
                "past_the_data",
                f"{cal.end_year} is after the last year of the sourced money and lines "
                f"({horizon[1]}); give their values up to {cal.end_year}, or set "
                "carry_forward: true to hold their last values",
                ("calendar", "end_year"), found=str(cal.end_year)))
        return out

    def data_end_year(self) -> tuple[int, str] | None:
        """Last year covered by the sourced lines and money, and which schedules end it.

        The poverty and dibao lines each cover up to their last listed year, the budget up to
        the last year listed by any source (a source given as one number holds every year, by
        its own statement). ``None`` when nothing is dated.

        Returns
        -------
        tuple or None
            ``(year, explanation)``.
        """
        ends: list[tuple[int, str]] = []
        for name in ("poverty", "dibao"):
            line = getattr(self.lines, name)
            if isinstance(line, dict):
                ends.append((max(line), f"lines.{name} ends in {max(line)}"))
        money = [max(s.amount) for s in self.budget.sources.values() if isinstance(s.amount, dict)]
        if money:
            ends.append((max(money), f"budget.sources end in {max(money)}"))
        if not ends:
            return None
        year = min(y for y, _ in ends)
        return year, ", ".join(text for _, text in ends)

    def _name_problems(self) -> list[Problem]:
        known = f"{', '.join(sorted(self.pathways.all()))}, services"
        out = [
            Problem("unknown_name", f"unknown pathway {p!r}; known: {known}",
                    ("budget", "sources", name, "pathways", i), found=repr(p))
            for name, src in self.budget.sources.items()
            for i, p in enumerate(src.pathways or [])
            if p not in self.pathways and p != "services"
        ]
        out += [
            Problem("unknown_name", f"unknown pathway {p!r}; known: {known}",
                    ("budget", "pathway_shares", p))
            for p in self.budget.pathway_shares or {}
            if p not in self.pathways and p != "services"
        ]
        return out

    def targeting_review_outside(self) -> bool:
        """True when a registration review year is set outside the simulated years."""
        ry = self.population.targeting.review_year
        return ry is not None and not (
            self.calendar.start_year <= ry <= self.calendar.end_year
        )

    def with_overrides(self, overrides: dict[str, Any]) -> Scenario:
        """A new scenario with dotted-key overrides applied (``{"budget.scale": 0.7}``)."""
        from povsim.scenario.loader import apply_overrides, build_scenario

        data = self.model_dump(mode="python")
        apply_overrides(data, overrides)
        return build_scenario(data, explicit=set(overrides))

    def _overview(self) -> list[tuple[str, str]]:
        """The few facts that tell scenarios apart, for :meth:`__repr__` and the HTML view."""
        cal = self.calendar
        pathways = self.pathways.all()
        on = [n for n, p in pathways.items() if getattr(p, "enabled", True)]
        off = [n for n in pathways if n not in on]
        merge = self.lines.merge.year
        return [
            ("calendar", f"{cal.start_year}-{cal.end_year} (base year {cal.base_year})"),
            ("scale", f"1:{self.population.scale} households"),
            ("budget scale", f"{self.budget.scale:g}"),
            ("line merge", str(merge) if merge is not None else "never"),
            ("pathways on", ", ".join(on) or "none"),
            ("pathways off", ", ".join(off) or "none"),
            ("seed", str(self.seed)),
            ("sha256", self.sha256()[:12]),
        ]

    def __repr__(self) -> str:
        rows = self._overview()
        width = max(len(k) for k, _ in rows)
        import textwrap

        lines = []
        for k, v in rows:
            wrapped = textwrap.wrap(v, 96 - width) or [""]
            lines.append(f"  {k:<{width}}  {wrapped[0]}")
            lines += [f"  {'':<{width}}  {w}" for w in wrapped[1:]]
        return f"Scenario {self.name!r}\n" + "\n".join(lines)

    def __str__(self) -> str:
        return self.__repr__()

    def _repr_html_(self) -> str:
        import html

        rows = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
                       f"<td style='text-align:left'>{html.escape(v)}</td></tr>"
                       for k, v in self._overview())
        desc = (f"<p>{html.escape(self.description.strip())}</p>"
                if self.description.strip() else "")
        return (f"<div class='povsim-scenario'><p><b>Scenario {html.escape(self.name)}</b></p>"
                f"{desc}<table>{rows}</table></div>")

    def sha256(self) -> str:
        """SHA-256 of the canonical JSON form: equal for equal scenarios, whatever the files."""
        import hashlib
        import json

        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def _schedules(
    model: BaseModel, path: tuple[Any, ...] = ()
) -> Iterator[tuple[tuple[Any, ...], dict[int, float]]]:
    """Every dated mapping ``{year: value}`` of a validated scenario, with its key path.

    Only :data:`Dated` values are mappings with integer keys, so the values themselves say
    which they are.
    """
    fields = dict(model) | dict(model.model_extra or {})
    for name, value in fields.items():
        here = (*path, name)
        if isinstance(value, BaseModel):
            yield from _schedules(value, here)
        elif isinstance(value, dict) and value:
            if all(isinstance(k, int) for k in value):
                yield here, value
            else:
                for k, v in value.items():
                    if isinstance(v, BaseModel):
                        yield from _schedules(v, (*here, k))


def iter_parameters(
    model: BaseModel | type[BaseModel], prefix: str = ""
) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """Walk a scenario (or section) and yield ``(dotted_key, value, metadata)`` for every field.

    Parameters
    ----------
    model
        A scenario or section (its values), or its class (the defaults).
    prefix
        Prepended to every key (used by the recursion).

    Yields
    ------
    tuple of (str, object, dict)
        The dotted key, the value (a section's own entry comes before its fields) and the
        field's metadata: ``source`` and, when given, ``unit`` and ``description``; a
        user-registered component's settings have the source ``"user-registered component"``.
    """
    cls = model if isinstance(model, type) else type(model)
    for name, field in cls.model_fields.items():
        key = f"{prefix}{name}"
        value = getattr(model, name, None) if not isinstance(model, type) else field.default
        extra = dict(field.json_schema_extra or {}) if isinstance(field.json_schema_extra, dict) else {}
        yield key, value, extra
        if isinstance(value, BaseModel):
            yield from iter_parameters(value, key + ".")
        elif isinstance(value, dict):
            for k, v in value.items():
                if isinstance(v, BaseModel):
                    yield from iter_parameters(v, f"{key}.{k}.")
    if not isinstance(model, type) and model.model_extra:
        for k, v in model.model_extra.items():
            yield f"{prefix}{k}", v, {"source": "user-registered component"}
            if isinstance(v, BaseModel):
                yield from iter_parameters(v, f"{prefix}{k}.")
