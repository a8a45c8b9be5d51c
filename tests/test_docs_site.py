"""The documentation site builds with warnings as errors, and its metadata files are valid.

``mkdocs build --strict`` (configured in ``mkdocs.yml``) fails on any warning: a broken link or
anchor, a page missing from the navigation, a docstring mkdocstrings cannot parse. The build also
regenerates the scenario-key reference and reruns the validation table (``docs/gen_pages.py``),
so a schema change or a broken validation script fails here too. The doc packages come with the
``test`` extra (and the ``docs`` extra for writers), so CI has them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = Path(__file__).resolve().parent / "data" / "cff-1.2.0.schema.json"

DOC_PACKAGES = (
    "mkdocs",
    "material",
    "mkdocstrings_handlers.python",
    "mkdocs_jupyter",
    "mkdocs_gen_files",
)


def _require_doc_packages() -> None:
    """Skip without the doc packages, except under CI, which installs them (the test extra)."""
    import importlib

    missing = []
    for name in DOC_PACKAGES:
        try:
            importlib.import_module(name)
        except ImportError:
            missing.append(name)
    if not missing:
        return
    msg = f"doc packages missing: {', '.join(missing)} (pip install -e '.[docs]')"
    if os.environ.get("CI") == "true":
        pytest.fail(msg + " - CI installs the test extra, which includes them", pytrace=False)
    pytest.skip(msg, allow_module_level=True)


_require_doc_packages()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1", DISABLE_MKDOCS_2_WARNING="true")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        log = "\n".join(
            line
            for line in (proc.stdout + proc.stderr).splitlines()
            if "WARNING" in line or "ERROR" in line or "Error" in line
        )
        pytest.fail(f"mkdocs build --strict failed:\n{log or proc.stderr[-4000:]}", pytrace=False)
    return out


def test_site_builds_strict_and_has_every_page(site: Path) -> None:
    nav_pages = re.findall(
        r":\s*([\w/.-]+\.(?:md|ipynb))\s*$",
        (ROOT / "mkdocs.yml").read_text(encoding="utf-8"),
        re.MULTILINE,
    )
    assert len(nav_pages) > 20
    for page in nav_pages:
        html = site / re.sub(r"\.(md|ipynb)$", ".html", page)
        assert html.is_file(), f"{page} listed in the navigation but not built"


def test_api_reference_renders_docstrings(site: Path) -> None:
    html = (site / "api" / "povsim.html").read_text(encoding="utf-8")
    assert "Run one scenario end to end" in html  # povsim.run's docstring
    model = (site / "api" / "model.html").read_text(encoding="utf-8")
    assert "PovertyModel" in model and "Parameters" in model
    ens = (site / "api" / "ensembles.html").read_text(encoding="utf-8")
    for name in ("compare", "sweep", "frontier", "attribution"):
        assert f'id="povsim.ensembles.{name}.{name}"' in ens, name


def test_notebooks_are_rendered_without_execution(site: Path) -> None:
    for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
        html = (site / "notebooks" / nb.with_suffix(".html").name).read_text(encoding="utf-8")
        first_code = next(
            "".join(c["source"])
            for c in json.loads(nb.read_text(encoding="utf-8"))["cells"]
            if c["cell_type"] == "code"
        )
        token = re.findall(r"[A-Za-z_]{6,}", first_code)[0]
        assert token in html, f"{nb.name}: code not rendered"


def test_generated_pages_come_from_the_code(site: Path) -> None:
    params = (site / "parameters.html").read_text(encoding="utf-8")
    assert "pathways.dibao.priority" in params
    validation = (site / "validation.html").read_text(encoding="utf-8")
    # the observed 2016 year-end stock, and a model value computed by the build
    assert "2.72 M" in validation and "registered poor at year end" in validation
    assert re.search(r"<strong>\d\.\d\d M</strong>", validation)
    # the calibration's fit from the shipped posterior, or a plain word that there is none
    assert 'id="the-calibrations-fit"' in validation
    from povsim.calibration.fit import shipped_posterior

    if shipped_posterior() is None:
        assert "No posterior is shipped with this povsim" in validation
    else:
        assert "Residual / tolerance" in validation
        assert re.search(r'<img alt="The posterior band[^"]*" src="data:image/png;base64,',
                         validation)


def test_no_link_outside_the_repository() -> None:
    """Users do not have the project's shared folder: nothing may point there."""
    files = [
        ROOT / "README.md",
        ROOT / "CHANGELOG.md",
        *(ROOT / "docs").rglob("*.md"),
        *(ROOT / "notebooks").glob("*.ipynb"),
        *(ROOT / "src").rglob("*.py"),
    ]
    bad = [
        str(p.relative_to(ROOT))
        for p in files
        if re.search(r"/work/|\bMODEL\.md\b", p.read_text(encoding="utf-8"))
    ]
    assert not bad, f"references to paths outside the repository in: {bad}"


def test_citation_cff_is_valid_cff_1_2() -> None:
    jsonschema = pytest.importorskip("jsonschema")
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text(encoding="utf-8"))
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(cff, schema)  # raises ValidationError naming the offending key
    assert cff["cff-version"] == "1.2.0"
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    assert str(cff["version"]) == version, "CITATION.cff version differs from pyproject.toml"
    assert cff["license"] == "MIT"


def test_changelog_names_the_current_version() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', pyproject, re.MULTILINE).group(1)
    assert f"## [{version}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
