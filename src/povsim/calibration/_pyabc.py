"""pyabc pieces of the fit (imported only when a fit runs: pyabc is slow to import)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pyabc

__all__ = ["DaskSampler", "MedianEpsilon"]


class MedianEpsilon(pyabc.QuantileEpsilon):
    """Epsilon = median (weighted) distance of the previous generation; infinite at generation 0.

    pyabc's ``QuantileEpsilon(initial_epsilon=inf)`` would restart at infinity whenever a run is
    continued (a resumed fit, or each of :func:`~povsim.calibration.calibrate`'s one-generation
    steps on a loaded database); this one takes the previous generation from the history
    instead, and never draws pyabc's extra calibration sample from the prior.
    """

    def __init__(self) -> None:
        super().__init__(initial_epsilon="from_sample", alpha=0.5, weighted=True)

    def initialize(self, t: int, get_weighted_distances: Callable[[], Any],
                   get_all_records: Callable[[], list[dict]], max_nr_populations: int,
                   acceptor_config: dict) -> None:
        if t == 0:
            self._look_up = {0: math.inf}
            return
        super().initialize(t, get_weighted_distances, get_all_records, max_nr_populations,
                           acceptor_config)


class DaskSampler(pyabc.sampler.DaskDistributedSampler):
    """pyabc's dask sampler, asking the scheduler for the number of cores once, not 100 times a
    second.

    pyabc's sampling loop wakes every 10 ms and calls ``client.ncores()`` (a scheduler round
    trip) each time; on a small machine that loop competes with the workers for the cores and
    made a fit on 2 workers slower than in one process.
    """

    def __init__(self, client: Any) -> None:
        super().__init__(dask_client=client, batch_size=1)
        self._cores = max(1, int(sum(client.ncores().values())))

    def client_cores(self) -> int:
        return self._cores
