"""The progress bar class: tqdm's notebook widget where it can be drawn, else the text bar.

``tqdm.auto`` picks the notebook widget in any Jupyter kernel and, when ipywidgets is not
installed, warns "IProgress not found" at import time — in the first cell of every notebook,
even when no bar is shown. :func:`tqdm_class` asks for the widget only when ipywidgets is
importable (``pip install -e ".[notebooks]"`` installs it) and uses the plain text bar
otherwise.
"""

from __future__ import annotations

import sys
from typing import Any

__all__ = ["tqdm_class"]


def tqdm_class() -> Any:
    """The ``tqdm`` class to use here (``tqdm.auto.tqdm`` in Jupyter with ipywidgets, else
    ``tqdm.std.tqdm``)."""
    if "ipykernel" in sys.modules or "ipykernel.zmqshell" in sys.modules:
        try:
            import ipywidgets  # noqa: F401 - the notebook bar draws with it
        except ImportError:
            pass
        else:
            from tqdm.auto import tqdm

            return tqdm
    from tqdm.std import tqdm

    return tqdm
