"""Tests of :mod:`povsim.scenario.loader`: safe YAML, extends, overrides and error messages."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import povsim.scenario as scenario_pkg
from povsim.errors import PovsimError, ScenarioError, ScenarioErrors
from povsim.registry import register_pathway, unregister
from povsim.scenario import (
    Scenario,
    apply_overrides,
    build_scenario,
    load_scenario,
    load_yaml,
    parse_override,
)
from povsim.scenario.loader import (
    MAX_ALIASES,
    load_with_extends,
    scenario_from_yaml_string,
)
from povsim.scenario.schema import DIBAO_LINE_DEFAULT, POVERTY_LINE_DEFAULT, PathwayConfig

Writer = Callable[[str, str], Path]


def billion_laughs() -> str:
    """The classic alias bomb: nine levels of nine aliases (9**9 strings once expanded)."""
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# package surface
# --------------------------------------------------------------------------------------------


def test_package_exports() -> None:
    for name in (
        "Scenario",
        "load_scenario",
        "build_scenario",
        "apply_overrides",
        "parse_override",
        "load_yaml",
        "at",
        "iter_parameters",
        "REGIONS",
    ):
        assert name in scenario_pkg.__all__
        assert hasattr(scenario_pkg, name)


# --------------------------------------------------------------------------------------------
# load_yaml
# --------------------------------------------------------------------------------------------


def test_load_yaml_returns_data_and_line_of_every_key(write: Writer) -> None:
    path = write(
        "s.yaml",
        """
        name: test
        budget:
          sources:
            credit:
              amount:
                2015: 1.0e9
                2016: 2.0e9
              pathways:
                - production
                - dibao
        """,
    )
    data, locations = load_yaml(path)
    assert data == {
        "name": "test",
        "budget": {
            "sources": {
                "credit": {
                    "amount": {2015: 1.0e9, 2016: 2.0e9},
                    "pathways": ["production", "dibao"],
                }
            }
        },
    }
    f = str(path)
    assert locations[("name",)] == (f, 1)
    assert locations[("budget",)] == (f, 2)
    assert locations[("budget", "sources", "credit", "amount")] == (f, 5)
    assert locations[("budget", "sources", "credit", "amount", 2016)] == (f, 7)
    assert locations[("budget", "sources", "credit", "pathways", 0)] == (f, 9)
    assert locations[("budget", "sources", "credit", "pathways", 1)] == (f, 10)


def test_load_yaml_reads_exponent_numbers_bom_and_unicode(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes("\ufeffname: 五个一批\nbudget: {scale: 1e0}\nx: 5e9\n".encode())
    data, _ = load_yaml(path)
    assert data == {"name": "五个一批", "budget": {"scale": 1.0}, "x": 5.0e9}
    assert isinstance(data["x"], float)


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/name:os.system",
    ],
)
def test_python_tags_are_refused_and_not_run(write: Writer, tmp_path: Path, tag: str) -> None:
    marker = tmp_path / "pwned"
    path = write("evil.yaml", f'name: {tag} ["touch {marker}"]\n')
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    assert f"YAML tag {tag} is not allowed" in str(info.value)
    assert info.value.file == str(path)
    assert info.value.line == 1
    assert not marker.exists()


def test_python_tag_in_scalar_and_custom_tags_refused(write: Writer) -> None:
    path = write("evil.yaml", "a: !!python/name:os.system ''\nb: !custom x\n")
    with pytest.raises(ScenarioError, match=r"!!python/name:os\.system is not allowed"):
        load_yaml(path)
    path = write("custom.yaml", "b: !custom x\n")
    with pytest.raises(ScenarioError, match="YAML tag !custom is not allowed"):
        load_yaml(path)


@pytest.mark.parametrize("text", ["a: !!binary aGk=\n", "a: !!set {x, y}\n", "a: !!omap [b: 1]\n"])
def test_non_plain_yaml_types_refused(write: Writer, text: str) -> None:
    with pytest.raises(ScenarioError, match="is not allowed"):
        load_yaml(write("s.yaml", text))


def test_bad_explicit_scalar_is_an_error(write: Writer) -> None:
    with pytest.raises(ScenarioError, match=r"a: cannot read 'abc' as !!int"):
        load_yaml(write("s.yaml", "a: !!int abc\n"))


def test_duplicate_key_at_depth(write: Writer) -> None:
    path = write(
        "dup.yaml",
        """
        budget:
          sources:
            credit:
              amount: 1
              kind: credit
              amount: 2
        """,
    )
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == 6
    assert err.key == "budget.sources.credit.amount"
    assert str(err) == (
        f"{path}:6: budget.sources.credit.amount: duplicate key 'amount' (first given on line 4)"
    )


def test_duplicate_key_at_top_level_and_int_keys(write: Writer) -> None:
    with pytest.raises(ScenarioError, match=r":2: name: duplicate key 'name'"):
        load_yaml(write("a.yaml", "name: a\nname: b\n"))
    with pytest.raises(ScenarioError, match=r"lines.poverty.2016: duplicate key 2016"):
        load_yaml(write("b.yaml", "lines:\n  poverty: {2016: 1, 2016: 2}\n"))


def test_billion_laughs_refused_fast(write: Writer) -> None:
    path = write("bomb.yaml", billion_laughs())
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    assert time.perf_counter() - start < 1.0
    assert "too many aliases/anchors" in str(info.value)
    assert str(path) in str(info.value)


def test_too_many_alias_uses_refused(write: Writer) -> None:
    text = "x: &x 1\ny: [" + ", ".join(["*x"] * (MAX_ALIASES + 1)) + "]\n"
    with pytest.raises(ScenarioError, match=r"too many aliases/anchors \(more than 10,000"):
        load_yaml(write("wide.yaml", text))


def test_small_anchors_aliases_and_merge_keys_work(write: Writer) -> None:
    path = write(
        "anchors.yaml",
        """
        base: &grant {kind: grant, amount: 1.0}
        budget:
          sources:
            a: *grant
            b:
              <<: *grant
              amount: 2.0
        lists: [&l [1, 2], *l]
        """,
    )
    data, locations = load_yaml(path)
    assert data["budget"]["sources"] == {
        "a": {"kind": "grant", "amount": 1.0},
        "b": {"kind": "grant", "amount": 2.0},
    }
    assert data["lists"] == [[1, 2], [1, 2]]
    # aliased values are independent copies
    data["budget"]["sources"]["a"]["amount"] = 9.0
    assert data["base"]["amount"] == 1.0
    assert locations[("budget", "sources", "b", "amount")] == (str(path), 7)


def test_recursive_alias_refused(write: Writer) -> None:
    with pytest.raises(ScenarioError, match="recursive anchor"):
        load_yaml(write("rec.yaml", "a: &a [1, *a]\n"))


def test_deep_nesting_refused(write: Writer) -> None:
    text = "a: " + "[" * 500 + "]" * 500 + "\n"
    with pytest.raises(ScenarioError, match="nested too deeply"):
        load_yaml(write("deep.yaml", text))


def test_malformed_yaml_reports_file_line_and_problem(write: Writer) -> None:
    path = write(
        "bad.yaml",
        """
        budget:
          scale: 0.5
          sources: [a, b
        lines: {}
        """,
    )
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    err = info.value
    assert err.file == str(path)
    assert err.line == 4
    assert "malformed YAML: expected ',' or ']'" in str(err)


def test_malformed_indentation(write: Writer) -> None:
    path = write("indent.yaml", "a:\n    b: 1\n  c: 2\n")
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    assert info.value.line == 3
    assert "malformed YAML: expected <block end>" in str(info.value)


def test_control_character_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "nul.yaml"
    path.write_text("a: 1\nb: \x00\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"nul.yaml:2: malformed YAML: unacceptable character"):
        load_yaml(path)


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("", "found an empty document"),
        ("# only a comment\n", "found an empty document"),
        ("- a\n- b\n", "found a list"),
        ("just text\n", "found text 'just text'"),
        ("42\n", "found a number 42"),
        ("null\n", "found null"),
    ],
)
def test_top_level_must_be_a_mapping(write: Writer, text: str, found: str) -> None:
    path = write("top.yaml", text)
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    message = str(info.value)
    assert message.startswith(str(path))
    assert "expected a mapping at the top level" in message
    assert found in message


def test_several_documents_refused(write: Writer) -> None:
    path = write("multi.yaml", "name: a\n---\nname: b\n")
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    assert info.value.line == 2
    assert "more than one YAML document" in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ScenarioError) as info:
        load_yaml(missing)
    assert str(info.value) == f"{missing}: file not found"
    with pytest.raises(ScenarioError) as info:
        load_yaml(tmp_path)
    assert str(info.value) == f"{tmp_path}: file not found: the path is a directory"


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root reads all")
def test_unreadable_file(write: Writer) -> None:
    path = write("secret.yaml", "name: x\n")
    path.chmod(0)
    try:
        with pytest.raises(ScenarioError, match="cannot read the file: permission denied"):
            load_yaml(path)
    finally:
        path.chmod(0o644)


def test_non_utf8_refused_with_line(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"name: ok\ndescription: caf\xe9\n")
    with pytest.raises(ScenarioError) as info:
        load_yaml(path)
    assert info.value.line == 2
    assert "not UTF-8 text (byte 0xe9" in str(info.value)


# --------------------------------------------------------------------------------------------
# extends
# --------------------------------------------------------------------------------------------


def test_extends_chain_of_three_deep_merges(write: Writer, tmp_path: Path) -> None:
    base = write(
        "base.yaml",
        """
        name: base
        description: the base
        budget:
          scale: 0.5
          sources:
            credit:
              amount: {2015: 1.0e9, 2016: 2.0e9}
              pathways: [production, dibao]
              kind: credit
        lines:
          poverty: {2014: 2800, 2020: 4000}
          merge: {year: 2018}
        """,
    )
    mid = write(
        "family/mid.yaml",
        """
        extends: ../base.yaml
        budget:
          sources:
            credit:
              amount: {2017: 3.0e9}
              pathways: [production]
        exits:
          village: {require_services: [road]}
        """,
    )
    child = write(
        "family/deeper/child.yaml",
        """
        extends: ../mid.yaml
        name: child
        lines:
          merge: {year: null}
        budget:
          scale: 0.9
        """,
    )
    data, locations = load_with_extends(child)
    assert "extends" not in data
    assert data["name"] == "child"
    assert data["description"] == "the base"
    assert data["lines"]["merge"] == {"year": None}  # a child null replaces
    assert data["budget"]["scale"] == 0.9
    credit = data["budget"]["sources"]["credit"]
    assert credit["amount"] == {2017: 3.0e9}  # a dated {year: value} schedule replaces
    assert credit["pathways"] == ["production"]  # lists are replaced
    assert credit["kind"] == "credit"
    assert data["lines"]["poverty"] == {2014: 2800, 2020: 4000}
    assert data["exits"] == {"village": {"require_services": ["road"]}}

    mid_name = os.path.normpath(tmp_path / "family/deeper/../mid.yaml")
    base_name = os.path.normpath(tmp_path / "family/deeper/../../base.yaml")
    assert mid_name == str(mid) and base_name == str(base)
    assert locations[("name",)] == (str(child), 2)
    assert locations[("budget", "scale")] == (str(child), 6)
    assert locations[("lines", "merge", "year")] == (str(child), 4)
    assert ("budget", "sources", "credit", "amount", 2015) not in locations  # replaced by mid
    assert locations[("budget", "sources", "credit", "amount", 2017)] == (mid_name, 5)
    assert locations[("budget", "sources", "credit", "pathways")] == (mid_name, 6)
    assert locations[("budget", "sources", "credit", "pathways", 0)] == (mid_name, 6)
    assert ("budget", "sources", "credit", "pathways", 1) not in locations
    assert locations[("lines", "poverty")] == (base_name, 11)
    assert not any(k[0] == "extends" for k in locations)

    scenario = load_scenario(child)
    assert scenario.name == "child"
    assert scenario.lines.merge.year is None
    assert scenario.budget.sources["credit"].amount == {2017: 3.0e9}


def test_extends_list_merges_in_order(write: Writer) -> None:
    write("a.yaml", "name: a\nbudget: {scale: 0.5, carry_over: false}\n")
    write("b.yaml", "name: b\nbudget: {scale: 0.6}\n")
    child = write("c.yaml", "extends: [a.yaml, b.yaml]\ndescription: c\n")
    data, _ = load_with_extends(child)
    assert data == {
        "name": "b",
        "budget": {"scale": 0.6, "carry_over": False},
        "description": "c",
    }


def test_diamond_is_not_a_cycle(write: Writer) -> None:
    write("root.yaml", "seed: 3\n")
    write("left.yaml", "extends: root.yaml\nname: left\n")
    write("right.yaml", "extends: root.yaml\ndescription: right\n")
    child = write("child.yaml", "extends: [left.yaml, right.yaml]\n")
    scenario = load_scenario(child)
    assert (scenario.seed, scenario.name, scenario.description) == (3, "left", "right")


def test_extends_missing_parent(write: Writer, tmp_path: Path) -> None:
    child = write("child.yaml", "name: c\nextends: parts/base.yaml\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(child)
    err = info.value
    assert err.file == str(child)
    assert err.key == "extends"
    assert err.line == 2
    assert str(err) == (f"{child}:2: extends: file not found: {tmp_path / 'parts' / 'base.yaml'}")


def test_extends_cycle_of_two(write: Writer, tmp_path: Path) -> None:
    a = write("a.yaml", "extends: b.yaml\nname: a\n")
    b = write("b.yaml", "extends: a.yaml\nname: b\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(a)
    assert f"circular extends: {a} -> {b} -> {a}" in str(info.value)
    assert info.value.file == str(b)
    assert info.value.key == "extends"


def test_extends_itself(write: Writer) -> None:
    a = write("self.yaml", "extends: self.yaml\n")
    with pytest.raises(ScenarioError, match="circular extends"):
        load_scenario(a)
    assert f"circular extends: {a} -> {a}" in _message(lambda: load_scenario(a))


def test_extends_wrong_type(write: Writer) -> None:
    a = write("a.yaml", "extends: 3\n")
    with pytest.raises(ScenarioError) as info:
        load_scenario(a)
    assert str(info.value) == (
        f"{a}:1: extends: wrong type (expected a file name or a list of file names; found 3)"
    )


def test_error_in_parent_points_at_parent(write: Writer) -> None:
    parent = write("parent.yaml", "name: p\npopulation:\n  scale: -3\n")
    child = write("child.yaml", "extends: parent.yaml\nname: c\n")
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(child)
    assert str(info.value) == (
        f"{parent}:3: population.scale: out of range (expected >= 1; found -3)"
    )


def test_child_value_replaces_parent_error(write: Writer) -> None:
    write("parent.yaml", "population:\n  scale: -3\n")
    child = write("child.yaml", "extends: parent.yaml\npopulation: {scale: 10}\n")
    assert load_scenario(child).population.scale == 10


# --------------------------------------------------------------------------------------------
# overrides
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "key", "value"),
    [
        ("budget.scale=0.5", "budget.scale", 0.5),
        ("calendar.end_year=2019", "calendar.end_year", 2019),
        ("exits.quota=null", "exits.quota", None),
        ("name=my run", "name", "my run"),
        (" seed = 11 ", "seed", 11),
        (
            "budget.sources.x.pathways=[production, dibao]",
            "budget.sources.x.pathways",
            ["production", "dibao"],
        ),
        ("lines.poverty={2015: 2900, 2016: 3000}", "lines.poverty", {2015: 2900, 2016: 3000}),
        ("services.enabled=false", "services.enabled", False),
        ("description=a=b", "description", "a=b"),
        ("budget.scale=1e0", "budget.scale", 1.0),
        ("exits.quota=", "exits.quota", None),
    ],
)
def test_parse_override(text: str, key: str, value: object) -> None:
    assert parse_override(text) == (key, value)


@pytest.mark.parametrize("text", ["budget.scale", "=3", "  =  "])
def test_parse_override_bad_syntax(text: str) -> None:
    with pytest.raises(ScenarioError, match=r"bad override \(expected KEY=VALUE"):
        parse_override(text)


def test_parse_override_bad_value_is_safe() -> None:
    with pytest.raises(ScenarioError, match=r"override budget.scale:1: malformed YAML"):
        parse_override("budget.scale=[1, 2")
    with pytest.raises(ScenarioError, match="is not allowed"):
        parse_override("name=!!python/object/apply:os.system ['echo hi']")


def test_apply_overrides_year_keys_and_intermediates() -> None:
    data: dict = {"lines": {"poverty": {2014: 2800.0, 2020: 4000.0}}, "budget": {}}
    apply_overrides(
        data,
        {
            "lines.poverty.2017": 3300,
            "budget.scale": 0.7,
            "budget.sources.credit.amount.2016": 5.0,
            "population.targeting.review_year": None,
        },
    )
    assert data["lines"]["poverty"] == {2014: 2800.0, 2020: 4000.0, 2017: 3300}
    assert data["budget"]["scale"] == 0.7
    # a new dated mapping gets int year keys from the schema; a source name stays text; the
    # missing sources mapping starts from the default sources, as plain data
    sources = data["budget"]["sources"]
    assert sources["credit"] == {"amount": {2016: 5.0}}
    assert set(Scenario().budget.sources) < set(sources)
    assert sources["dibao_funds"]["pathways"] == ["dibao"]
    assert build_scenario(data).budget.sources["credit"].amount == {2016: 5.0}
    assert data["population"]["targeting"]["review_year"] is None


def test_apply_overrides_starts_missing_sections_from_defaults() -> None:
    data: dict = {}
    apply_overrides(data, {"lines.poverty.2017": 3300, "exits.village.max_incidence": 0.05})
    assert data["lines"]["poverty"] == {**POVERTY_LINE_DEFAULT, 2017: 3300}
    assert data["exits"]["village"]["require_services"] == ["road", "water", "clinic", "broadband"]
    scenario = build_scenario(data)
    assert scenario.lines.poverty[2016] == POVERTY_LINE_DEFAULT[2016]
    assert scenario.lines.poverty[2017] == 3300
    assert scenario.exits.village.max_incidence == 0.05
    assert scenario.exits.village.require_services == ["road", "water", "clinic", "broadband"]


def test_apply_overrides_list_index_and_string_digit_keys() -> None:
    data: dict = {
        "shocks": {"disasters": {"events": [{"year": 2017}]}},
        "budget": {"sources": {"2016": {"amount": 1.0}}},
    }
    apply_overrides(
        data, {"shocks.disasters.events.0.year": 2018, "budget.sources.2016.kind": "credit"}
    )
    assert data["shocks"]["disasters"]["events"] == [{"year": 2018}]
    assert data["budget"]["sources"]["2016"] == {"amount": 1.0, "kind": "credit"}


def test_apply_overrides_errors() -> None:
    with pytest.raises(ScenarioError, match=r"bad override key 'budget\.\.scale'"):
        apply_overrides({}, {"budget..scale": 1})
    with pytest.raises(ScenarioError, match=r"lines\.poverty is 3000, not a mapping"):
        apply_overrides({"lines": {"poverty": 3000}}, {"lines.poverty.2017.x": 1})
    with pytest.raises(ScenarioError, match=r"is a list of 1 items and '3' is not one"):
        apply_overrides({"events": [{}]}, {"events.3.year": 2018})


def test_load_scenario_valid_file_with_overrides(write: Writer) -> None:
    path = write(
        "scenarios/austerity.yaml",
        """
        name: austerity
        description: less money, later merge
        seed: 11
        budget:
          scale: 0.8
        lines:
          merge: {year: 2019, path: step}
        pathways:
          relocation:
            capacity: {2016: 200000, 2017: 200000}
        """,
    )
    scenario = load_scenario(
        path,
        {
            "budget.scale": 0.7,
            "lines.poverty.2017": 3300,
            "pathways.relocation.capacity.2018": 150000,
            "population.scale": 500,
        },
    )
    assert isinstance(scenario, Scenario)
    assert scenario.name == "austerity"
    assert scenario.seed == 11
    assert scenario.budget.scale == 0.7
    assert scenario.lines.merge.year == 2019 and scenario.lines.merge.path == "step"
    assert scenario.lines.poverty[2017] == 3300
    assert scenario.lines.poverty[2016] == POVERTY_LINE_DEFAULT[2016]
    assert scenario.lines.dibao == DIBAO_LINE_DEFAULT
    assert scenario.pathways.relocation.capacity == {2016: 200000, 2017: 200000, 2018: 150000}
    assert scenario.population.scale == 500
    # untouched sections keep their defaults
    assert scenario.budget.sources == Scenario().budget.sources


def test_bad_override_value_is_reported_as_override(write: Writer) -> None:
    path = write("s.yaml", "budget:\n  scale: 0.8\n")
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path, {"budget.scale": 500})
    assert str(info.value) == "overrides: budget.scale: out of range (expected <= 100; found 500)"


def test_with_overrides_round_trip() -> None:
    base = Scenario()
    changed = base.with_overrides(
        {"budget.scale": 0.7, "lines.poverty.2017": 3300, "shocks.illness.rate": 0.2}
    )
    assert changed.budget.scale == 0.7
    assert changed.lines.poverty[2017] == 3300
    assert changed.lines.poverty[2016] == base.lines.poverty[2016]
    assert changed.shocks.illness.rate == 0.2
    assert base.budget.scale == 1.0 and base.lines.poverty[2017] == POVERTY_LINE_DEFAULT[2017]
    assert base.with_overrides({}) == base
    assert changed.with_overrides({"budget.scale": 1.0}).budget.scale == 1.0
    with pytest.raises(ScenarioErrors, match=r"shocks\.illness\.rate: out of range"):
        base.with_overrides({"shocks.illness.rate": 1.5})


# --------------------------------------------------------------------------------------------
# build_scenario: validation errors in words
# --------------------------------------------------------------------------------------------


def test_unknown_key_at_depth_three_has_line_and_allowed_keys(write: Writer) -> None:
    path = write(
        "typo.yaml",
        """
        name: typo
        pathways:
          production:
            delay_months: 6

            unit_cots: 4000
        """,
    )
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path)
    (err,) = info.value.errors
    assert err.file == str(path)
    assert err.line == 6
    assert err.key == "pathways.production.unit_cots"
    assert err.message == "unknown key 'unit_cots' (did you mean 'unit_cost'?)"
    assert err.expected is not None and err.expected.startswith("one of: enabled, delay_months")
    assert "unit_cost" in err.expected and "microcredit" in err.expected
    assert str(info.value).startswith(f"{path}:6: pathways.production.unit_cots: unknown key")


def test_several_problems_are_all_listed(write: Writer) -> None:
    path = write(
        "many.yaml",
        """
        population:
          scale: 0
        shocks:
          illness:
            rate: 1.5
        services:
          enabled: 3
        """,
    )
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path)
    errs = info.value
    assert [e.key for e in errs.errors] == [
        "population.scale",
        "shocks.illness.rate",
        "services.enabled",
    ]
    assert [e.line for e in errs.errors] == [2, 5, 7]
    text = str(errs)
    assert text.splitlines()[0] == "3 problems in the scenario:"
    assert f"  - {path}:2: population.scale: out of range (expected >= 1; found 0)" in text
    assert f"  - {path}:5: shocks.illness.rate: out of range (expected <= 1; found 1.5)" in text
    assert f"  - {path}:7: services.enabled: wrong type (expected true or false; found 3)" in text
    assert isinstance(errs, PovsimError)


@pytest.mark.parametrize(
    ("data", "key", "message", "expected", "found"),
    [
        ({"budget": {"scale": "lots"}}, "budget.scale", "wrong type", "a number", "'lots'"),
        ({"population": {"scale": 1.5}}, "population.scale", "wrong type", "a whole number", "1.5"),
        ({"population": {"scale": "x"}}, "population.scale", "wrong type", "an integer", "'x'"),
        ({"services": {"enabled": 3}}, "services.enabled", "wrong type", "true or false", "3"),
        ({"lines": [1, 2]}, "lines", "wrong type", "a mapping", "[1, 2]"),
        ({"name": 3}, "name", "wrong type", "text", "3"),
        (
            {"budget": {"sources": {"c": {"amount": -5}}}},
            "budget.sources.c.amount",
            "out of range",
            ">= 0",
            "-5",
        ),
        (
            {"budget": {"sources": {"c": {"amount": {2016: -5}}}}},
            "budget.sources.c.amount.2016",
            "out of range",
            ">= 0",
            "-5",
        ),
        (
            {"pathways": {"relocation": {"capacity": "many"}}},
            "pathways.relocation.capacity",
            "wrong type",
            "a number or a mapping {year: value}",
            "'many'",
        ),
        (
            {"lines": {"poverty": {"soon": 1}}},
            "lines.poverty.soon",
            "bad key",
            "an integer as key",
            "'soon'",
        ),
        (
            {"pathways": {"dibao": {"priority": "richest"}}},
            "pathways.dibao.priority",
            "not an allowed choice",
            "one of 'poorest_first', 'random' or 'registered_first'",
            "'richest'",
        ),
        (
            {"exits": {"household": {"require": ["food_clothing", "cars"]}}},
            "exits.household.require.1",
            "not an allowed choice",
            None,
            "'cars'",
        ),
    ],
)
def test_error_words(data: dict, key: str, message: str, expected: str | None, found: str) -> None:
    with pytest.raises(ScenarioErrors) as info:
        build_scenario(data, file="x.yaml")
    (err,) = info.value.errors
    assert (err.key, err.message, err.found) == (key, message, found)
    if expected is not None:
        assert err.expected == expected
    assert err.file == "x.yaml" and err.line is None


def test_number_key_in_a_section_is_an_unknown_key() -> None:
    with pytest.raises(ScenarioErrors) as info:
        build_scenario({"calendar": {2016: 1}})
    err = info.value.errors[0]
    assert (err.key, err.message, err.expected) == (
        "calendar.2016",
        "unknown key 2016",
        "one of: start_year, end_year",
    )


def test_validator_messages_and_top_level_prefix(write: Writer) -> None:
    path = write(
        "lines.yaml",
        """
        lines:
          poverty:
            2014: 2800
            2031: 6000
        """,
    )
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path)
    err = info.value.errors[0]
    assert err.key == "lines.poverty"
    assert err.line == 2
    assert err.message == "year 2031 is outside the calendar (2014-2020)"

    with pytest.raises(ScenarioErrors) as info:
        build_scenario({"lines": {"dibao": {2014: 2300, 2016: 2200}}})
    err = info.value.errors[0]
    assert (err.key, err.message) == (
        "lines.dibao",
        "a line must not fall: 2300 in 2014 then 2200 in 2016",
    )

    with pytest.raises(ScenarioErrors) as info:
        build_scenario({"shocks": {"disasters": {"events": [{"year": 2017}, {"year": 2009}]}}})
    err = info.value.errors[0]
    assert (err.key, err.message, err.found) == (
        "shocks.disasters.events.1.year",
        "2009 is outside the calendar (2015-2020)",
        "2009",
    )


def test_unknown_names_point_at_the_offending_entry(write: Writer) -> None:
    path = write(
        "names.yaml",
        """
        exits:
          village:
            require_services:
              - road
              - pool
        """,
    )
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path)
    err = info.value.errors[0]
    assert (err.key, err.line, err.found) == ("exits.village.require_services.1", 5, "'pool'")
    assert err.message.startswith("unknown service 'pool'; known: road, water")

    with pytest.raises(ScenarioErrors) as info:
        build_scenario({"pathways": {"schooling": {}}})
    err = info.value.errors[0]
    assert err.key == "pathways.schooling"
    assert err.message.startswith("unknown pathway 'schooling'; known pathways: ")
    listed = err.message.split("known pathways: ", 1)[1].split(", ")
    assert listed == sorted(listed) and {"dibao", "medical", "production"} <= set(listed)


def test_found_is_truncated() -> None:
    with pytest.raises(ScenarioErrors) as info:
        build_scenario({"population": {"scale": "x" * 500}})
    found = info.value.errors[0].found
    assert found is not None and len(found) <= 60 and "..." in found


def test_build_scenario_needs_a_mapping() -> None:
    with pytest.raises(ScenarioError, match="expected a mapping at the top level"):
        build_scenario([1, 2])  # type: ignore[arg-type]


class TourismSettings(PathwayConfig):
    """A user pathway's settings, for the registry tests."""

    visitors: float = 1.0


@pytest.fixture
def tourism() -> object:
    register_pathway("tourism", TourismSettings, object, replace=True)
    yield TourismSettings
    unregister("pathway", "tourism")


def test_user_pathway_errors_are_located(write: Writer, tourism: object) -> None:
    path = write(
        "tourism.yaml",
        """
        pathways:
          tourism:
            visitors: 5
            vistors: 6
        """,
    )
    with pytest.raises(ScenarioErrors) as info:
        load_scenario(path)
    err = info.value.errors[0]
    assert (err.key, err.line) == ("pathways.tourism.vistors", 4)
    assert err.message == "unknown key 'vistors' (did you mean 'visitors'?)"
    assert err.expected is not None and "visitors" in err.expected
    scenario = load_scenario(
        {"pathways": {"tourism": {"visitors": 5}}}, {"pathways.tourism.capacity.2016": 10}
    )
    settings = scenario.pathways.all()["tourism"]
    assert settings.visitors == 5 and settings.capacity == {2016: 10}


# --------------------------------------------------------------------------------------------
# load_scenario entry points, hashing
# --------------------------------------------------------------------------------------------


def test_load_scenario_from_dict_does_not_touch_input() -> None:
    data = {"budget": {"scale": 0.5}}
    scenario = load_scenario(data, {"budget.scale": 0.6, "lines.poverty.2017": 3300})
    assert scenario.budget.scale == 0.6
    assert data == {"budget": {"scale": 0.5}}
    with pytest.raises(ScenarioErrors) as info:
        load_scenario({"budjet": {}})
    assert str(info.value).startswith("budjet: unknown key 'budjet' (did you mean 'budget'?)")


def test_load_scenario_from_dict_with_extends(
    write: Writer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write("base.yaml", "seed: 5\n")
    monkeypatch.chdir(tmp_path)
    assert load_scenario({"extends": "base.yaml", "name": "d"}).seed == 5


def test_scenario_from_yaml_string() -> None:
    scenario = scenario_from_yaml_string("name: s\nbudget: {scale: 0.3}\n", overrides={"seed": 9})
    assert (scenario.name, scenario.budget.scale, scenario.seed) == ("s", 0.3, 9)
    with pytest.raises(ScenarioErrors, match=r"^inline:2: budget\.scale: out of range"):
        scenario_from_yaml_string("name: s\nbudget: {scale: -1}\n", name="inline")


def test_default_scenario_loads_from_empty_mapping() -> None:
    assert load_scenario({}) == Scenario()


def test_sha256_stable_and_sensitive() -> None:
    a, b = Scenario(), Scenario()
    assert a.sha256() == b.sha256()
    assert len(a.sha256()) == 64
    assert load_scenario({}).sha256() == a.sha256()
    assert a.with_overrides({"budget.scale": 0.9}).sha256() != a.sha256()
    assert a.with_overrides({"lines.poverty.2017": 3186}).sha256() != a.sha256()
    assert a.with_overrides({"budget.scale": 1.0}).sha256() == a.sha256()


def _message(call: Callable[[], object]) -> str:
    try:
        call()
    except ScenarioError as err:
        return str(err)
    raise AssertionError("no ScenarioError raised")


def test_extends_chain_length_is_limited(write: Writer) -> None:
    write("f0.yaml", "seed: 1\n")
    for i in range(1, 40):
        write(f"f{i}.yaml", f"extends: f{i - 1}.yaml\n")
    assert load_scenario(write("ok.yaml", "extends: f20.yaml\n")).seed == 1
    with pytest.raises(ScenarioError, match="extends: chain is longer than 32 files"):
        load_scenario(write("long.yaml", "extends: f39.yaml\n"))


def test_event_fast_path_builds_what_the_node_graph_builds():
    """The event-based reader (plain mappings) gives the node-graph path's values and lines;
    anchors, merge keys and duplicates take the node-graph path, which words their errors."""
    from pathlib import Path

    from povsim.scenario import safe_yaml as sy

    texts = [p.read_text(encoding="utf-8")
             for p in sorted((Path(__file__).parents[2] / "scenarios").glob("*.yaml"))]
    texts.append("a:\n  b: [1, 2.5, 1e9, x, null, true]\n  c:\n    - {d: 2015-01-01}\n    - e\n")
    for text in texts:
        fast = sy._parse_events(text, "f.yaml")
        assert fast is not None
        loader = sy._Loader(text)
        root = loader.get_single_node()
        builder = sy._Builder(loader, "f.yaml")
        assert fast[0] == builder.build(root)
        assert list(fast[1].items()) == list(builder.locations.items())
    for text in ("a: &x {b: 1}\nc: *x\n", "a: {<<: {b: 1}}\n", "a: 1\na: 2\n", "- 1\n",
                 "a: !!python/name:os.system x\n", "a: 1\n---\nb: 2\n", "a: [1\n"):
        assert sy._parse_events(text, "f.yaml") is None


def test_extends_a_file_shipped_with_povsim(tmp_path) -> None:
    """``povsim:scenarios/NAME`` and ``povsim:calibration/NAME`` name the shipped data, from
    any directory (the repository's folders, or the installed packages)."""
    f = tmp_path / "mine.yaml"
    f.write_text("extends: povsim:scenarios/baseline.yaml\nname: mine\n")
    mine = load_scenario(f)
    base = load_scenario(Path(__file__).resolve().parents[2] / "scenarios" / "baseline.yaml")
    assert mine.model_dump(exclude={"name"}) == base.model_dump(exclude={"name"})
    for bad, found in (("povsim:data/x.yaml", "povsim:data/x.yaml"),
                       ("povsim:calibration/../x.yaml", "povsim:calibration/../x.yaml")):
        f.write_text(f"extends: {bad}\n")
        with pytest.raises(ScenarioError) as info:
            load_scenario(f)
        msg = str(info.value)
        assert "unknown shipped file" in msg and "extends" in msg and found in msg, msg
    f.write_text("extends: povsim:calibration/nothing_here.yaml\n")
    with pytest.raises(ScenarioError, match="file not found"):
        load_scenario(f)
