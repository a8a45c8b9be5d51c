"""``PlanState.served`` / ``waiting``: the households each pathway flagged this year, as rows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from povsim.context import Marks


@settings(max_examples=60, deadline=None)
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


def test_a_mask_read_from_marks_cannot_be_written() -> None:
    """Writing into the mask would be lost (it is made on demand): it is read-only."""
    marks = Marks(10)
    marks.add("p")
    marks.mark("p", np.array([3, 3, 7]))
    with pytest.raises(ValueError, match="read-only"):
        marks["p"][0] = True
    assert "p" in marks and "q" not in marks and list(marks) == ["p"] and len(marks) == 1
    assert [k for k, _ in marks.items()] == ["p"]


def test_rows_outside_the_table_are_refused() -> None:
    marks = Marks(5)
    marks.add("p")
    with pytest.raises(IndexError, match="0..4"):
        marks.mark("p", np.array([5]))
    with pytest.raises(IndexError, match="0..4"):
        marks.mark("p", np.array([-1]))


def test_many_marks_are_merged_and_stay_small() -> None:
    """Repeated monthly marks (medical aid) are merged once they hold n / 8 rows."""
    n = 800
    marks = Marks(n)
    marks.add("p")
    for _ in range(50):
        marks.mark("p", np.arange(0, 40))
    assert len(marks._rows["p"]) <= 3
    np.testing.assert_array_equal(marks.rows("p"), np.arange(40))
