"""Strict scenario values, dated schedules, years in the calendar, non-scenario files.

Each test here names a reliability finding of the Engine v2 issue; on the code before the fix
the bad input was accepted (or its message named neither the key nor what was expected).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest

from povsim.errors import ScenarioError, ScenarioErrors
from povsim.scenario import Scenario, build_scenario, load_scenario, load_yaml
from povsim.scenario.loader import MAX_BYTES, deep_merge
from povsim.scenario.schema import POVERTY_LINE_DEFAULT

Writer = Callable[[str, str], Path]


def only_error(call: Callable[[], object]) -> ScenarioError:
    """The single ScenarioError raised by ``call``."""
    with pytest.raises(ScenarioError) as info:
        call()
    err = info.value
    if isinstance(err, ScenarioErrors):
        assert len(err.errors) == 1, err.format()
        return err.errors[0]
    return err


# --------------------------------------------------------------------------------------------
# no infinities, no NaN, no coercion
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("budget:\n  sources:\n    credit: {amount: .inf}\n", "budget.sources.credit.amount"),
        ("budget:\n  sources:\n    credit: {amount: {2016: .inf}}\n",
         "budget.sources.credit.amount.2016"),
        ("pathways:\n  production: {income_gain: .inf}\n", "pathways.production.income_gain"),
        ("exits:\n  quota: .inf\n", "exits.quota"),
        ("pathways:\n  relocation: {capacity: .nan}\n", "pathways.relocation.capacity"),
        ("budget:\n  scale: .nan\n", "budget.scale"),
    ],
)
def test_infinity_and_nan_are_refused(write: Writer, text: str, key: str) -> None:
    path = write("inf.yaml", text)
    err = only_error(lambda: load_scenario(path))
    assert err.key == key
    assert err.file == str(path) and err.line is not None
    assert err.message == "not finite" and err.expected == "a finite number"


@pytest.mark.parametrize(
    ("text", "key", "expected", "found"),
    [
        ('budget:\n  scale: "1.3"\n', "budget.scale", "a number", "'1.3'"),
        ("population:\n  scale: yes\n", "population.scale", "an integer", "True"),
        ('population:\n  scale: "200"\n', "population.scale", "an integer", "'200'"),
        ("services:\n  enabled: 1\n", "services.enabled", "true or false", "1"),
        ("budget:\n  carry_over: 'no'\n", "budget.carry_over", "true or false", "'no'"),
        ("name: 3\n", "name", "text", "3"),
        ('lines:\n  poverty: "3000"\n', "lines.poverty", "a number or a mapping {year: value}",
         "'3000'"),
        ("lines:\n  poverty: {2015: '3000'}\n", "lines.poverty.2015", "a number", "'3000'"),
        ("population:\n  scale: 200.0\n", "population.scale",
         "an integer, written without a decimal point", "200.0"),
    ],
)
def test_no_coercion(write: Writer, text: str, key: str, expected: str, found: str) -> None:
    path = write("coerce.yaml", text)
    err = only_error(lambda: load_scenario(path))
    assert (err.key, err.message, err.expected, err.found) == (key, "wrong type", expected, found)


def test_override_values_are_strict_too() -> None:
    err = only_error(lambda: Scenario().with_overrides({"budget.scale": "0.5"}))
    assert (err.key, err.expected) == ("budget.scale", "a number")
    err = only_error(lambda: Scenario().with_overrides({"population.scale": True}))
    assert (err.key, err.expected) == ("population.scale", "an integer")


# --------------------------------------------------------------------------------------------
# dated schedules
# --------------------------------------------------------------------------------------------


def test_quoted_year_keys_are_years(write: Writer) -> None:
    path = write("quoted.yaml", 'lines:\n  poverty: {"2014": 2800, "2020": 4100}\n')
    scenario = load_scenario(path)
    # the schedule replaces the default one: it is not merged with it key by key
    assert scenario.lines.poverty == {2014: 2800.0, 2020: 4100.0}


def test_a_year_given_twice_is_an_error(write: Writer) -> None:
    path = write("twice.yaml", 'lines:\n  poverty: {2015: 2900, "2015": 3000}\n')
    err = only_error(lambda: load_scenario(path))
    assert err.key == "lines.poverty.2015"
    assert err.message == "year 2015 is given twice (2015 and '2015')"
    assert (err.file, err.line) == (str(path), 2)


def test_an_empty_schedule_is_an_error(write: Writer) -> None:
    path = write("empty.yaml", "budget:\n  sources:\n    relocation_funds:\n      amount: {}\n")
    err = only_error(lambda: load_scenario(path))
    assert err.key == "budget.sources.relocation_funds.amount"
    assert err.message == "an empty schedule"
    assert err.expected == "a number or a mapping {year: value}"
    assert (err.file, err.line) == (str(path), 4)


def test_schedule_replaces_on_merge_whatever_its_keys() -> None:
    base = {"lines": {"poverty": {2014: 1.0, 2015: 2.0}, "dibao": 5.0}}
    assert deep_merge(base, {"lines": {"poverty": {"2016": 3.0}}}) == {
        "lines": {"poverty": {"2016": 3.0}, "dibao": 5.0}
    }
    assert deep_merge(base, {"lines": {"poverty": {}}})["lines"]["poverty"] == {}
    assert base == {"lines": {"poverty": {2014: 1.0, 2015: 2.0}, "dibao": 5.0}}


def test_json_round_trip_keeps_schedules() -> None:
    scenario = Scenario().with_overrides({"lines.poverty.2017": 3300})
    again = Scenario.model_validate_json(scenario.model_dump_json())
    assert again == scenario
    assert again.lines.poverty == {**POVERTY_LINE_DEFAULT, 2017: 3300.0}


# --------------------------------------------------------------------------------------------
# years in the calendar; the calendar within the data
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "message"),
    [
        ("lines:\n  merge: {year: 2099}\n", "lines.merge.year",
         "2099 is outside the calendar (2014-2020)"),
        ("lines:\n  merge: {year: 2025}\n", "lines.merge.year",
         "2025 is outside the calendar (2014-2020)"),
        ("targets:\n  year: 2030\n", "targets.year", "2030 is outside the calendar (2015-2020)"),
        ("targets:\n  pace_years: [2015, 2016, 2040]\n", "targets.pace_years.2",
         "2040 is outside the calendar (2015-2020)"),
        ("exits:\n  quota: {2015: 1000, 2024: 1000}\n", "exits.quota",
         "year 2024 is outside the calendar (2014-2020)"),
        ("pathways:\n  relocation:\n    capacity: {2016: 5, 2070: 5}\n",
         "pathways.relocation.capacity", "year 2070 is outside the calendar (2014-2020)"),
        ("pathways:\n  production:\n    employment:\n      monthly_wage: {2014: 1, 2021: 2}\n",
         "pathways.production.employment.monthly_wage",
         "year 2021 is outside the calendar (2014-2020)"),
    ],
)
def test_years_lie_in_the_calendar(write: Writer, text: str, key: str, message: str) -> None:
    path = write("years.yaml", text)
    err = only_error(lambda: load_scenario(path))
    assert (err.key, err.message) == (key, message)
    assert err.file == str(path) and err.line is not None


def test_calendar_past_the_data_is_refused(write: Writer) -> None:
    path = write("long.yaml", "calendar:\n  end_year: 2030\n")
    err = only_error(lambda: load_scenario(path))
    assert (err.file, err.line, err.key) == (str(path), 2, "calendar.end_year")
    assert err.message.startswith(
        "2030 is after the last year of the sourced money and lines (lines.poverty ends in "
        "2020, lines.dibao ends in 2020, budget.sources end in 2020)"
    )
    assert "carry_forward: true" in err.message


def test_carry_forward_is_explicit(write: Writer) -> None:
    path = write("long.yaml", "carry_forward: true\ncalendar:\n  end_year: 2030\n")
    scenario = load_scenario(path)
    assert scenario.calendar.end_year == 2030 and scenario.carry_forward
    assert scenario.data_end_year() == (
        2020, "lines.poverty ends in 2020, lines.dibao ends in 2020, budget.sources end in 2020"
    )


def test_calendar_within_user_data_needs_no_carry_forward() -> None:
    data = {
        "calendar": {"end_year": 2022},
        "lines": {"poverty": {2014: 2800, 2022: 4300}, "dibao": {2014: 2280, 2022: 4400}},
        "budget": {"sources": {"dibao_funds": {"amount": {2015: 1e9, 2022: 1e9}}}},
    }
    assert build_scenario(data).calendar.end_year == 2022


def test_a_shortened_run_keeps_its_sourced_years() -> None:
    """``--set calendar.end_year=2016`` on a file that names 2017 as merge year still loads."""
    scenario = load_scenario({"lines": {"merge": {"year": 2017}}}, {"calendar.end_year": 2016})
    assert scenario.calendar.end_year == 2016 and scenario.lines.merge.year == 2017


# --------------------------------------------------------------------------------------------
# files that are not scenarios; excerpts; size
# --------------------------------------------------------------------------------------------

SHADOW = (
    "root:$6$saltsalt$hashhashhashhashhashhashhashhashhashhashhashhashhash:19000:0:99999:7:::\n"
    "daemon:*:19000:0:99999:7:::\n"
    "secretuser:$6$abc$SECRETHASHVALUE:19000:0:99999:7:::\n"
)


def test_extends_of_a_system_file_quotes_none_of_it(write: Writer) -> None:
    write("shadow", SHADOW)
    child = write("child.yaml", "extends: shadow\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    text = str(info.value)
    assert "not a scenario file" in text
    assert "SECRETHASHVALUE" not in text and "daemon" not in text and "hashhash" not in text


def test_mapping_of_foreign_keys_is_not_a_scenario(write: Writer) -> None:
    path = write("compose.yaml", "version: '3'\nservices_list:\n  web: {image: nginx}\n")
    err = only_error(lambda: load_yaml(path))
    assert err.message == "not a scenario file: none of its top-level keys is a scenario section"
    assert err.found == "2 other keys" and "budget" in (err.expected or "")


def test_binary_file_is_refused_as_not_text(tmp_path: Path) -> None:
    path = tmp_path / "image.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    err = only_error(lambda: load_yaml(path))
    assert "not UTF-8 text" in err.message and "a scenario is a YAML text file" in err.message


def test_messages_quote_short_excerpts(write: Writer) -> None:
    long_key = "k" * 500
    path = write("long.yaml", f"budget:\n  {long_key}: 1\n")
    text = str(only_error(lambda: load_scenario(path)))
    assert long_key not in text and len(text) < 400
    path = write("long2.yaml", f"name: [{'x' * 500}]\n")
    text = str(only_error(lambda: load_scenario(path)))
    assert "x" * 100 not in text


def test_size_limit(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    path.write_bytes(b"name: x\ndescription: '" + b"a" * MAX_BYTES + b"'\n")
    start = time.perf_counter()
    err = only_error(lambda: load_yaml(path))
    assert time.perf_counter() - start < 2.0
    assert err.message == "the file is larger than 10 MB, the most a scenario file may be"
    assert err.file == str(path)


def test_libyaml_parses_when_available() -> None:
    """The pure-Python YAML loader took ~30 s for a 5 MB file; libyaml does the parsing now
    (``benchmarks/scenario_loading.py`` prints the figures)."""
    yaml = pytest.importorskip("yaml")
    from povsim.scenario import safe_yaml

    assert safe_yaml.USES_LIBYAML == bool(getattr(yaml, "__with_libyaml__", False))


def test_many_events_validate_quickly(tmp_path: Path) -> None:
    """About 0.5 MB of generated events: a regression guard with a generous bound (the
    machine may be loaded), not a benchmark."""
    lines = ["name: many", "shocks:", "  disasters:", "    events:"]
    for i in range(3000):
        lines += [f"      - name: event {i}", "        kind: flood",
                  f"        year: {2015 + i % 6}", f"        month: {1 + i % 12}",
                  "        regions: [qinba]"]
    path = tmp_path / "many.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    start = time.perf_counter()
    scenario = load_scenario(path)
    assert len(scenario.shocks.disasters.events) == 3000
    assert time.perf_counter() - start < 5.0


def test_numpy_scalars_in_overrides_are_plain_values() -> None:
    """Strict values still take a design grid's NumPy numbers (their plain Python value)."""
    np = pytest.importorskip("numpy")
    scenario = Scenario().with_overrides(
        {"population.scale": np.int64(500), "budget.scale": np.float64(0.5),
         "services.enabled": np.bool_(False)}
    )
    assert (scenario.population.scale, scenario.budget.scale) == (500, 0.5)
    assert scenario.services.enabled is False
    err = only_error(lambda: Scenario().with_overrides({"budget.scale": np.float64("inf")}))
    assert (err.key, err.message) == ("budget.scale", "not finite")
