"""Every file of ``tests/broken_scenarios/`` must be refused with a clear one-line message.

Each case file starts with ``# error: <fragment>``; loading it must raise a
:class:`~povsim.errors.ScenarioError` whose text contains the fragment and the file name.
Helper files that the cases extend live in ``tests/broken_scenarios/_parts/`` and are not cases.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from povsim.errors import PovsimError, ScenarioError, ScenarioErrors
from povsim.scenario import load_scenario

CORPUS = Path(__file__).resolve().parent.parent / "broken_scenarios"
CASES = sorted(CORPUS.glob("*.yaml"))


def expected_fragment(path: Path) -> str:
    """The fragment after ``# error:`` on the first line of a case file."""
    first = path.read_bytes().split(b"\n", 1)[0].decode("ascii")
    assert first.startswith("# error: "), f"{path.name} must start with '# error: <fragment>'"
    return first[len("# error: ") :].strip()


def test_corpus_is_large_enough() -> None:
    assert len(CASES) >= 25
    assert all(not p.name.startswith("_") for p in CASES)


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_broken_scenario_is_refused(
    path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    fragment = expected_fragment(path)
    monkeypatch.chdir(CORPUS)
    start = time.perf_counter()
    with pytest.raises(ScenarioError) as info:
        load_scenario(path.name)
    elapsed = time.perf_counter() - start
    err = info.value
    text = str(err)
    assert fragment in text
    assert path.name in text
    assert isinstance(err, PovsimError)
    assert "Traceback" not in err.format()
    assert "\n" not in err.format() or isinstance(err, ScenarioErrors)
    if isinstance(err, ScenarioErrors):
        assert err.errors and all("Traceback" not in e.format() for e in err.errors)
    assert elapsed < 2.0, f"{path.name} took {elapsed:.2f} s to refuse"
    out, _ = capfd.readouterr()
    assert "executed" not in out
