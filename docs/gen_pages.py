"""Pages of the docs site made at build time (run by the mkdocs-gen-files plugin).

Nothing written here is kept in ``docs/``: the plugin puts the files into the build only.

- ``notebooks/*.ipynb``: the tutorial notebooks from the repository's ``notebooks/``, rendered by
  mkdocs-jupyter without executing them (the test suite executes them, tests/test_notebooks.py);
- ``parameters.md``: the scenario-key reference, regenerated from the schema by
  ``docs/make_parameters.py`` so the site can never show a stale table (the committed copy is
  kept current by tests/test_docs.py, for readers of the repository);
- ``validation.md``: the baseline's fit to the sourced 2015-2016 figures, from fresh runs made
  by ``docs/make_validation.py`` during the build;
- ``changelog.md`` and ``citing.md``: CHANGELOG.md and CITATION.cff from the repository root.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parent.parent


def _script(name: str):
    """Import ``docs/<name>.py`` (docs/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


for nb in sorted((ROOT / "notebooks").glob("*.ipynb")):
    with mkdocs_gen_files.open(f"notebooks/{nb.name}", "w", encoding="utf-8") as f:
        f.write(nb.read_text(encoding="utf-8"))
    mkdocs_gen_files.set_edit_path(f"notebooks/{nb.name}", f"../notebooks/{nb.name}")

with mkdocs_gen_files.open("parameters.md", "w", encoding="utf-8") as f:
    f.write(_script("make_parameters").render())

# real runs of the baseline (~20 s at 1:10): the fit shown is the code's, not typed in
with mkdocs_gen_files.open("validation.md", "w", encoding="utf-8") as f:
    f.write(_script("make_validation").render())

changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
with mkdocs_gen_files.open("changelog.md", "w", encoding="utf-8") as f:
    f.write(changelog)

citation = (ROOT / "CITATION.cff").read_text(encoding="utf-8")
with mkdocs_gen_files.open("citing.md", "w", encoding="utf-8") as f:
    f.write(
        "# Cite povsim\n\n"
        "If you use povsim in published work, cite it with the metadata below. The repository "
        "root holds them as `CITATION.cff` ([Citation File Format](https://citation-file-format.github.io/) "
        "1.2.0), which reference managers and `cffconvert` read "
        "(`cffconvert --format bibtex` gives a BibTeX entry).\n\n"
        "Cite the version you ran: every result Dataset records it in its `povsim_version` "
        "attribute, next to the scenario's hash and the seed.\n\n"
        "```yaml\n" + citation + "```\n"
    )
