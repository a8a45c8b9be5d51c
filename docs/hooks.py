"""MkDocs hook: link the Sphinx-style roles of povsim's docstrings.

povsim's docstrings follow numpydoc, whose cross-references are reST roles
(:func:`povsim.run`, :class:`~povsim.scenario.Scenario`). mkdocstrings renders docstrings as
Markdown, where a role would show as ``:func:povsim.run``. This hook turns each role into an
optional cross-reference of mkdocs-autorefs: a link where the target is documented on the site,
plain code otherwise (a role naming something outside povsim, e.g. ``xarray.Dataset``).
A leading ``~`` shows only the last name, as in Sphinx.
"""

from __future__ import annotations

import importlib
import re
from functools import cache
from html import escape
from typing import Any

ROLE = re.compile(
    r":(?:py:)?(?:func|meth|class|mod|attr|data|exc|obj|const):<code>(~?)([^<]+)</code>"
)


@cache
def canonical(target: str) -> str:
    """Where ``target`` is defined (``povsim.load_scenario`` → ``povsim.scenario.loader...``).

    Names that cannot be imported (relative names, names of other packages that are not
    installed) are returned unchanged; autorefs then finds them or shows plain code.
    """
    parts = target.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        try:
            for name in parts[i:]:
                obj = getattr(obj, name)
        except AttributeError:
            return target
        module = getattr(obj, "__module__", None)
        qualname = getattr(obj, "__qualname__", None)
        if isinstance(module, str) and isinstance(qualname, str) and "<" not in qualname:
            return f"{module}.{qualname}"
        return target
    return target


def on_page_content(html: str, **kwargs: Any) -> str:
    """Replace every rendered role by an optional autorefs cross-reference."""

    def link(match: re.Match[str]) -> str:
        tilde, target = match.groups()
        shown = target.rsplit(".", 1)[-1] if tilde else target
        ident = canonical(target)
        if not ident.startswith("povsim"):
            return f"<code>{shown}</code>"
        return f'<autoref identifier="{escape(ident)}" optional><code>{shown}</code></autoref>'

    return ROLE.sub(link, html)
