"""Places: regions, counties and villages, and the household slices that belong to each."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Places"]


@dataclass
class Places:
    """The place hierarchy region → county → village, as arrays.

    Attributes
    ----------
    region_names
        Region keys in output order.
    county_name, county_prefecture
        Names (object arrays), one per county.
    county_region
        Region index of each county.
    county_poor
        True for the 88 designated poor counties.
    county_start, county_stop
        Household row slice of each county.
    county_population
        Rural population of the county (persons, real scale).
    county_unsimulated
        People of the county not simulated (richer households outside the poor counties),
        counted in incidence denominators (persons, real scale).
    village_county
        County index of each simulated village.
    village_poor
        True for a designated poor village (the 11,501).
    village_weight
        Real villages represented by each simulated village (1 at full scale).
    village_start, village_stop
        Household row slice of each village.
    services
        Village services (road, water, ...): name → boolean array over villages.
    """

    region_names: tuple[str, ...]
    county_name: np.ndarray
    county_prefecture: np.ndarray
    county_region: np.ndarray
    county_poor: np.ndarray
    county_start: np.ndarray
    county_stop: np.ndarray
    county_population: np.ndarray
    county_unsimulated: np.ndarray
    village_county: np.ndarray
    village_poor: np.ndarray
    village_weight: np.ndarray
    village_start: np.ndarray
    village_stop: np.ndarray
    services: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def n_counties(self) -> int:
        """Number of counties."""
        return len(self.county_name)

    @property
    def n_villages(self) -> int:
        """Number of simulated villages."""
        return len(self.village_county)

    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.region_names)

    def county_index(self, name: str) -> int:
        """Index of a county by name; ``KeyError`` listing close names if unknown."""
        hits = np.flatnonzero(self.county_name == name)
        if hits.size == 0:
            raise KeyError(name)
        return int(hits[0])

    def counties_in_region(self, region: str) -> np.ndarray:
        """Indices of the counties of a region."""
        return np.flatnonzero(self.county_region == self.region_names.index(region))

    def county_slice(self, c: int) -> slice:
        """Household rows of county ``c``."""
        return slice(int(self.county_start[c]), int(self.county_stop[c]))

    def village_slice(self, v: int) -> slice:
        """Household rows of village ``v``."""
        return slice(int(self.village_start[v]), int(self.village_stop[v]))
