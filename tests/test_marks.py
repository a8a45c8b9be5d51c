"""``PlanState.served`` / ``waiting``: the households each pathway flagged this year, as rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from povsim.context import Marks


@settings(max_examples=80, deadline=None)
@given(n=st.integers(1, 300), data=st.data())
def test_marks_equal_the_flags_they_replace(n: int, data: st.DataObject) -> None:
    """Any sequence of marks (rows with repeats, or masks) gives the mask that setting flags
    in a boolean array gave, and its rows sorted and each once."""
    marks = Marks(n)
    marks.add("p")
    want = np.zeros(n, dtype=bool)
    for _ in range(data.draw(st.integers(0, 12))):
        if data.draw(st.booleans()):
            which = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=2 * n)),
                             dtype=np.int64)
        else:
            which = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        want[which] = True
        marks.mark("p", which)
    np.testing.assert_array_equal(marks["p"], want)
    np.testing.assert_array_equal(marks.rows("p"), np.flatnonzero(want))
    probe = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=20)), dtype=np.int64)
    np.testing.assert_array_equal(marks.flagged("p", probe), want[probe])


def test_a_mask_read_from_marks_cannot_be_written() -> None:
    """Writing into the mask would be lost (it is made on demand): it is read-only."""
    marks = Marks(10)
    marks.add("p")
    marks.mark("p", np.array([3, 3, 7]))
    with pytest.raises(ValueError, match="read-only"):
        marks["p"][0] = True
    for n in (10, 1000):  # flags kept as a mask, and as rows
        big = Marks(n)
        big.add("p")
        big.mark("p", np.array([3, 3, 7]))
        with pytest.raises(ValueError, match="read-only"):
            big.rows("p")[0] = 1
    assert "p" in marks and "q" not in marks and list(marks) == ["p"] and len(marks) == 1
    assert [k for k, _ in marks.items()] == ["p"]


def test_rows_outside_the_table_are_refused() -> None:
    marks = Marks(5)
    marks.add("p")
    with pytest.raises(IndexError, match="0..4"):
        marks.mark("p", np.array([5]))
    with pytest.raises(IndexError, match="0..4"):
        marks.mark("p", np.array([-1]))


def test_a_pathway_flagging_many_households_keeps_one_flag_each() -> None:
    """Past an eighth of the households, rows give way to a mask (medical aid flags about a
    quarter of them every year, many rows again every month)."""
    n = 800
    marks = Marks(n)
    marks.add("few")
    marks.add("many")
    for month in range(12):
        marks.mark("few", np.array([3, 5]))
        marks.mark("many", np.arange(month, 400, 2))
    assert marks._mask["few"] is None and marks._held["few"] == 24
    assert marks._mask["many"] is not None and not marks._rows["many"]
    np.testing.assert_array_equal(marks.rows("few"), [3, 5])
    np.testing.assert_array_equal(marks.rows("many"), np.arange(0, 400))


def test_few_rows_in_a_large_table_are_merged_by_sorting() -> None:
    """Few rows (under n / 256) are merged by sorting, many through a flag per household:
    both give the rows sorted and each once."""
    for n in (10_000, 20):
        marks = Marks(n)
        marks.add("p")
        marks.mark("p", np.array([5, 3, 3, n - 1]))
        marks.mark("p", np.array([n - 1, 0]))
        np.testing.assert_array_equal(marks.rows("p"), [0, 3, 5, n - 1])
        assert marks.flagged("p", np.array([0, 1, n - 1])).tolist() == [True, False, True]
