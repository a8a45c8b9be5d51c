"""povsim.allocator: the heap setting for large runs is applied once and always restored."""

from __future__ import annotations

import numpy as np
import pytest

from povsim import allocator


def test_nested_blocks_restore_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, int, int]] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            calls.append(("mallopt", param, value))
            return 1

        def malloc_trim(self, pad: int) -> int:
            calls.append(("trim", pad, 0))
            return 1

    monkeypatch.setattr(allocator, "_libc", lambda: FakeLibc())
    with allocator.large_arrays():
        with allocator.large_arrays():
            pass
        assert [c[0] for c in calls] == ["mallopt"] * 4  # applied once, not restored yet
    assert ("mallopt", allocator._M_MMAP_MAX, 0) in calls
    assert ("mallopt", allocator._M_ARENA_MAX, 1) in calls  # helper threads share the heap
    assert calls[-5:] == [("mallopt", allocator._M_MMAP_MAX, allocator._DEFAULT_MMAP_MAX),
                          ("mallopt", allocator._M_TRIM_THRESHOLD, allocator._DEFAULT_TRIM),
                          ("mallopt", allocator._M_TOP_PAD, allocator._DEFAULT_TOP_PAD),
                          ("mallopt", allocator._M_ARENA_MAX, allocator._DEFAULT_ARENAS),
                          ("trim", 0, 0)]
    assert allocator._depth == 0


def test_restored_after_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[int] = []

    class FakeLibc:
        def mallopt(self, param: int, value: int) -> int:
            seen.append(value)
            return 1

        def malloc_trim(self, pad: int) -> int:
            return 1

    monkeypatch.setattr(allocator, "_libc", lambda: FakeLibc())
    with pytest.raises(KeyboardInterrupt), allocator.large_arrays():
        raise KeyboardInterrupt
    assert seen[-4:] == [allocator._DEFAULT_MMAP_MAX, allocator._DEFAULT_TRIM,
                         allocator._DEFAULT_TOP_PAD, allocator._DEFAULT_ARENAS]
    assert allocator._depth == 0


def test_disabled_or_opted_out_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(allocator, "_libc", lambda: pytest.fail("libc must not be touched"))
    with allocator.large_arrays(enabled=False):
        pass
    monkeypatch.undo()
    monkeypatch.setenv("POVSIM_MALLOC", "default")
    assert allocator._libc() is None


def test_the_real_setting_keeps_numpy_working() -> None:
    with allocator.large_arrays():
        a = np.ones(5_000_000)  # 40 MB: above glibc's largest mmap threshold
        assert a.sum() == 5_000_000
        del a
    b = np.ones(5_000_000)
    assert b.sum() == 5_000_000
