"""The documentation stays true: its code examples run and its generated parts are current.

- ``docs/extending.md``: the worked example (its ```python block) is executed as written, from
  the repository root, and the registrations it makes are removed afterwards so that other tests
  see an unchanged registry.
- ``docs/results.md``: its ```python blocks run, and every variable a baseline run produces is
  listed in it.
- ``docs/parameters.md``: regenerated in memory by ``docs/make_parameters.py`` and compared with
  the file (run ``python docs/make_parameters.py`` after changing the schema).
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

import povsim
from povsim import registry

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
FENCE = re.compile(r"^```python[ \t]*\n(.*?)^```[ \t]*$", re.DOTALL | re.MULTILINE)


def python_blocks(page: Path) -> list[str]:
    """The ```python fenced blocks of a Markdown page, in order."""
    return FENCE.findall(page.read_text(encoding="utf-8"))


def load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_parameters", DOCS / "make_parameters.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_validation() -> ModuleType:
    """``docs/make_validation.py`` (docs/ is not a package)."""
    import sys

    spec = importlib.util.spec_from_file_location("make_validation", DOCS / "make_validation.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_validation"] = module  # its dataclass looks its module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules["make_validation"]
    return module


def test_validation_page_shows_the_calibration_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The validation page's calibration section: the residual of every target of the pilot
    posterior (tests/data/calibration_pilot) with the fit figure; without a posterior it says
    plainly that none is shipped."""
    import base64

    import numpy as np
    import pandas as pd

    import povsim.calibration.fit as fit
    from povsim.calibration.targets import load_targets

    import povsim.calibration.report as creport

    pilot = Path(__file__).resolve().parent / "data" / "calibration_pilot" / "posterior.csv"
    page = load_validation()
    # a one-panel figure: the fit figure itself is drawn by the report's tests
    # (tests/test_report.py); here only its way onto the page counts
    real = creport.fit_figure
    monkeypatch.setattr(creport, "fit_figure", lambda rows: real(rows[:1]))
    text = page.calibration_section(pilot)
    assert text.startswith("## The calibration's fit")
    assert "**Residual / tolerance** is (posterior median − observed) / tolerance" in text
    assert "40 particles in the last of\n4 generations, final epsilon 33.25" in text
    table = pd.read_csv(pilot)
    final = table[table["generation"] == table["generation"].max()]
    for t in load_targets(DOCS.parent / "calibration" / "targets.yaml").targets:
        name = re.escape(t.name.replace("_", "_<wbr>"))
        row = re.search(rf"^\| {name}( \(check\))? \|.*$", text, re.MULTILINE)
        assert row, t.name
        if f"sim:{t.name}" not in table:
            assert "not in this posterior" in row.group(0)
            continue
        v = final[f"sim:{t.name}"].to_numpy(float)
        order = np.argsort(v)
        w = final["weight"].to_numpy(float)[order]
        median = np.interp(0.5, (np.cumsum(w) - w / 2) / w.sum(), v[order])
        shown = re.search(r"\*\*([-\d.,]+)\*\*", row.group(0)).group(1)
        assert float(shown.replace(",", "")) == pytest.approx(median, rel=5e-3, abs=1), t.name
        z = (median - t.observed) / t.tolerance
        assert f"| {z:+.2f} |" in row.group(0), t.name
    png = re.search(r"\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)$", text, re.MULTILINE)
    assert png and base64.b64decode(png.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setattr(fit, "shipped_posterior", lambda: None)
    none = page.calibration_section(None)
    assert "No posterior is shipped with this povsim" in none and "|" not in none
    assert page.STATUS_NO_FIT.lstrip().startswith('!!! warning "The baseline is not calibrated"')


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Undo any registration a docs example makes (the registries are process-wide)."""
    # the built-in components register when their packages are first imported: import them
    # first, or restoring the snapshot would unregister them for every later test
    import povsim.pathways
    import povsim.shocks  # noqa: F401

    before = {
        "pathway": dict(registry.PATHWAYS),
        "shock": dict(registry.SHOCKS),
        "output": dict(registry.OUTPUTS),
    }
    try:
        yield
    finally:
        for table, saved in (
            (registry.PATHWAYS, before["pathway"]),
            (registry.SHOCKS, before["shock"]),
            (registry.OUTPUTS, before["output"]),
        ):
            table.clear()
            table.update(saved)


def run_blocks(page: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    blocks = python_blocks(page)
    assert blocks, f"{page.name} has no ```python block"
    monkeypatch.chdir(ROOT)  # the examples use paths relative to the repository root
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for i, code in enumerate(blocks):
        where = f"{page.relative_to(ROOT)} (python block {i + 1})"
        exec(compile(code, where, "exec"), namespace)  # noqa: S102 - running the docs is the test
    return namespace


def test_extending_example_runs(monkeypatch: pytest.MonkeyPatch, clean_registry: None) -> None:
    page = DOCS / "extending.md"
    assert len(python_blocks(page)) == 1, "extending.md should hold exactly one python block"
    ns = run_blocks(page, monkeypatch)
    ds = ns["ds"]
    assert "eco_ranger" in ds["pathway"].values
    assert "eco_rangers" in ds
    assert "eco_ranger" in registry.PATHWAYS and "wage_slump" in registry.SHOCKS


def test_extending_example_leaves_registry_clean() -> None:
    # runs after the example (file order): the fixture must have removed its registrations
    assert "eco_ranger" not in registry.PATHWAYS
    assert "wage_slump" not in registry.SHOCKS
    assert "eco_rangers" not in registry.OUTPUTS


def test_results_snippets_run(monkeypatch: pytest.MonkeyPatch, clean_registry: None) -> None:
    run_blocks(DOCS / "results.md", monkeypatch)


def test_results_lists_every_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    ds = povsim.run("scenarios/baseline.yaml", seed=7, scale=2000)
    text = (DOCS / "results.md").read_text(encoding="utf-8")
    missing = [name for name in ds.data_vars if f"`{name}`" not in text]
    assert not missing, (
        f"docs/results.md does not describe these result variables: {', '.join(missing)}"
    )


def test_parameters_page_is_current() -> None:
    generator = load_generator()
    expected = generator.render()
    current = (DOCS / "parameters.md").read_text(encoding="utf-8")
    assert current == expected, (
        "docs/parameters.md is out of date with the scenario schema; "
        "run: python docs/make_parameters.py"
    )


def test_parameters_page_lists_every_leaf_parameter() -> None:
    from povsim.scenario import Scenario, iter_parameters

    text = (DOCS / "parameters.md").read_text(encoding="utf-8")
    generator = load_generator()
    for key, value, _ in iter_parameters(Scenario()):
        if not generator.is_container(value):
            assert f"`{key}`" in text, f"{key} missing from docs/parameters.md"


# ---------------------------------------------------------------------------------------------
# numpydoc sections on the public API
# ---------------------------------------------------------------------------------------------
#: the modules whose public callables (their ``__all__``, and the names ``povsim`` exports from
#: them) must carry numpydoc sections; extend the list as modules are brought up to it
NUMPYDOC_MODULES = (
    "povsim.calibration",
    "povsim.commands",
    "povsim.components",
    "povsim.ensembles",
    "povsim.library",
    "povsim.outputs",
    "povsim.plotting",
    "povsim.provenance",
    "povsim.registry",
    "povsim.report",
    "povsim.results",
    "povsim.scenario",
    "povsim.summary",
    "povsim.testing",
)


def _section(doc: str, *names: str) -> str | None:
    """The body of the first numpydoc section called one of ``names`` (``None``: none)."""
    heading = re.compile(rf"^({'|'.join(names)})\n-{{3,}}[ \t]*$", re.MULTILINE)
    m = heading.search(doc)
    if m is None:
        return None
    rest = doc[m.end():]
    nxt = re.search(r"^\S[^\n]*\n-{3,}[ \t]*$", rest, re.MULTILINE)
    return rest[: nxt.start()] if nxt else rest


def numpydoc_problems(obj: object) -> list[str]:
    """What ``obj``'s docstring lacks: a summary line; a Parameters section naming every
    parameter (Attributes for a class's fields also counts); Returns (or Yields) when it
    returns something."""
    import inspect
    import typing

    doc = inspect.getdoc(obj) or ""
    if not doc.strip() or not doc.splitlines()[0].strip():
        return ["no summary line"]
    problems = []
    is_class = inspect.isclass(obj)
    try:
        sig = inspect.signature(obj)
    except (TypeError, ValueError):
        sig = None
    params = [p for n, p in (sig.parameters.items() if sig else []) if n not in ("self", "cls")]
    if is_class and "__init__" in vars(obj):
        doc = doc + "\n" + (inspect.getdoc(vars(obj)["__init__"]) or "")
    if params:
        body = _section(doc, "Parameters", "Attributes") if is_class else \
            _section(doc, "Parameters")
        if body is None:
            problems.append("no Parameters section")
        else:
            documented = set(re.findall(r"^\*{0,2}(\w+)", body, re.MULTILINE))
            for line in re.findall(r"^(\w[\w, *]*)$", body, re.MULTILINE):  # "a, b, c" lines
                documented |= {w.strip(" *") for w in line.split(",")}
            missing = [p.name for p in params if p.name not in documented]
            if missing:
                problems.append(f"parameters not documented: {', '.join(missing)}")
    if not is_class and sig is not None:
        try:
            ret = typing.get_type_hints(obj).get("return", sig.return_annotation)
        except Exception:  # noqa: BLE001 - an annotation that cannot be resolved here
            ret = sig.return_annotation
        if ret not in (None, type(None), "None", inspect.Signature.empty) and \
                _section(doc, "Returns", "Yields") is None:
            problems.append("no Returns section")
    return problems


def _public_callables() -> Iterator[tuple[str, object]]:
    import importlib
    import inspect

    seen: set[int] = set()
    for modname in ("povsim", *NUMPYDOC_MODULES):
        module = importlib.import_module(modname)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            home = getattr(obj, "__module__", "") or ""
            if not callable(obj) or inspect.ismodule(obj) or id(obj) in seen:
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            if not any(home == m or home.startswith(m + ".") for m in NUMPYDOC_MODULES):
                continue
            seen.add(id(obj))
            yield f"{modname}.{name}", obj


def test_public_api_has_numpydoc_sections() -> None:
    items = list(_public_callables())
    assert len(items) > 80, "the walk found too few public callables"
    bad = {name: probs for name, obj in items if (probs := numpydoc_problems(obj))}
    assert not bad, "docstrings lacking numpydoc sections:\n" + "\n".join(
        f"  {k}: {'; '.join(v)}" for k, v in sorted(bad.items()))


def test_numpydoc_check_finds_what_is_missing() -> None:
    def bare(x: int, y: int) -> int:
        """Add."""
        return x + y

    def partial(x: int, y: int) -> int:
        """Add.

        Parameters
        ----------
        x
            One.
        """
        return x + y

    def grouped(x: int, y: int) -> None:
        """Add.

        Parameters
        ----------
        x, y
            Two numbers.
        """

    assert numpydoc_problems(bare) == ["no Parameters section", "no Returns section"]
    assert numpydoc_problems(partial) == ["parameters not documented: y", "no Returns section"]
    assert numpydoc_problems(grouped) == []
    assert numpydoc_problems(lambda: None) == ["no summary line"]
