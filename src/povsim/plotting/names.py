"""Readable names on figures: regions, counties (pinyin), pathways, sources, targets and keys.

Every label is English, with pinyin place names: county names come from the ``name_pinyin``
column of ``calibration/counties.csv`` (sourced there, row by row). Chinese names are added only
when matplotlib has a font that covers every character to draw (:func:`cjk_font`), so a figure
never shows empty boxes.
"""

from __future__ import annotations

import csv
import importlib.resources
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

__all__ = [
    "cjk_font",
    "county_labels",
    "font_covers",
    "key_label",
    "pathway_label",
    "region_label",
    "source_label",
    "target_label",
]

#: region identifiers -> (English display name, Chinese name). Source: docs/domain.md §2 and seed (二)
#: 四大片区: 秦巴山区 Qinba mountains, 乌蒙山区 Wumeng mountains, 大小凉山彝区 Greater/Lesser
#: Liangshan Yi areas, 高原藏区 plateau Tibetan areas; the rest of the province has no Chinese
#: name in the sources (assumption: none is drawn).
REGION_NAMES: dict[str, tuple[str, str]] = {
    "qinba": ("Qinba mountains", "秦巴山区"),
    "wumeng": ("Wumeng mountains", "乌蒙山区"),
    "liangshan_yi": ("Liangshan Yi area", "大小凉山彝区"),
    "tibetan_plateau": ("Tibetan plateau", "高原藏区"),
    "rest_of_province": ("Rest of the province", ""),
}

#: pathway and attribution identifiers -> display names (docs/domain.md §3, the five pathways of seed
#: (五)-(九), the sectoral programmes (十)-(十八), and the attribution labels of
#: povsim.ensembles.runs)
PATHWAY_NAMES: dict[str, str] = {
    "production": "Production & jobs",
    "relocation": "Relocation",
    "dibao": "Dibao safety net",
    "medical": "Medical aid",
    "reconstruction": "Disaster reconstruction",
    "housing_renovation": "Housing renovation",
    "task_forces": "Village task forces",
    "township_services": "Schools and township services",
    "ecological": "Ecological jobs & compensation",
    "asset_income": "Asset income",
    "services": "Village services",
    "no_pathway": "No pathway (market income)",
    "review": "Removed by register review",
    "quota": "Exit quota (income test not met)",
}

#: short names of the targets of docs/domain.md §1 (seed (三))
TARGET_NAMES: dict[str, str] = {
    "registered_poor": "All registered poor out",
    "pace": "Pace ~1 M a year",
    "villages": "All poor villages exit",
    "counties": "All poor counties exit",
    "income": "Poor-county income 2x 2010",
    "services": "Village services",
}

#: dotted scenario keys often swept -> axis labels (units from the schema)
KEY_NAMES: dict[str, str] = {
    "budget.scale": "budget (x the scenario's money)",
    "lines.merge.year": "year the dibao and poverty lines merge",
    "population.scale": "population scale (1 simulated household in K)",
}


def _humanize(name: str) -> str:
    text = str(name).replace("_", " ").replace(".", " ").strip()
    return text[:1].upper() + text[1:] if text else text


def region_label(region: str, chinese: bool | None = None) -> str:
    """Display name of a region (``"Liangshan Yi area"``; with its Chinese name if drawable).

    Parameters
    ----------
    region
        Region identifier as in the results (``"liangshan_yi"``).
    chinese
        Add the Chinese name: ``True``/``False``, or ``None`` (default) for "when a CJK font
        covering it is available".

    Returns
    -------
    str
        The English name (unknown identifiers humanised: ``"my_region"`` -> ``"My region"``),
        followed by the Chinese name when it is added.
    """
    en, zh = REGION_NAMES.get(str(region), (_humanize(region), ""))
    if zh and (chinese is True or (chinese is None and cjk_font(zh) is not None)):
        return f"{en} {zh}"
    return en


def pathway_label(name: str) -> str:
    """Display name of a pathway or attribution label.

    Parameters
    ----------
    name
        Pathway or attribution identifier as in the results (``"housing_renovation"``,
        ``"no_pathway"``).

    Returns
    -------
    str
        The English display name (``"Housing renovation"``); a study's own pathway is
        humanised from its identifier.
    """
    return PATHWAY_NAMES.get(str(name), _humanize(name))


def source_label(name: str) -> str:
    """Display name of a budget source (``"special_poverty_funds"`` -> ``"Special poverty funds"``)."""
    return _humanize(name)


def target_label(name: str) -> str:
    """Short display name of a target."""
    return TARGET_NAMES.get(str(name), _humanize(name))


def key_label(key: str) -> str:
    """Axis label of a swept key, dotted (``budget.scale``) or as a Dataset identifier
    (``budget_scale``)."""
    key = str(key)
    if key in KEY_NAMES:
        return KEY_NAMES[key]
    for dotted, label in KEY_NAMES.items():
        if key == dotted.replace(".", "_"):
            return label
    return key


# ---------------------------------------------------------------------------------------------
# counties
# ---------------------------------------------------------------------------------------------
def _counties_csv() -> Path:
    return Path(str(importlib.resources.files("povsim.calibration_data") / "counties.csv"))


@lru_cache(maxsize=4)
def _pinyin_table(path: str) -> dict[str, str]:
    try:
        with open(path, encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return {}
    return {r["county"]: r.get("name_pinyin") or "" for r in rows if r.get("county")}


def county_pinyin(name: str) -> str:
    """Pinyin name of a county (``"南部县"`` -> ``"Nanbu County"``; see calibration/counties.csv).

    Parameters
    ----------
    name
        County name as in the results' ``county`` coordinate (the Chinese official name, or an
        ASCII placeholder such as ``"other-73"``).

    Returns
    -------
    str
        The ``name_pinyin`` column of calibration/counties.csv. A county missing from the table
        keeps its name when that is ASCII; otherwise it is shown as
        ``"(county not in counties.csv)"``, never as Chinese characters that may not be drawable.
    """
    table = _pinyin_table(str(_counties_csv()))
    got = table.get(str(name))
    if got:
        return got
    return str(name) if str(name).isascii() else "(county not in counties.csv)"


def county_labels(names: Iterable[str], chinese: bool | None = None) -> list[str]:
    """Pinyin labels of counties, with the Chinese name added when a CJK font covers them all.

    Parameters
    ----------
    names
        County names as in the results' ``county`` coordinate.
    chinese
        Add the Chinese names: ``True``/``False``, or ``None`` (default) for "when one
        installed font covers all of them".

    Returns
    -------
    list of str
        One label per name, in order (:func:`county_pinyin`, then the Chinese name if added).
    """
    names = [str(n) for n in names]
    pin = [county_pinyin(n) for n in names]
    han = [n for n in names if not n.isascii()]
    use = chinese is True or (chinese is None and bool(han) and cjk_font("".join(han)) is not None)
    if not use:
        return pin
    return [f"{p} {n}" if not n.isascii() else p for p, n in zip(pin, names)]


# ---------------------------------------------------------------------------------------------
# fonts
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=256)
def _charmap(path: str) -> frozenset[int]:
    from matplotlib import ft2font

    try:
        return frozenset(ft2font.FT2Font(path).get_charmap())
    except Exception:  # noqa: BLE001 - an unreadable font file covers nothing
        return frozenset()


def font_covers(path: str | Path, text: str) -> bool:
    """Whether the font file at ``path`` has a glyph for every non-space character of ``text``."""
    cmap = _charmap(str(path))
    return all(ord(ch) in cmap for ch in text if not ch.isspace())


@lru_cache(maxsize=64)
def cjk_font(text: str = "四川省县区市") -> str | None:
    """Family name of an installed font that covers every character of ``text``, or ``None``.

    Only fonts matplotlib knows (:data:`matplotlib.font_manager.fontManager`) are considered;
    fonts declaring Chinese coverage by name (Noto/Source Han CJK, WenQuanYi, ...) come first.

    Parameters
    ----------
    text
        The characters the font must draw (default: a sample of Sichuan place-name characters).

    Returns
    -------
    str or None
        A font family name matplotlib accepts, or ``None`` when no installed font has a glyph
        for every character (labels then stay in pinyin, never empty boxes).
    """
    from matplotlib import font_manager

    if not text.strip():
        return None
    entries = list(font_manager.fontManager.ttflist)
    hints = ("cjk", "han", "wenquanyi", "wqy", "hei", "song", "ming", "kai", "fang", "droid")
    entries.sort(key=lambda e: not any(h in e.name.lower() for h in hints))
    seen: set[str] = set()
    for e in entries:
        # "Last Resort" fonts map every code point to a placeholder box: never a real glyph
        if "last resort" in e.name.lower() or e.fname in seen:
            continue
        seen.add(e.fname)
        if font_covers(e.fname, text):
            return str(e.name)
    # matplotlib's font cache may predate a font installed since (e.g. with the browser):
    # look at the system's fonts too and register the first one that covers the text
    try:
        system = sorted(font_manager.findSystemFonts())
    except Exception:  # noqa: BLE001 - no font listing on this system
        system = []
    for path in system:
        if path in seen or "lastresort" in path.lower().replace(" ", ""):
            continue
        if font_covers(path, text):
            try:
                font_manager.fontManager.addfont(path)
                return str(font_manager.FontProperties(fname=path).get_name())
            except Exception:  # noqa: BLE001, S112 - a font matplotlib cannot use is skipped
                continue
    return None
