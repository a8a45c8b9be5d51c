"""What a component sees: the run's state and the operations it may call.

The engine keeps the state of a run in one :class:`RunState` — the household table, the places
and their state (:class:`PlaceState`), this year's plan (:class:`PlanState`), the assessment's
flows, the lines, the ledger and the named random streams. A component never sees the model:
each gets a :class:`Context` of its own, through which it reads and changes that state and
calls the engine's operations (schedule an effect, add income, ration its envelope, raise an
event another component handles). Components reach each other only through events: a component
lists the events it raises (``emits``) and the ones it answers (``handles``); the engine
connects them when the model is built.

Checked mode
------------
With ``POVSIM_CHECKED=1`` in the environment (the test suite sets it) or ``checked=True`` when
the model is built, every component is held to its declarations while it runs: reading a
household column or a piece of state it did not declare (``owns``, ``modifies``, ``reads``)
raises :class:`UndeclaredAccess` at once, and so does writing one it does not own or modify
(columns it may not write are read-only while its hooks run), or raising an event it did not
declare. The row structure of the table (``county``, ``village``, ``region``) is readable by
every component.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from povsim.budget import Ledger, Rationed, combine_binding, priority_order, ration
from povsim.budget.capacity import buy as buy_places
from povsim.errors import ModelBuildError, PovsimError
from povsim.households import Households, segment_sums
from povsim.kernels import (add_columns, below_per_segment, gap_sums, helper_threads,
                            masked_sums_int, use_compiled)
from povsim.population.places import Places
from povsim.rng import Streams

__all__ = [
    "INDEX_COLUMNS",
    "STATE",
    "Context",
    "Marks",
    "PlaceState",
    "PlanState",
    "RunState",
    "UndeclaredAccess",
    "checked_default",
]

#: columns giving the row structure of the table, readable by every component
INDEX_COLUMNS = frozenset({"county", "village", "region"})

#: state besides household columns that components declare in ``reads`` / ``modifies``
STATE: dict[str, str] = {
    "village_services": "services present in each village (places.services)",
    "flows": "the last assessment's exits, returns and new poor (household masks)",
    "place_exits": "village and county exits and the county assessment statistics",
    "plan": "this year's households served and waiting, for every pathway, and the county "
            "plans (tasks, exit years, villages due)",
    "task_forces": "this year's village task forces: the households they cover and the "
                   "targeting rates and enrolment order they set there (read by the "
                   "assessment and the planning)",
}


#: Rows from which :meth:`RunState.draws` draws next month's uniforms in a helper thread
#: (assumption: below a million rows a month's draws take a few milliseconds, less than is
#: worth handing to a thread; the full-scale table has 7.7 million).
PREFETCH_ROWS = 1_000_000
#: 64-bit words of a stream drawn at a time by :meth:`RunState.draws_at` (assumption: a jump
#: (~2 µs) costs about as much as drawing 300 words, so blocks of 256 keep either part small)
DRAW_BLOCK = 256
_PREFETCHER: ThreadPoolExecutor | None = None
_PREFETCHER_LOCK = threading.Lock()


def _prefetcher() -> ThreadPoolExecutor:
    """The process's one helper thread for drawing uniforms ahead (created when first used)."""
    global _PREFETCHER
    with _PREFETCHER_LOCK:
        if _PREFETCHER is None:
            _PREFETCHER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="povsim-draws")
        return _PREFETCHER


#: Rows from which :meth:`RunState.call_each` runs built-in components' reads in helper
#: threads (assumption: numpy's gathers and ufuncs release the interpreter lock, and a month's
#: reads of a full-scale table take ~40 ms, two threads ~15 ms; below a million rows they take
#: under a few milliseconds and a sweep's workers already use every core)
PARALLEL_ROWS = 1 << 20
_HELPERS: ThreadPoolExecutor | None = None


def _helpers() -> ThreadPoolExecutor:
    """The process's helper threads for independent reads of a large table (created when
    first used; :func:`povsim.kernels.helper_threads` of them)."""
    global _HELPERS
    with _PREFETCHER_LOCK:
        if _HELPERS is None:
            _HELPERS = ThreadPoolExecutor(max_workers=helper_threads(),
                                          thread_name_prefix="povsim-helper")
        return _HELPERS


def _forget_prefetcher() -> None:
    """In a forked child the parent's helper threads do not exist: start new ones if needed."""
    global _PREFETCHER, _PREFETCHER_LOCK, _HELPERS
    _PREFETCHER = None
    _HELPERS = None
    _PREFETCHER_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_prefetcher)


def checked_default() -> bool:
    """Whether models are checked unless told otherwise (``POVSIM_CHECKED=1``)."""
    return os.environ.get("POVSIM_CHECKED", "") not in ("", "0")


class UndeclaredAccess(PovsimError):
    """A component touched state it did not declare (checked mode)."""


class Marks:
    """Households flagged this year by each pathway (served, or left waiting).

    Most pathways flag a small share of the households: their flags are kept as rows (a few
    MB at full scale, where a flag per household took 7.7 MB for every pathway and kind, ~170
    MB in all). A pathway whose rows pass an eighth of the households (medical aid flags about
    a quarter of them) switches to one flag per household, which is then the smaller of the
    two. Read a pathway's flags as a read-only boolean mask over all households
    (``marks[name]``, a copy made on demand), as its rows (:meth:`rows`) or for some rows
    (:meth:`flagged`); add to them with :meth:`mark` (which :meth:`Context.mark` calls).

    Parameters
    ----------
    n
        Households in the table.
    """

    #: a pathway holding more than ``n // MASK_SHARE`` rows keeps one flag per household
    #: instead (assumption: rows take 4 bytes, a flag 1; at an eighth of the households the
    #: rows, repeats included, take half a flag's memory, and merging them costs a sort)
    MASK_SHARE = 8
    #: rows held above ``n // SORT_SHARE`` are merged through a flag per household, fewer by
    #: sorting them (assumption: one pass over n flags costs about a sort of n / 256 rows)
    SORT_SHARE = 256

    def __init__(self, n: int = 0) -> None:
        self.n = int(n)
        self._rows: dict[str, list[np.ndarray]] = {}
        self._held: dict[str, int] = {}
        self._mask: dict[str, np.ndarray | None] = {}

    def add(self, name: str) -> None:
        """Start pathway ``name`` with no household flagged."""
        self._rows[name] = []
        self._held[name] = 0
        self._mask[name] = None

    def mark(self, name: str, which: np.ndarray) -> None:
        """Flag households ``which`` (rows, or a boolean mask over all households)."""
        which = np.asarray(which)
        mask = self._mask[name]
        if which.dtype == np.bool_:
            if which.shape != (self.n,):
                raise IndexError(f"a mask of households has {self.n} flags, got {which.shape}")
            if mask is not None:
                mask |= which
                return
            rows = np.flatnonzero(which)
        else:
            rows = which.ravel()
            if rows.size and (rows.min() < 0 or rows.max() >= self.n):
                raise IndexError(f"rows must lie in 0..{self.n - 1}")
        if rows.size == 0:
            return
        if mask is not None:
            mask[rows] = True
            return
        held = rows.astype(np.int32 if self.n < 2**31 else np.int64)  # a copy of its own
        held.flags.writeable = False  # rows() hands it out
        self._rows[name].append(held)
        self._held[name] += rows.size
        if self._held[name] > self.n // self.MASK_SHARE:
            self._mask[name] = self._flags(self._rows[name])
            self._rows[name] = []
            self._held[name] = 0

    def _flags(self, held: list[np.ndarray]) -> np.ndarray:
        """One flag per household, set at the rows of ``held``."""
        flags = np.zeros(self.n, dtype=bool)
        for r in held:
            flags[r] = True
        return flags

    def rows(self, name: str) -> np.ndarray:
        """The flagged rows of pathway ``name``, sorted, each once."""
        mask = self._mask[name]
        if mask is not None:
            rows = np.flatnonzero(mask)
            rows.flags.writeable = False  # as the rows kept as such
            return rows
        held = self._rows[name]
        if not held:
            return np.zeros(0, dtype=np.int64)
        if len(held) > 1 or held[0].size > 1 and not (np.diff(held[0]) > 0).all():
            if self._held[name] > self.n // self.SORT_SHARE:
                # many rows: one pass over a flag per household beats sorting them
                merged = np.flatnonzero(self._flags(held)).astype(held[0].dtype)
            else:
                merged = np.unique(np.concatenate(held))
            merged.flags.writeable = False
            held[:] = [merged]
            self._held[name] = merged.size
        return held[0]

    def flagged(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Whether each of ``rows`` is flagged for pathway ``name``."""
        mask = self._mask[name]
        if mask is not None:
            return mask[rows]
        mine = self.rows(name)
        if mine.size == 0:
            return np.zeros(np.shape(rows), dtype=bool)
        at = np.minimum(np.searchsorted(mine, rows), mine.size - 1)
        return mine[at] == rows

    def __getitem__(self, name: str) -> np.ndarray:
        mask = self._mask[name]
        out = mask.copy() if mask is not None else self._flags(self._rows[name])
        out.flags.writeable = False  # a copy: a write would be lost (flag with mark())
        return out

    def __contains__(self, name: object) -> bool:
        return name in self._rows

    def __iter__(self) -> Any:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def keys(self) -> Any:
        """The pathways' names."""
        return self._rows.keys()

    def values(self) -> Any:
        """Every pathway's mask (made on demand)."""
        return (self[k] for k in self._rows)

    def items(self) -> Any:
        """``(name, mask)`` of every pathway."""
        return ((k, self[k]) for k in self._rows)


@dataclass
class PlanState:
    """This year's plan: who each pathway served or left waiting, and county capacities.

    Attributes
    ----------
    served, waiting
        Pathway name → the households flagged this year (:class:`Marks`: rows, or a mask
        over all households on demand).
    capacity
        Pathway name → capacity left per county this year (units; ``inf``: no limit).
    need
        Pathway name → expected spending per county of an event-driven pathway (yuan).
    binding
        Pathway name (and ``"services"``) → what held it back in each county this year, a
        code of :data:`povsim.budget.BINDING` (int8), combined over the year's rationings.
    left
        Pathway name → registered poor households of each county not eligible for it (the
        ``left`` of :func:`povsim.budget.ration`).
    county
        The county plans (:func:`povsim.planning.county_plans`): ``task`` (persons to lift
        this year), ``exit_year`` (planned exit year) and ``villages_due`` (real villages due
        to exit this year), per county.
    village_due
        One flag per village: due to exit this year under its county's plan.
    """

    served: Marks = field(default_factory=Marks)
    waiting: Marks = field(default_factory=Marks)
    capacity: dict[str, np.ndarray] = field(default_factory=dict)
    need: dict[str, np.ndarray] = field(default_factory=dict)
    binding: dict[str, np.ndarray] = field(default_factory=dict)
    left: dict[str, np.ndarray] = field(default_factory=dict)
    county: dict[str, np.ndarray] = field(default_factory=dict)
    village_due: np.ndarray | None = None


@dataclass
class PlaceState:
    """State of villages and counties that the year-end assessment keeps.

    Attributes
    ----------
    village_exited
        Share of the real villages a simulated village stands for that have exited.
    county_exit_year
        Year each poor county exited (-1: not yet).
    village_people, county_people, village_population
        Simulated people per village; people per county including the unsimulated; village
        population including its share of the county's unsimulated people (persons).
    county_stats
        The last assessment's ``incidence``, ``wrong_exit_rate`` and ``omission_rate``.
    """

    village_exited: np.ndarray
    county_exit_year: np.ndarray
    village_people: np.ndarray
    county_people: np.ndarray
    village_population: np.ndarray
    county_stats: dict[str, np.ndarray] | None = None


@dataclass
class RunState:
    """Everything the engine holds about a run (components see it through a Context)."""

    households: Households
    places: Places
    weight: float
    params: Any
    streams: Streams
    ledger: Ledger
    place: PlaceState
    checked: bool = False
    seed_value: int = 0
    month: int = 0
    year: int = 0
    poverty_line: float = 0.0
    dibao_line: float = 0.0
    plan: PlanState = field(default_factory=PlanState)
    flows: dict[str, np.ndarray] = field(default_factory=dict)
    #: households found at the last review awaiting registration next January (returns and
    #: new poor, ``exits.household.intake: next_year``), and those registered this January
    found: dict[str, np.ndarray] = field(default_factory=dict)
    entered: dict[str, np.ndarray] = field(default_factory=dict)
    #: this year's village task forces (:mod:`povsim.pathways.task_forces`): ``covered`` (one
    #: flag per household), ``identification``, ``removal``, ``return_detection`` (rates where
    #: a force works) and ``enrol_first``; empty when no force works
    forces: dict[str, Any] = field(default_factory=dict)
    components: list[Any] = field(default_factory=list)
    handlers: dict[str, Any] = field(default_factory=dict)
    contexts: dict[str, Context] = field(default_factory=dict)
    queue: dict[int, list[tuple[Any, np.ndarray]]] = field(default_factory=dict)
    _frames: list[Any] = field(default_factory=list)
    #: next month's draws of month-keyed streams, being drawn in a helper thread (:meth:`draws`)
    _prefetched: dict[tuple[Any, ...], Future[np.ndarray]] = field(default_factory=dict)

    @property
    def calendar(self) -> Any:
        """The scenario's calendar."""
        return self.params.calendar

    @property
    def n_steps(self) -> int:
        """Months in the run."""
        return int(self.params.calendar.n_steps)

    @property
    def pathway_names(self) -> list[str]:
        """Pathways in output order (the ledger's, without ``services``)."""
        return [n for n in self.ledger.pathways if n != "services"]

    def county_sum(self, values: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Per-county sums of one value per household (simulated units, not weighted)."""
        P = self.places
        return segment_sums(values, P.county_start, P.county_stop, dtype=dtype,
                            labels=self.households.county)

    def county_gap(self, pc: np.ndarray, line: float, mask: np.ndarray,
                   weight: float = 1.0) -> np.ndarray:
        """Per county, ``Σ max(line - pc, 0) × size × weight`` over the households in ``mask``
        (yuan; :func:`povsim.kernels.gap_sums`, one pass in large tables)."""
        P = self.places
        return gap_sums(pc, line, self.households.size, mask, P.county_start, P.county_stop,
                        weight)

    def county_people(self, mask: np.ndarray) -> np.ndarray:
        """Persons (simulated, int64) per county in the households where ``mask`` holds
        (:func:`povsim.kernels.masked_sums_int`)."""
        P = self.places
        return masked_sums_int(self.households.size, mask, P.county_start, P.county_stop)

    def village_sum(self, values: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Per-village sums of one value per household (simulated units, not weighted)."""
        P = self.places
        return segment_sums(values, P.village_start, P.village_stop, dtype=dtype,
                            labels=self.households.village)

    def village_below(self, draws: np.ndarray, share: np.ndarray) -> np.ndarray:
        """``draws < share[households.village]``: the households a per-village share reaches
        (one draw per household; see :func:`povsim.kernels.below_per_segment`)."""
        P = self.places
        return below_per_segment(draws, share, self.households.village, P.village_start,
                                 P.village_stop)

    def county_below(self, draws: np.ndarray, share: np.ndarray, shift: float = 0.0
                     ) -> np.ndarray:
        """``u < share[households.county]`` with ``u`` the fractional part of ``draws + shift``
        (the draws themselves for ``shift=0``): the households a per-county share reaches."""
        P = self.places
        return below_per_segment(draws, share, self.households.county, P.county_start,
                                 P.county_stop, shift)

    def by_region(self, per_county: np.ndarray) -> np.ndarray:
        """Per-region sums of per-county values (leading axis: county)."""
        P = self.places
        arr = np.asarray(per_county, dtype=np.float64)
        out = np.zeros((P.n_regions,) + arr.shape[1:])
        np.add.at(out, P.county_region.astype(np.int64), arr)
        return out

    def draws(self, name: str, *keys: int, dtype: Any = np.float32) -> np.ndarray:
        """One uniform per household for process ``name`` at ``keys`` (common random numbers).

        A stream keyed by the current month alone (the illness shock's ``illness``, month) is
        drawn again next month: in large tables (:data:`PREFETCH_ROWS`) next month's draws are
        made in a helper thread while this month runs (numpy fills arrays of uniforms without
        the interpreter lock), so the draws cost little wall time on a second core. The numbers
        are the same either way: they depend only on the seed, the name and the keys.
        """
        code = np.dtype(dtype).str
        key = (name, tuple(int(k) for k in keys), code)
        pending = self._prefetched.pop(key, None)
        out = pending.result() if pending is not None else self._draw(name, key[1], dtype)
        n = self.households.n
        if n >= PREFETCH_ROWS and key[1] == (self.month,) and self.month + 1 < self.n_steps:
            for old in [k for k in self._prefetched if k[1][0] < self.month]:
                del self._prefetched[old]  # a stream not drawn again: its draws are dropped
            nxt = (name, (self.month + 1,), code)
            if nxt not in self._prefetched:
                # the array is allocated here, not in the helper thread: memory freed by this
                # thread then returns to this thread's allocator arena and is reused
                buf = np.empty(n, dtype=dtype)
                self._prefetched[nxt] = _prefetcher().submit(self._draw, name, nxt[1], dtype,
                                                             buf)
        return out

    def draws_at(self, name: str, *keys: int, rows: np.ndarray,
                 dtype: Any = np.float32) -> np.ndarray:
        """``draws(name, *keys, dtype=dtype)[rows]``, drawing only the part of the stream that
        holds ``rows``.

        For the few households a decision needs a uniform for (the marginal households of a
        capacity bought in part): the generator jumps (``PCG64.advance``) to each block of
        :data:`DRAW_BLOCK` 64-bit words holding a wanted row and draws that block only. A
        float64 uniform takes one word of the stream, a float32 uniform half of one (numpy
        draws two from each word, low half first), so the numbers are those of the full draw.
        Where the blocks would cover most of the table, the table is drawn whole.

        Parameters
        ----------
        name, keys
            The stream, as for :meth:`draws`.
        rows
            Household rows (any order, repeats allowed).
        dtype
            ``numpy.float32`` (the default) or ``numpy.float64``.
        """
        rows = np.asarray(rows, dtype=np.int64)
        dt = np.dtype(dtype)
        if dt not in (np.dtype(np.float32), np.dtype(np.float64)):
            raise ValueError(f"draws_at draws float32 or float64 uniforms, not {dt}")
        per_word = 2 if dt == np.dtype(np.float32) else 1
        n = self.households.n
        if rows.size == 0:
            return np.zeros(0, dtype=dt)
        if rows.min() < 0 or rows.max() >= n:
            raise IndexError(f"rows must lie in 0..{n - 1}")
        block = rows // (per_word * DRAW_BLOCK)
        touched = np.unique(block)
        if touched.size * per_word * DRAW_BLOCK * 2 >= n:
            return self._draw(name, tuple(int(k) for k in keys), dt)[rows]
        bitgen = self.streams.get(name, *keys).bit_generator
        gen = np.random.Generator(bitgen)
        out = np.empty(rows.size, dtype=dt)
        by_block = np.argsort(block, kind="stable")
        cuts = np.searchsorted(block[by_block], touched, side="right").tolist()
        at_word = lo = 0
        for b, hi in zip(touched.tolist(), cuts):
            start = b * DRAW_BLOCK
            bitgen.advance(start - at_word)
            vals = gen.random(per_word * DRAW_BLOCK, dtype=dt)
            at_word = start + DRAW_BLOCK
            mine = by_block[lo:hi]
            out[mine] = vals[rows[mine] - per_word * start]
            lo = hi
        return out

    def _draw(self, name: str, keys: tuple[int, ...], dtype: Any,
              out: np.ndarray | None = None) -> np.ndarray:
        gen = self.streams.get(name, *keys)
        if out is None:
            return gen.random(self.households.n, dtype=dtype)
        gen.random(dtype=dtype, out=out)
        return out

    # -- components ------------------------------------------------------------------------
    def attach(self, components: list[Any]) -> None:
        """Give every component its context and connect the events they raise and answer."""
        self.components = list(components)
        for comp in self.components:
            self.contexts[comp.name] = Context(self, comp)
            for event, method in comp.handles.items():
                if event in self.handlers:
                    raise ModelBuildError(
                        f"event {event!r} is handled by both {self.handlers[event][0].name!r} "
                        f"and {comp.name!r}; an event may have only one handler"
                    )
                if not callable(getattr(comp, method, None)):
                    raise ModelBuildError(
                        f"component {comp.name!r} handles {event!r} with {method!r}, which it "
                        f"does not define"
                    )
                self.handlers[event] = (comp, method)

    def call_each(self, tasks: list[tuple[Any, Any, tuple[Any, ...], Any]]) -> None:
        """For each ``(comp, method, args, then)``: ``then(self.call(comp, method, *args))``.

        ``method`` is the name of one of ``comp``'s methods, or an engine function working for
        ``comp`` (:meth:`accumulate_income`), called as ``method(*args)``; ``then`` may be
        ``None`` (the call's own effect is what counts).

        The tasks must be independent: each reads the table and ``then`` writes only its own
        result (the attribution's monthly income reads). In a large table
        (:data:`PARALLEL_ROWS`), outside checked mode, the tasks of povsim's own components run
        in helper threads; a study's components (whose thread safety povsim cannot know) and
        every task of a checked or small run run here, in order. The results are the same
        either way.
        """
        if self.checked or self.households.n < PARALLEL_ROWS or len(tasks) < 2:
            for task in tasks:
                self._run_task(task)
            return
        ours: list[tuple[Any, Any, tuple[Any, ...], Any]] = []
        theirs: list[tuple[Any, Any, tuple[Any, ...], Any]] = []
        for t in tasks:
            (ours if type(t[0]).__module__.startswith("povsim.") else theirs).append(t)

        # this thread takes the last of ours and the study's, the helpers the rest
        futures = [_helpers().submit(self._run_task, t) for t in ours[:-1]]
        try:
            for t in ours[-1:] + theirs:
                self._run_task(t)
        finally:
            for f in futures:
                f.result()

    def _run_task(self, task: tuple[Any, Any, tuple[Any, ...], Any]) -> None:
        comp, method, args, then = task
        got = method(*args) if callable(method) else self.call(comp, method, *args)
        if then is not None:
            then(got)

    def accumulate_income(self, comp: Any, out: np.ndarray, rows: np.ndarray | None = None,
                          divisor: float | None = None) -> None:
        """``out += comp``'s income of households ``rows`` (all: ``None``) ``/ divisor``
        (``None``: not divided); ``out`` is float64, one value per row.

        An income declared as a sum of columns (``comp.income_columns``) is added by the engine
        in one pass (:func:`povsim.kernels.add_columns`, compiled in large tables); otherwise
        ``comp.income`` or ``comp.income_at`` is called (checked) and its flow added. The
        numbers are the same either way.
        """
        if comp.income_columns:
            add_columns(out, *comp.income_terms(self.households), rows, divisor)
            return
        flow = self.call(comp, "income") if rows is None else self.call(comp, "income_at", rows)
        if flow is None:
            return
        if divisor is None:
            out += flow
        else:
            out += flow / divisor

    def call(self, comp: Any, method: str, *args: Any) -> Any:
        """Call ``comp.method(ctx, *args)``; in checked mode hold it to its declarations."""
        ctx = self.contexts[comp.name]
        fn = getattr(comp, method)
        if not self.checked:
            return fn(ctx, *args)
        self._frames.append(comp)
        self._protect(comp)
        try:
            return fn(ctx, *args)
        except ValueError as exc:
            if "read-only" not in str(exc):
                raise
            raise UndeclaredAccess(
                f"component {comp.name!r} wrote to state it does not declare in owns or "
                f"modifies ({exc}); it may write {sorted(comp.writable())}"
            ) from exc
        finally:
            self._frames.pop()
            self._protect(self._frames[-1] if self._frames else None)

    def _protect(self, comp: Any) -> None:
        """Make the state ``comp`` may not write read-only (``None``: all writable)."""
        names = None if comp is None else frozenset(comp.writable())
        self.households.writable_only(names)
        ok = names is None or "village_services" in names
        for arr in self.places.services.values():
            arr.flags.writeable = ok

    def engine_writes(self) -> Any:
        """Context manager lifting the protection while the engine itself writes."""
        return _EngineWrites(self)

    def run_due(self, month: int) -> None:
        """Activate the effects scheduled for ``month``."""
        for comp, idx in self.queue.pop(month, []):
            self.call(comp, "activate", idx, month)


class _EngineWrites:
    def __init__(self, run: RunState) -> None:
        self.run = run

    def __enter__(self) -> None:
        if self.run.checked and self.run._frames:
            self.run._protect(None)

    def __exit__(self, *exc: Any) -> None:
        if self.run.checked and self.run._frames:
            self.run._protect(self.run._frames[-1])


class _CheckedHouseholds:
    """A view of the household table that refuses columns a component did not declare."""

    def __init__(self, table: Households, component: str, readable: frozenset[str]) -> None:
        object.__setattr__(self, "_table", table)
        object.__setattr__(self, "_component", component)
        object.__setattr__(self, "_readable", readable | INDEX_COLUMNS)

    @property
    def n(self) -> int:
        return self._table.n

    def _get(self, name: str) -> np.ndarray:
        if name not in self._readable:
            if name not in self._table:
                raise AttributeError(f"households have no column {name!r}")
            raise UndeclaredAccess(
                f"component {self._component!r} reads household column {name!r}, which it "
                f"does not declare (add it to its reads, modifies or owns)"
            )
        return self._table[name]

    def __getattr__(self, name: str) -> np.ndarray:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._get(name)

    def __getitem__(self, name: str) -> np.ndarray:
        return self._get(name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._table, name, value)  # the table refuses it with a clear message

    def __contains__(self, name: object) -> bool:
        return name in self._table

    def __len__(self) -> int:
        return self._table.n


class _CheckedPlaces:
    """Places whose mutable state (``services``) is readable only when declared."""

    def __init__(self, places: Places, component: str, allowed: bool) -> None:
        self._places = places
        self._component = component
        self._allowed = allowed

    def __getattr__(self, name: str) -> Any:
        if name == "services" and not self._allowed:
            raise UndeclaredAccess(
                f"component {self._component!r} reads places.services, which it does not "
                f"declare (add 'village_services' to its reads or modifies)"
            )
        return getattr(self._places, name)


class Context:
    """The view of a run that one component gets.

    Parameters
    ----------
    run
        The engine's state.
    component
        The component this context belongs to (a :class:`povsim.components.Component`;
        this module does not import it, so that components can import the context).

    Attributes
    ----------
    households
        The household table (in checked mode a view refusing undeclared columns).
    places
        Regions, counties and villages.
    weight
        Real households per simulated household.
    params
        The scenario (read only).
    name
        The component's name.
    """

    def __init__(self, run: RunState, component: Any) -> None:
        self._run = run
        self._comp = component
        self.name = component.name
        self.params = run.params
        self.weight = run.weight
        self.streams = run.streams
        touched = frozenset(component.touches())
        self._touched = touched
        if run.checked:
            self.households: Any = _CheckedHouseholds(run.households, component.name, touched)
            self.places: Any = _CheckedPlaces(run.places, component.name,
                                              "village_services" in touched)
        else:
            self.households = run.households
            self.places = run.places

    def _need(self, state: str) -> None:
        if self._run.checked and state not in self._touched:
            raise UndeclaredAccess(
                f"component {self.name!r} reads {state!r} ({STATE[state]}), which it does not "
                f"declare in its reads"
            )

    # -- the clock and the lines --------------------------------------------------------------
    @property
    def calendar(self) -> Any:
        """The scenario's calendar."""
        return self._run.calendar

    @property
    def month(self) -> int:
        """The current step (months from the calendar start)."""
        return self._run.month

    @property
    def year(self) -> int:
        """The current year."""
        return self._run.year

    @property
    def poverty_line(self) -> float:
        """This year's poverty line (yuan/person/year)."""
        return self._run.poverty_line

    @property
    def dibao_line(self) -> float:
        """This year's dibao line after the merge schedule (yuan/person/year)."""
        return self._run.dibao_line

    # -- declared state -----------------------------------------------------------------------
    @property
    def flows(self) -> dict[str, np.ndarray]:
        """The last assessment's household masks (declare ``"flows"``)."""
        self._need("flows")
        return self._run.flows

    @property
    def place(self) -> PlaceState:
        """Village and county exits (declare ``"place_exits"``)."""
        self._need("place_exits")
        return self._run.place

    @property
    def plan(self) -> PlanState:
        """This year's plan of every pathway (declare ``"plan"``)."""
        self._need("plan")
        return self._run.plan

    @property
    def task_forces(self) -> dict[str, Any]:
        """This year's village task forces, :attr:`RunState.forces` (declare
        ``"task_forces"``)."""
        self._need("task_forces")
        return self._run.forces

    # -- helpers ------------------------------------------------------------------------------
    def draws(self, name: str, *keys: int, dtype: Any = np.float32) -> np.ndarray:
        """One uniform per household for process ``name`` at ``keys`` (common random numbers)."""
        return self._run.draws(name, *keys, dtype=dtype)

    def draws_at(self, name: str, *keys: int, rows: np.ndarray,
                 dtype: Any = np.float32) -> np.ndarray:
        """``draws(name, *keys)[rows]`` for a few rows, without drawing the whole table (see
        :meth:`RunState.draws_at`)."""
        return self._run.draws_at(name, *keys, rows=rows, dtype=dtype)

    def county_sum(self, values: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Per-county sums of one value per household (simulated units).

        ``dtype=np.float64`` gives the float totals of ``np.bincount(hh.county, weights=values)``
        (bit for bit), an integer dtype exact integer totals; see
        :func:`povsim.households.segment_sums`.
        """
        return self._run.county_sum(values, dtype=dtype)

    def county_gap(self, pc: np.ndarray, line: float, mask: np.ndarray,
                   weight: float = 1.0) -> np.ndarray:
        """Per county, ``Σ max(line - pc, 0) × size × weight`` over the households in ``mask``
        (yuan; see :meth:`RunState.county_gap`)."""
        return self._run.county_gap(pc, line, mask, weight)

    def county_people(self, mask: np.ndarray) -> np.ndarray:
        """Persons (simulated, int64) per county in the households where ``mask`` holds."""
        return self._run.county_people(mask)

    def village_sum(self, values: np.ndarray, dtype: Any = None) -> np.ndarray:
        """Per-village sums of one value per household (simulated units), as
        :meth:`county_sum`."""
        return self._run.village_sum(values, dtype=dtype)

    def village_below(self, draws: np.ndarray, share: np.ndarray) -> np.ndarray:
        """``draws < share[households.village]`` (see :meth:`RunState.village_below`)."""
        return self._run.village_below(draws, share)

    def county_below(self, draws: np.ndarray, share: np.ndarray, shift: float = 0.0
                     ) -> np.ndarray:
        """``frac(draws + shift) < share[households.county]`` (see
        :meth:`RunState.county_below`)."""
        return self._run.county_below(draws, share, shift)

    def by_region(self, per_county: np.ndarray) -> np.ndarray:
        """Per-region sums of per-county values."""
        return self._run.by_region(per_county)

    def sizes(self, idx: np.ndarray) -> np.ndarray:
        """Persons in households ``idx`` (float64): the capacity units of ``capacity_unit:
        persons``, which the engine counts for every pathway."""
        return self._run.households.size[idx].astype(np.float64)

    # -- operations ---------------------------------------------------------------------------
    def schedule(self, month: int, idx: np.ndarray) -> None:
        """Call this component's ``activate(ctx, idx, month)`` in ``month`` (now if due)."""
        idx = np.asarray(idx)
        if idx.size == 0:
            return
        run = self._run
        if month <= run.month:
            run.call(self._comp, "activate", idx, run.month)
            return
        run.queue.setdefault(int(month), []).append((self._comp, idx))

    def add_income(self, idx: np.ndarray, yearly: np.ndarray | float) -> None:
        """Add a yearly income flow to households ``idx`` from this month on (yuan/year).

        Changes ``monthly_income``, which the component must declare in ``modifies``.
        """
        self.households.monthly_income[idx] += np.asarray(yearly, dtype=np.float64) / 12.0

    def mark(self, served: np.ndarray | None = None, waiting: np.ndarray | None = None) -> None:
        """Record households served (enrolled or paid) or left waiting by this pathway."""
        plan = self._run.plan
        if served is not None and self.name in plan.served:
            plan.served.mark(self.name, served)
        if waiting is not None and self.name in plan.waiting:
            plan.waiting.mark(self.name, waiting)

    def order(self, idx: np.ndarray, rule: str) -> np.ndarray:
        """The permutation sorting households ``idx`` by county, then by the priority ``rule``.

        ``"random"`` uses one uniform per household and year (stream ``priority.<name>``).
        """
        run = self._run
        hh = run.households
        u = None
        if rule == "random":
            u = run.draws(f"priority.{self.name}", run.year)[idx]
        return priority_order(rule, hh.county[idx], hh.pc_assessed[idx], hh.registered[idx], u,
                              compiled=use_compiled(hh.n))

    def money_left(self, kind: str = "grant") -> np.ndarray:
        """Money left in this component's envelope of every county (yuan)."""
        ledger = self._run.ledger
        return ledger.remaining(ledger.pathway_index(self.name), kind)

    def spend(self, amount: np.ndarray, kind: str = "grant") -> np.ndarray:
        """Spend up to ``amount[c]`` from every county's envelope; returns what was paid."""
        ledger = self._run.ledger
        return ledger.draw(ledger.pathway_index(self.name), amount, kind)

    def ration(
        self,
        idx: np.ndarray,
        cost: np.ndarray,
        *,
        units: np.ndarray | None = None,
        credit: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pay for households ``idx`` (sorted by county, priority order) from the envelopes.

        The shared rule of :func:`povsim.budget.ration`: in each county, in order, until the
        money or this pathway's capacity left (``plan.capacity``) runs out; the capacity used
        is deducted. Credit asked for (``credit``) is lent in the same order while the county's
        credit lasts.

        Returns
        -------
        chosen, credit_ok
            Flags over ``idx``: paid for; and (among the paid) credit granted.
        """
        run = self._run
        hh = run.households
        county = hh.county[idx]
        cap = run.plan.capacity.get(self.name)
        marginal = None
        if cap is not None and np.isfinite(cap).any():
            marginal = run.draws(f"capacity.{self.name}", run.year)[idx]
            if units is None:
                units = self._comp.units(self, idx) * run.weight
        left = run.plan.left.get(self.name)
        res: Rationed = ration(county, cost, self.money_left(), units=units,
                               capacity=cap, marginal_u=marginal, left=left)
        self.bound(res.binding)
        chosen = res.chosen
        return self._settle(county, chosen, res, cap, credit)

    def buy(
        self,
        idx: np.ndarray,
        cost: np.ndarray,
        *,
        units: np.ndarray | None = None,
        credit: np.ndarray | None = None,
        group: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Buy places for households ``idx`` with the capacity rule of :func:`povsim.budget.buy`.

        Items are the households, or with ``group`` the runs of consecutive households sharing
        a group (a site's cohort), in the given order (sorted by county, priority order within
        it). Each county buys items in full while its money lasts and the marginal one in part,
        never more than the pathway's hard cap left (``plan.capacity``, in ``units``): the
        capacity bought is money / unit cost. The households of an item bought in part are
        served each with the probability of the share (one uniform per household and year,
        stream ``capacity.<name>``), so places are used in expectation at any scale; the
        ledger is charged the share of the item's cost. Credit (``credit``) is lent to the
        served households in order while the county's credit lasts.

        Returns
        -------
        chosen, credit_ok
            Flags over ``idx``: served; and (among the served) credit granted.
        """
        run = self._run
        hh = run.households
        county = hh.county[idx]
        n = idx.size
        if n == 0:
            return np.zeros(0, dtype=bool), np.zeros(0, dtype=bool)
        cap = run.plan.capacity.get(self.name)
        if units is None:
            units = self._comp.units(self, idx) * run.weight
        if group is None:
            item = np.arange(n)
        else:
            g = np.asarray(group)
            new = np.ones(n, dtype=bool)
            new[1:] = (g[1:] != g[:-1]) | (county[1:] != county[:-1])
            item = np.cumsum(new) - 1
        n_items = int(item[-1]) + 1
        first = np.searchsorted(item, np.arange(n_items))
        item_cost = np.bincount(item, weights=cost, minlength=n_items)
        item_units = np.bincount(item, weights=units, minlength=n_items)
        left = run.plan.left.get(self.name)
        res = buy_places(county[first], item_cost, self.money_left(), units=item_units,
                         hard_cap=cap, left=left)
        self.bound(res.binding)
        share = res.share[item]
        chosen = share >= 1.0
        # only the households of an item bought in part need their uniform
        part = np.flatnonzero((share > 0.0) & ~chosen)
        if part.size:
            u = run.draws_at(f"capacity.{self.name}", run.year, rows=idx[part])
            chosen[part] = u < share[part]
        return self._settle(county, chosen, res, cap, credit)

    def _settle(self, county: np.ndarray, chosen: np.ndarray, res: Any, cap: np.ndarray | None,
                credit: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """Pay what :meth:`ration` or :meth:`buy` chose, deduct the capacity used and lend
        ``credit`` to the chosen in order while each county's credit lasts (yuan).

        Returns
        -------
        chosen, credit_ok
            The chosen flags as given; and (among them) credit granted.
        """
        C = self._run.places.n_counties
        if res.spent.any():
            paid = self.spend(res.spent)
            if np.any(paid < res.spent - 1e-3):  # pragma: no cover - guarded by the rule
                raise RuntimeError("ledger paid less than the rationed cost")
        if cap is not None:
            cap -= res.units
        credit_ok = np.zeros(chosen.size, dtype=bool)
        if credit is not None and chosen.any():
            req = np.where(chosen, credit, 0.0)
            lent = ration(county, req, self.money_left("credit"))
            credit_ok = lent.chosen & (req > 0) & chosen
            self.spend(np.bincount(county, weights=req * credit_ok, minlength=C), "credit")
            refused = np.bincount(county, weights=(req > 0) & ~credit_ok & chosen,
                                  minlength=C) > 0
            self.bound(np.where(refused, lent.binding, res.binding))
        return chosen, credit_ok

    def bound(self, binding: np.ndarray) -> None:
        """Record what held this component back in each county (codes of
        :data:`povsim.budget.BINDING`), combined with the year's earlier rationings."""
        plan = self._run.plan
        before = plan.binding.get(self.name)
        plan.binding[self.name] = (np.asarray(binding, dtype=np.int8) if before is None
                                   else combine_binding(before, binding))

    def emit(self, event: str, *args: Any) -> Any:
        """Raise ``event``; returns the handler's answer, or ``None`` if no component handles it.

        The component must list the event in its ``emits``.
        """
        if self._run.checked and event not in self._comp.emits:
            raise UndeclaredAccess(
                f"component {self.name!r} raises event {event!r}, which it does not declare "
                f"in emits"
            )
        handler = self._run.handlers.get(event)
        if handler is None:
            return None
        comp, method = handler
        return self._run.call(comp, method, *args)
