"""The DP preprocessing: category domains and numeric quantiles, each one Gaussian mechanism over
all the columns it covers (its noise comes from the plan in ``accounting``).

**Category domains** (Gaussian partition selection, after Wilson et al. 2020 and Desfontaines et
al. 2022): the counts of every (column, value) pair get Gaussian noise of standard deviation
sigma, and an observed value is kept when its noisy count exceeds the threshold tau. A row adds 1
to one value per column, so over k columns the L2 sensitivity is sqrt(k). Counts of values both
neighbours have are a Gaussian mechanism (in the PLD); a value that only the added row has is
released with probability at most 1 - Phi((tau - 1) / sigma), so over its at most k new values
with at most ``delta_selection`` (outside the PLD). Nulls and declared (public) values are
partitions known in advance: their noisy counts are always released. The noisy counts are kept:
they are paid for, and the synthesizer uses them (the target's distribution, the decoder's
starting point).

**Numeric quantiles** (a noisy hierarchical histogram on a public grid): level 0 cuts the line at
0 and +-2^k (k = -8..40) plus a null cell; below it, each octave cell is halved ``LEVELS`` times
(relative resolution 2^-16: a day in a date, far less than a cent in an amount). A row adds 1 to
one node per level, so with noise sigma on every node the L2 sensitivity is sqrt(LEVELS + 1) per
column and sqrt(m (LEVELS + 1)) over m columns; level 0 gets sigma / 2 and the levels below a bit
more than sigma, at the same privacy loss (``LEVEL0_SCALE``). Every node's noise is drawn once, the first time it is read (the same as noising
the whole tree up front), so any quantile read from it is post-processing. The support is
the octave cells whose noisy count clears a threshold set so that an empty cell of the grid
passes with probability 0.1% at most, with their neighbours above ``WALK_FLOOR`` sigma.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import norm

LEVELS = 16
# Level 0 (where the support is found) gets half the noise; the halvings below get a little more,
# so that a row's privacy loss (sum over its nodes of 1 / (2 sigma_node^2)) is the same as with
# sigma on every node: 1/0.5^2 + LEVELS / DEEP^2 = LEVELS + 1.
LEVEL0_SCALE = 0.5
DEEP_SCALE = (LEVELS / (LEVELS + 1 - LEVEL0_SCALE**-2)) ** 0.5
# A released count (a declared value's, a counted bin's) under NOISE_FLOOR sigma reads as 0: an
# empty one clears it with probability 0.13%.
NOISE_FLOOR = 3.0
# The quantile tree reads its nodes (and the octave cells that extend a tail) against a higher
# floor, because a walk meets many empty nodes: each level beside the data has empty siblings (at 2
# sigma a quarter of the fits of a 3,000-row date column put their 99.9% quantile weeks past the last
# date; at 3 sigma, 1.3% of them years past it; at 4 sigma, 0.1%). A real tail under 4 sigma rows is
# clipped to the bound instead.
WALK_FLOOR = 4.0


def octave_edges() -> np.ndarray:
    """Public level-0 cells: 0 and +-2^k (k = -8..40); 98 cells."""
    octaves = 2.0 ** np.arange(-8, 41)
    return np.concatenate([-octaves[::-1], [0.0], octaves])


def selection_threshold(sigma: float, delta_selection: float, selected_columns: int) -> float:
    """tau: a value held by one row only passes with probability delta_selection / k per column."""
    return 1.0 + sigma * float(norm.isf(delta_selection / max(selected_columns, 1)))


def support_threshold(sigma: float) -> float:
    """Level-0 threshold for the plan's node noise ``sigma``: an empty cell of the grid passes with
    probability 0.1% at most."""
    return sigma * LEVEL0_SCALE * float(norm.isf(0.001 / (len(octave_edges()) - 1)))


@dataclass
class CategoryCounts:
    """What the category mechanism released for one column."""

    categories: list  # kept (or declared) values, sorted by name
    counts: list[float]  # their noisy counts
    null: float | None  # the null partition's noisy count (None: declared not nullable)
    other: float  # rows in no kept value: n - kept - null, from public n (post-processing)
    selected: bool  # True: the domain was selected from the data; False: declared public
    sigma: float = 0.0  # the noise standard deviation of every count


def category_domains(
    df: pd.DataFrame,
    selected: list[str],
    public: dict[str, list],
    nullable: dict[str, bool],
    sigma: float,
    threshold: float,
    rng: np.random.Generator,
) -> dict[str, CategoryCounts]:
    """One Gaussian mechanism over the columns in ``selected`` (domains read from the data, thresholded)
    and ``public`` (declared domains: every value's count released)."""
    n = len(df)
    out = {}
    for col in [*selected, *public]:
        values = df[col].astype(object)
        counts = values[values.notna()].value_counts()
        if col in public:
            domain = list(public[col])
            true = np.array([float(counts.get(v, 0)) for v in domain])
        else:
            domain = list(counts.index)
            true = counts.to_numpy(dtype=float)
        noisy = true + rng.normal(0.0, sigma, len(true))
        keep = np.ones(len(domain), bool) if col in public else noisy > threshold
        kept = sorted(((v, float(c)) for v, c, k in zip(domain, noisy, keep) if k), key=lambda vc: str(vc[0]))
        null = float(values.isna().sum() + rng.normal(0.0, sigma)) if nullable[col] else None
        other = n - sum(max(c, 0.0) for _, c in kept) - max(null or 0.0, 0.0)
        out[col] = CategoryCounts(
            [v for v, _ in kept], [c for _, c in kept], null, max(other, 0.0), col not in public, sigma
        )
    return out


@dataclass
class QuantileTree:
    """The noisy hierarchical histogram of one numeric column; quantiles and CDF by descent."""

    sigma: float  # noise of the nodes below level 0
    sigma0: float  # noise of level 0 (the octave cells and the null cell)
    rng: np.random.Generator
    level0: np.ndarray  # noisy counts of the octave cells
    null: float  # noisy count of the null cell
    counts: list[dict[int, int]]  # true counts per level 1..LEVELS, keyed cell * 2^level + index
    noise: dict[tuple[int, int], float] = field(default_factory=dict)
    edges: np.ndarray = field(default_factory=octave_edges)

    @classmethod
    def build(cls, x: np.ndarray, sigma: float, rng: np.random.Generator) -> QuantileTree:
        """``x``: the column as floats, NaN for null; ``sigma``: the plan's noise per node at equal
        noise on every level (level 0 gets less, the levels below a little more)."""
        sigma0, sigma = sigma * LEVEL0_SCALE, sigma * DEEP_SCALE
        edges = octave_edges()
        missing = np.isnan(x)
        v = np.clip(x[~missing], edges[0], edges[-1] * (1 - 1e-12))
        cell = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)
        u = np.clip((v - edges[cell]) / (edges[cell + 1] - edges[cell]), 0.0, 1.0 - 1e-12)
        level0 = np.bincount(cell, minlength=len(edges) - 1).astype(float)
        level0 += rng.normal(0.0, sigma0, len(level0))
        counts = []
        for level in range(1, LEVELS + 1):
            keys, c = np.unique(
                cell.astype(np.int64) * 2**level + np.floor(u * 2**level).astype(np.int64), return_counts=True
            )
            counts.append(dict(zip(keys.tolist(), c.tolist())))
        null = float(missing.sum() + rng.normal(0.0, sigma0))
        return cls(sigma, sigma0, rng, level0, null, counts, edges=edges)

    # -- reading the tree (post-processing) ---------------------------------------------------------

    def _node(self, level: int, key: int) -> float:
        """Noisy count of a node below level 0, its noise drawn on first read; counts below
        WALK_FLOOR sigma read as 0 (they are mostly noise, and empty nodes must not attract quantiles)."""
        if (level, key) not in self.noise:
            self.noise[(level, key)] = float(self.rng.normal(0.0, self.sigma))
        value = self.counts[level - 1].get(key, 0) + self.noise[(level, key)]
        return value if value > WALK_FLOOR * self.sigma else 0.0

    @property
    def pass_threshold(self) -> float:
        """Level-0 threshold: an empty cell of the grid passes with probability <= 0.1%."""
        return support_threshold(self.sigma / DEEP_SCALE)

    @functools.cached_property
    def _significant(self) -> np.ndarray:
        """Level-0 cells that hold rows: those clearing the threshold, and their neighbours above
        WALK_FLOOR sigma (tails are contiguous). A cell in between that reads as noise holds nothing."""
        keep = self.level0 > self.pass_threshold
        floor = self.level0 > WALK_FLOOR * self.sigma0
        for i in np.flatnonzero(keep):
            for step in (-1, 1):
                j = i + step
                while 0 <= j < len(keep) and floor[j] and not keep[j]:
                    keep[j] = True
                    j += step
        return keep

    def support(self) -> tuple[int, int] | None:
        """(first, last) significant octave cell; None if no cell clears the threshold."""
        cells = np.flatnonzero(self._significant)
        return (int(cells[0]), int(cells[-1])) if len(cells) else None

    @functools.cached_property
    def _weights(self) -> np.ndarray:
        """Noisy counts of the significant cells, 0 elsewhere (read once; every quantile walks them)."""
        return np.where(self._significant, np.clip(self.level0, 0.0, None), 0.0)

    def _split(self, level: int, key: int) -> float | None:
        """Share of the node (level-1, key) in its left child, or None when its children are noise."""
        left, right = self._node(level, 2 * key), self._node(level, 2 * key + 1)
        if left + right <= 0:
            return None
        return left / (left + right)

    def quantile(self, p: float) -> float:
        w = self._weights
        target = float(np.clip(p, 0.0, 1.0)) * w.sum()
        cum = np.cumsum(w)
        cell = int(min(np.searchsorted(cum, target, side="left"), np.flatnonzero(w)[-1]))
        r = (target - (cum[cell] - w[cell])) / w[cell] if w[cell] > 0 else 0.5
        lo, width, key = 0.0, 1.0, cell
        for level in range(1, LEVELS + 1):
            f = self._split(level, key)
            if f is None:
                break
            width /= 2
            if r < f:
                r, key = r / f if f > 0 else 0.0, 2 * key
            else:
                r, key, lo = (r - f) / (1 - f) if f < 1 else 0.0, 2 * key + 1, lo + width
        u = lo + float(np.clip(r, 0.0, 1.0)) * width
        a, b = self.edges[cell], self.edges[cell + 1]
        return float(a + u * (b - a))

    def non_null_outside_support(self, n: int) -> float:
        """Estimated share of the non-null values outside the support (clipped to its bounds)."""
        non_null = n - max(self.null, 0.0)
        return float(np.clip(1 - self._weights.sum() / non_null, 0.0, 1.0)) if non_null > 0 else 0.0
