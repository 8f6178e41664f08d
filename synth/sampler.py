"""The random stream of one synthetic country and the calibrated draws taken from it.

A probability is an intercept plus planted shifts; the intercept is solved on the drawn sample
so that the expected share equals the country's target, clipping included.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
import numpy.typing as npt

Flags = npt.NDArray[np.int64]  # 0/1 per unit (-1 where a question is not asked, once blanked)
Floats = npt.NDArray[np.floating[Any]]  # float64; numpy's stubs widen float64 arithmetic to this
Ints = npt.NDArray[np.int64]


class Sampler:
    """Random draws for one country, with the calibration helpers used throughout."""

    def __init__(self, seed: int, iso3: str) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, zlib.crc32(iso3.encode())]))

    def bernoulli(self, p: npt.ArrayLike, size: int | None = None) -> Flags:
        probability: Floats = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
        draws: Floats = self.rng.random(probability.shape if size is None else size)
        return (draws < probability).astype(np.int64)

    def calibrated(self, target: float, shift: Floats) -> Flags:
        """Draw 0/1 with P = clip(b + shift), b solved so that mean(P) equals the target."""
        if shift.size == 0:
            return np.zeros(0, dtype=np.int64)
        return self.bernoulli(calibrated_probability(target, shift))

    def exact_share(self, share: float, size: int) -> Flags:
        """0/1 with exactly round(share * size) ones at random places (for small samples)."""
        flags = np.zeros(size, dtype=np.int64)
        flags[self.rng.permutation(size)[: round(share * size)]] = 1
        return flags

    def lognormal(self, mean: float, shift: Floats, sigma: float) -> Floats:
        """Amounts whose log is additive in the shift, with the sample mean near `mean`."""
        if shift.size == 0:
            return np.zeros(0)
        log_mu = np.log(mean) - sigma**2 / 2 - shift.mean()
        amounts: Floats = np.exp(log_mu + shift + self.rng.normal(0.0, sigma, shift.size))
        return amounts


def solve_intercept(target: float, shift: Floats, lo: float = 0.005, hi: float = 0.995) -> float:
    """b such that mean(clip(b + shift, lo, hi)) = target, by bisection (clipping included)."""
    low, high = lo - shift.max(), hi - shift.min()
    for _ in range(60):
        mid = (low + high) / 2
        if np.clip(mid + shift, lo, hi).mean() < target:
            low = mid
        else:
            high = mid
    return float((low + high) / 2)


def calibrated_probability(target: float, shift: Floats) -> Floats:
    probability: Floats = np.clip(solve_intercept(target, shift) + shift, 0.005, 0.995)
    return probability


def rank_within(groups: Ints, keys: Floats) -> Ints:
    """0-based rank of each element within its group, ordered by key."""
    order = np.lexsort((keys, groups))
    sorted_groups = groups[order]
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_groups)) + 1]
    run_lengths = np.diff(np.r_[starts, len(groups)])
    ranks_sorted = np.arange(len(groups)) - np.repeat(starts, run_lengths)
    ranks: Ints = np.empty_like(ranks_sorted)
    ranks[order] = ranks_sorted
    return ranks
