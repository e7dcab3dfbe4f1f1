"""The DP preprocessing: category domains and numeric quantiles, each one Gaussian mechanism over
all the columns it covers (its noise comes from the plan in ``accounting``).

**Category domains** (Gaussian partition selection, after Wilson et al. 2020 and Desfontaines et
al. 2022, in two rounds like the weighted policies of Gopi et al. 2020's DP set union): the counts of
(column, value) pairs get Gaussian noise and an observed value is kept when its noisy count exceeds a
threshold. Round 1 (FIRST_ROUND_SHARE of the step's rho) counts every column, a row adding 1 to one
value per column (L2 sensitivity sqrt(k)): it keeps the frequent values. Round 2 spends the rest on
the values round 1 did not keep: a row with u such values adds 1/sqrt(u) to each (L2 norm 1), so a
rare zone of a row whose colour and payment are common counts in full instead of 1/sqrt(k) (taxis at
eps 3: a value is kept from ~19-27 rows instead of ~39). Columns whose round-1 lists overlap share a
domain (taxis' pick-up and drop-off zones): round 2 counts a row's value once over them and keeps a
value new to them when its counts add up past the threshold of their summed noise, so a zone is kept
from ~27 pick-ups and drop-offs together instead of ~19 of either. Counts of values both neighbours have are
Gaussian mechanisms (in the PLD: two rounds of fixed noise whose rho adds up to the plan's step; round
2's weights depend on the data only through round 1's noisy output); a value only the added row has
is released in a round with probability at most 1 - Phi((tau - 1) / sigma), so over its at most k
new (column, value) pairs in round 1 and (group, value) pairs in round 2 with at most half of
``delta_selection`` per round (outside the PLD). Nulls and declared
(public) values are partitions known in advance: their noisy counts are always released (round 1;
when every domain is declared, one round at the whole step's noise). The noisy counts are kept: they
are paid for, and the synthesizer uses them (the target's distribution, the decoder's starting point).

**Numeric quantiles** (``LocatedHistogram``: two Gaussian mechanisms in sequence, whose privacy
losses add up to the plan's one step). First a noisy hierarchical histogram on a public grid
(``QuantileTree``) locates the rows: level 0 cuts the line at 0 and +-2^k (k = -8..40) plus a null
cell; below it, each octave cell is halved ``LEVELS`` times (relative resolution 2^-16: a day in a
date, far less than a cent in an amount). A row adds 1 to one node per level, so with noise sigma
on every node the L2 sensitivity is sqrt(LEVELS + 1) per column and sqrt(m (LEVELS + 1)) over m
columns; level 0 gets sigma / 2 and the levels below a bit more than sigma, at the same privacy loss
(``LEVEL0_SCALE``). Every node's noise is drawn once, the first time it is read (the same as noising
the whole tree up front), so anything read from it is post-processing. Then a noisy histogram over
cells cut where the tree found the rows (and whole octaves elsewhere) counts them: a row is in one
cell, sensitivity 1 per column. Its cells choose nothing from the data but the tree's noisy output,
so the two compose adaptively like two Gaussians of fixed noise.
"""

from __future__ import annotations

import functools
import math
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


def cell_and_rank(weights: np.ndarray, p: float) -> tuple[int, float]:
    """The cell holding the p-quantile of ``weights`` (some positive) and the rank inside it, in [0, 1]."""
    cum = np.cumsum(weights)
    target = float(np.clip(p, 0.0, 1.0)) * cum[-1]
    cell = int(min(np.searchsorted(cum, target, side="left"), np.flatnonzero(weights)[-1]))
    w = weights[cell]
    return cell, float(np.clip((target - (cum[cell] - w)) / w, 0.0, 1.0)) if w > 0 else 0.5


def support_threshold(sigma: float) -> float:
    """Level-0 threshold for the plan's node noise ``sigma``: an empty cell of the grid passes with
    probability 0.1% at most."""
    return sigma * LEVEL0_SCALE * float(norm.isf(0.001 / (len(octave_edges()) - 1)))


FIRST_ROUND_SHARE = 0.2  # of the category step's rho spent on round 1 (every column, frequent values)
# Round 2 also releases, per selected column, the noisy total of the weights its rows gave (scaled by this):
# the ratio of rows to weight there turns the weighted counts back into rows.
TOTAL_WEIGHT = 0.25
# Two columns share a domain (round 2 counts their values together) when at least this share of the
# values round 1 kept in the one with fewer are kept in the other too.
SHARED_VALUES = 0.5


@dataclass
class CategoryCounts:
    """What the category mechanism released for one column."""

    categories: list  # kept (or declared) values, sorted by name
    counts: list[float]  # their noisy counts (rows)
    null: float | None  # the null partition's noisy count (None: declared not nullable)
    other: float  # rows in no kept value: n - kept - null, from public n (post-processing)
    selected: bool  # True: the domain was selected from the data; False: declared public
    sigma: float = 0.0  # the noise standard deviation of the null and declared counts
    found_later: int = 0  # values the second round kept
    other_sigma: float = 0.0  # the noise standard deviation of ``other`` (n minus the noisy counts)
    shares_domain_with: list[str] = field(default_factory=list)  # counted together in round 2

    @property
    def measured_other(self) -> float:
        """``other`` where it clears NOISE_FLOOR times its noise, else 0: n minus the noisy counts of a
        column that kept every value still comes to a few percent of a small table (penguins' species
        kept all 3 values and read 8% of 275 rows, at noise 7%)."""
        return self.other if self.other > NOISE_FLOOR * self.other_sigma else 0.0


def category_sigmas(sigma: float, columns: int) -> tuple[float, float]:
    """(round 1, round 2) noise for the plan's ``sigma`` on ``columns`` columns (L2 sensitivity
    sqrt(columns)): the rounds split the step's rho FIRST_ROUND_SHARE and the rest, and round 2 has L2
    sensitivity sqrt(1 + TOTAL_WEIGHT^2)."""
    per_unit = sigma / columns**0.5
    return sigma / FIRST_ROUND_SHARE**0.5, per_unit * ((1 + TOTAL_WEIGHT**2) / (1 - FIRST_ROUND_SHARE)) ** 0.5


def counted_sigma(sigma: float, columns: int, selecting: bool) -> float:
    """Noise of the null and declared counts: round 1's where some domain is selected from the data,
    else the whole step's (nothing to select: one round)."""
    return category_sigmas(sigma, columns)[0] if selecting else sigma


def category_thresholds(sigma: float, columns: int, delta_selection: float, selected: int) -> tuple[float, float]:
    """(round 1 threshold in rows, round 2 threshold in weight: rows whose other columns' values were
    all kept weigh 1 each, a row with u values still open 1/sqrt(u)); each round spends half of
    ``delta_selection``."""
    first, select = category_sigmas(sigma, columns)
    return (
        selection_threshold(first, delta_selection / 2, selected),
        selection_threshold(select, delta_selection / 2, selected),
    )


def category_domains(
    df: pd.DataFrame,
    selected: list[str],
    public: dict[str, list],
    nullable: dict[str, bool],
    sigma: float,
    delta_selection: float,
    rng: np.random.Generator,
) -> dict[str, CategoryCounts]:
    """One Gaussian mechanism (in two rounds) over the columns in ``selected`` (domains read from the
    data, thresholded) and ``public`` (declared domains: every value's count released); ``sigma`` 0:
    exact counts, every observed value kept (epsilon=None)."""
    cols = [*selected, *public]
    n = len(df)
    values = {c: df[c].astype(object) for c in cols}
    true = {c: _true_counts(values[c], public.get(c)) for c in cols}
    nulls = {c: float(values[c].isna().sum()) if nullable[c] else None for c in cols}
    if sigma == 0:
        return {c: _released(true[c], nulls[c], n, c in selected, 0.0) for c in cols}
    first_sigma = counted_sigma(sigma, len(cols), bool(selected))
    first = {c: _noisy(true[c], nulls[c], first_sigma, rng) for c in cols}
    if not selected:  # every domain declared: one round
        return {c: _released(*first[c], n, False, first_sigma) for c in cols}
    select_sigma = category_sigmas(sigma, len(cols))[1]
    tau1, tau2 = category_thresholds(sigma, len(cols), delta_selection, len(selected))
    for c in selected:
        first[c] = (first[c][0][first[c][0] > tau1], first[c][1])
    found = _second_round(values, {c: first[c] for c in selected}, n, select_sigma, tau2, rng)
    out = {}
    for c in cols:
        counts, null = first[c]
        out[c] = _released(counts, null, n, c in selected, first_sigma, *found.get(c, (None, 0.0, [])))
    return out


def _true_counts(values: pd.Series, domain: list | None) -> pd.Series:
    counts = values[values.notna()].value_counts()
    return counts.astype(float) if domain is None else pd.Series([float(counts.get(v, 0)) for v in domain], domain)


def _noisy(counts: pd.Series, null: float | None, sigma: float, rng) -> tuple[pd.Series, float | None]:
    noisy = counts + rng.normal(0.0, sigma, len(counts))
    return noisy, None if null is None else null + float(rng.normal(0.0, sigma))


def _other(counts: pd.Series, null: float | None, n: int) -> float:
    return n - float(counts.clip(lower=0.0).sum()) - max(null or 0.0, 0.0)


def shared_threshold(tau2: float, columns: int) -> float:
    """Round 2's threshold on the summed counts of a value over ``columns`` columns that share a domain:
    a value only one row has still adds at most 1, and the noise of the sum is sqrt(columns) times one
    column's, so it passes with one column's probability (``tau2`` itself for a lone column)."""
    return 1.0 + (tau2 - 1.0) * columns**0.5


def shared_domains(kept: dict[str, set]) -> list[list[str]]:
    """Columns that share a domain, read from round 1's output alone (post-processing): two columns
    are linked when at least SHARED_VALUES of the values round 1 kept in the one with fewer are kept
    in the other too (taxis' pick-up and drop-off zones); groups are the linked components."""
    cols = list(kept)
    group = {c: i for i, c in enumerate(cols)}
    for i, a in enumerate(cols):
        for b in cols[i + 1 :]:
            fewer = min(len(kept[a]), len(kept[b]))
            both = len(kept[a] & kept[b])
            if fewer >= 2 and both >= SHARED_VALUES * fewer:
                old, new = group[b], group[a]
                group = {c: new if g == old else g for c, g in group.items()}
    return [[c for c in cols if group[c] == g] for g in dict.fromkeys(group.values())]


def _second_round(values: dict, first: dict, n: int, sigma: float, tau2: float, rng) -> dict:
    """Round 2 over the values round 1 did not keep, per group of columns that share a domain
    (``shared_domains``; a lone column is a group of one). A row's units are its distinct (group,
    value) pairs among those values; each of its u gets 1/sqrt(u), split equally over the columns of
    the group holding the value (L2 norm at most 1 whatever the row), so a rare zone of a row whose
    other columns are common counts in full instead of 1/sqrt(k). A value new to a group is kept when
    the noisy counts of its columns add up to more than tau2 at their summed noise (a value only one
    row has adds at most 1 to the sum): a zone half of whose rows are pick-ups and half drop-offs is
    kept from about 1/sqrt(2) of the rows one column needs. A group's kept value is listed in each of
    its columns whose own noisy count clears NOISE_FLOOR sigma; a value round 1 kept in one column of
    a group is public, so its counts in the group's other columns need only that floor. Each column's
    total weight is released too (scaled by TOTAL_WEIGHT): rows per unit of weight there turns a
    found value's weight back into rows.
    Returns {column: (the found values' counts in rows, their noise standard deviation, the other
    columns of its group)}."""
    cols = list(first)
    kept = {c: set(first[c][0].index) for c in cols}
    groups = shared_domains(kept)
    open_ = {c: values[c].where(values[c].notna() & ~values[c].isin(kept[c])) for c in cols}
    units, slots = [], {}  # per slot: whether it is its value's first in the group; its columns holding it
    for g in groups:
        for i, c in enumerate(g):
            same = [(open_[c] == open_[o]).to_numpy() for o in g]  # (False where open_[c] is null)
            slots[c] = np.sum(same, axis=0)  # the group's columns holding this slot's value
            units.append(open_[c].notna().to_numpy() & ~np.any(same[:i], axis=0))  # its first slot
    u = np.maximum(np.sum(units, axis=0), 1)
    found = {}
    for g in groups:
        public = set().union(*(kept[c] for c in g))
        new = sorted(set().union(*(open_[c].dropna() for c in g)) - public, key=str)
        noisy, ratio = {}, {}
        for c in g:
            rows = open_[c].notna().to_numpy()
            weight = 1.0 / (np.sqrt(u[rows]) * slots[c][rows])
            by_value = pd.Series(weight).groupby(open_[c][rows].to_numpy(), sort=False).sum()
            index = new + sorted(public - kept[c], key=str)  # every value the group may list here
            noisy[c] = by_value.reindex(index, fill_value=0.0) + rng.normal(0.0, sigma, len(index))
            total = (TOTAL_WEIGHT * weight.sum() + rng.normal(0.0, sigma)) / TOTAL_WEIGHT
            other = _other(*first[c], n)  # rows in values round 1 did not keep
            # a slot weighs at least 1 / (sqrt(k) x the group's size)
            ratio[c] = float(np.clip(other / total, 1.0, (len(cols) ** 0.5) * len(g))) if total > 0 else 1.0
        summed = sum(noisy[c].reindex(new) for c in g)
        kept_new = set(summed.index[summed > shared_threshold(tau2, len(g))])
        for c in g:
            listed = noisy[c][noisy[c].index.isin(kept_new | public) & (noisy[c] > NOISE_FLOOR * sigma)]
            # (the noisy counts of values kept near the threshold run high, but a truncated-normal estimate
            # did worse on taxis' zones: total error 13-24% against 9-15% of their rows)
            found[c] = (listed * ratio[c], sigma * ratio[c], [o for o in g if o != c])
    return found


def _released(
    counts: pd.Series,
    null: float | None,
    n: int,
    selected: bool,
    sigma: float,
    later: pd.Series | None = None,
    later_sigma: float = 0.0,
    shares_domain_with: list[str] | None = None,
) -> CategoryCounts:
    """``counts`` and ``null`` carry noise ``sigma``; ``later``: the values round 2 found (noise
    ``later_sigma``). ``other`` is n minus all of them, so its noise is theirs summed."""
    later = counts.iloc[:0] if later is None else later
    every = pd.concat([counts, later])
    kept = sorted(every.items(), key=lambda vc: str(vc[0]))
    variance = sigma**2 * (len(counts) + (null is not None)) + later_sigma**2 * len(later)
    return CategoryCounts(
        [v for v, _ in kept],
        [float(c) for _, c in kept],
        null,
        max(_other(every, null, n), 0.0),
        selected,
        sigma,
        found_later=len(later),
        other_sigma=variance**0.5,
        shares_domain_with=shares_domain_with or [],
    )


def cell_of(edges: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Index of the cell [edges[i], edges[i + 1]) each value lies in; values past the ends count in the end cells."""
    return np.clip(np.searchsorted(edges, v, side="right") - 1, 0, len(edges) - 2)


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
        cell = cell_of(edges, v)
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

    def _raw(self, level: int, key: int) -> float:
        """Noisy count of a node below level 0, its noise drawn on first read."""
        if (level, key) not in self.noise:
            self.noise[(level, key)] = float(self.rng.normal(0.0, self.sigma))
        return self.counts[level - 1].get(key, 0) + self.noise[(level, key)]

    def _node(self, level: int, key: int) -> float:
        """The noisy count, read as 0 under WALK_FLOOR sigma (mostly noise, and empty nodes must not
        attract quantiles)."""
        value = self._raw(level, key)
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
        cell, r = cell_and_rank(self._weights, p)
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

    def cdf(self, x: float) -> float:
        """Share of the (significant) mass below ``x``: the descent ``quantile`` inverts."""
        w = self._weights
        total = w.sum()
        cell = int(np.clip(np.searchsorted(self.edges, x, side="right") - 1, 0, len(w) - 1))
        if total <= 0:
            return 0.0
        a, b = self.edges[cell], self.edges[cell + 1]
        u = float(np.clip((x - a) / (b - a), 0.0, 1.0))
        before, scale, lo, width, key = 0.0, 1.0, 0.0, 1.0, cell
        for level in range(1, LEVELS + 1):
            f = self._split(level, key)
            if f is None:
                break
            width /= 2
            if u < lo + width:
                scale, key = scale * f, 2 * key
            else:
                before, scale, key, lo = before + scale * f, scale * (1 - f), 2 * key + 1, lo + width
        before += scale * float(np.clip((u - lo) / width, 0.0, 1.0))
        return float((w[:cell].sum() + w[cell] * before) / total)

    # -- where the data lies (post-processing: the frame the located histogram counts in) ----------

    def _locate(self, cell: int) -> tuple[int, int]:
        """(level, key) of the smallest node of octave ``cell`` that holds its mass: the descent goes
        into the larger child while it reads as rows (over WALK_FLOOR sigma) and the other under 2 sigma
        (an empty node does so 98% of the time). A node too wide costs resolution; one too narrow, rows:
        the frame adds two nodes either side."""
        level, key = 0, cell
        while level < LEVELS:
            left, right = self._raw(level + 1, 2 * key), self._raw(level + 1, 2 * key + 1)
            if min(left, right) >= 2 * self.sigma or max(left, right) <= WALK_FLOOR * self.sigma:
                break
            level, key = level + 1, 2 * key + (right > left)
        return level, key

    def frame(self, rows_per_cell: float, max_parts: int = 128, unit: float = 0.0) -> list[tuple[float, float, int]]:
        """Regions (lo, hi, equal cells) the located histogram cuts finely: in each octave that holds
        rows, the node found by ``_locate`` and two nodes either side (where a tail read as empty lies),
        in cells of about ``rows_per_cell`` rows over the span of the octave's central rows (the node can
        be much wider than the rows: the descent stops early rather than late); the octaves next to
        those in 4 cells, and every other octave whole. ``unit`` (1 for whole numbers, 0 otherwise): the
        node and the span are at least this wide (a node narrower than an integer sits on one atom, and
        two such nodes either side end short of the next integers: taxis' passengers located at 5 lost 6),
        and each region grows to the whole units it touches (an atom's node at 2: [2, 3))."""
        regions = []
        significant, w = self._significant, self._weights
        total = w.sum()
        for cell in range(len(self.edges) - 1):
            a, b = float(self.edges[cell]), float(self.edges[cell + 1])
            if significant[cell]:
                level, key = self._locate(cell)
                start = a + (key - cell * 2**level) * (b - a) / 2**level
                width = max((b - a) / 2**level, unit)
                before, share = w[:cell].sum() / total, w[cell] / total
                # the central 80%: walks to the 2% and 98% quantiles stop early at this noise and land
                # anywhere in a wide node; the region reaches 3 such spans past it (a long tail beyond is
                # counted in the wide cells and clipped)
                q10, q90 = self.quantile(before + 0.1 * share), self.quantile(before + 0.9 * share)
                span = max((q90 - q10) * 1.2, unit)
                parts = np.clip(2 ** round(np.log2(max(w[cell], rows_per_cell) / rows_per_cell)), 4, max_parts)
                step = span / parts if span > 0 else width / 4
                lo = max(start - 2 * width, a, q10 - 3 * span)
                hi = min(start + 3 * width, b, q90 + 3 * span)
                if hi - lo < step:
                    lo, hi = max(start - 2 * width, a), min(start + 3 * width, b)
                regions.append((lo, hi, int(np.ceil((hi - lo) / step))))
            else:  # a heavy tail runs on octave by octave: 4 cells next to the rows, 1 further out
                near = significant[max(cell - 1, 0)] or significant[min(cell + 1, len(significant) - 1)]
                regions.append((a, b, 4 if near else 1))
        if unit:
            regions = [(math.floor(lo), max(math.ceil(hi), math.floor(lo) + 1), k) for lo, hi, k in regions]
        return regions


LOCATE_SHARE = 0.25  # of the numeric step's budget (rho) spent locating the data; the rest counts it


def located_sigmas(sigma: float) -> tuple[float, float]:
    """(locating tree's node noise, counted cells' noise) for the plan's ``sigma``: the noise of a tree
    node (sensitivity sqrt(17) per column) at the whole step's budget. Per column, a Gaussian's rho
    is sensitivity^2 / (2 noise^2): 17 / (2 sigma^2) in all, split LOCATE_SHARE and the rest."""
    return sigma / LOCATE_SHARE**0.5, sigma / ((LEVELS + 1) * (1 - LOCATE_SHARE)) ** 0.5


EXTEND_Z = 2.5  # a block next to kept cells is kept when its sum clears 2.5 sigma of its noise
ROWS_PER_CELL = 8  # cells of ~8 sigma of rows where the data is dense: a quantile sums the noise of every cell below it


@dataclass
class LocatedHistogram:
    """One numeric column's DP quantiles in two Gaussian mechanisms (sequential composition; their
    privacy losses add up to the step's, see ``build``):

    1. **locate**: a ``QuantileTree`` at ``LOCATE_SHARE`` of the budget finds where the rows lie (which
       octaves, and within each the smallest node that holds them); nothing else is read from it.
    2. **count**: a histogram over a partition of the whole line chosen from 1.'s output (fine equal
       cells over the located nodes and two nodes either side, whole octaves elsewhere) plus a null
       cell. A row adds 1 to exactly one cell, so the L2 sensitivity is 1 per column, against
       sqrt(17) for a tree node: every count is sqrt(17 (1 - share)) ~ 3.6 times less noisy. A tail of
       a few cells' worth of rows is seen, and every row outside the kept cells is counted (the clipped
       share is measured, not bounded). The tree alone read nodes under 4 sigma as empty at each level
       and clipped up to 2.2 x 4 sigma rows unseen: a quarter of a month of taxi dates at epsilon 1.
    """

    sigma: float  # noise of every count
    edges: np.ndarray  # cell i is [edges[i], edges[i + 1])
    counts: np.ndarray  # noisy counts of the cells
    located: np.ndarray  # cells inside a located frame (clusters grow on these; see _with_inner_leftovers)
    null: float  # noisy count of the null cell
    plan_sigma: float  # the plan's node sigma (sets the number of quantile bins, as the tree's did)
    tree: QuantileTree  # the locating tree: where inside a cell its rows lie

    @property
    def sigma0(self) -> float:
        return self.sigma

    @classmethod
    def build(
        cls, x: np.ndarray, sigma: float, rng: np.random.Generator, whole_units: bool = False
    ) -> LocatedHistogram:
        """``sigma``: the plan's noise per tree node (sensitivity sqrt(17) per column). The locating tree
        gets sigma / sqrt(share) and the counts sigma / sqrt(17 (1 - share)) at sensitivity 1: in
        zero-concentrated (or Gaussian-DP) terms the two spend share and 1 - share of the step's rho,
        and the partition depends on the data only through the first one's noisy output.
        ``whole_units`` (declared: an integer column, or a datetime binned by day): the cells' edges are
        whole numbers, so a cell holds whole integers (days) and where the frame is finer than 1, each
        integer is counted alone. Cut anywhere, a cell holding several integers spread its count over
        them: taxis' passengers 3-6 (2.5-4.5% of the rows each) came out as one flat run, 6 often lost."""
        tree_sigma, cell_sigma = located_sigmas(sigma)
        tree = QuantileTree.build(x, tree_sigma, rng)
        regions = tree.frame(rows_per_cell=ROWS_PER_CELL * cell_sigma, unit=1.0 if whole_units else 0.0)
        edges = np.concatenate([tree.edges, *(np.linspace(lo, hi, k + 1) for lo, hi, k in regions)])
        edges = np.unique(np.round(edges) if whole_units else edges)
        # clusters of rows grow on the cells cut inside a region: the rest of the line is counted in wide
        # cells (what is left of an octave beside a located node) whose rows are clipped unless they lie
        # between kept cells
        mid = (edges[:-1] + edges[1:]) / 2
        located = np.zeros(len(mid), bool)
        for lo, hi, _ in regions:
            located |= (mid > lo) & (mid < hi)
        missing = np.isnan(x)
        cell = cell_of(edges, x[~missing])
        counts = np.bincount(cell, minlength=len(edges) - 1) + rng.normal(0.0, cell_sigma, len(edges) - 1)
        null = float(missing.sum() + rng.normal(0.0, cell_sigma))
        return cls(cell_sigma, edges, counts, located, null, sigma, tree)

    @functools.cached_property
    def _kept(self) -> np.ndarray:
        """The cells read as rows (their noisy counts, 0 elsewhere), grown from strong blocks of located
        cells: a block of 1, 2, 4, 8 or 16 cells starts a cluster when its sum clears a threshold that
        noise passes with probability 0.1% over all blocks, and a cluster extends while the next block's
        sum clears 2.5 sigma of its noise (more for a block wider than the cluster), keeping the block's
        part next to it; then the strongest block left starts the next cluster.
        Blocks, not cells: a thin tail (taxi fares over 25, ~45 rows per cell at sigma 30) is no cell's
        signal but is a block's."""
        c = np.where(self.located, self.counts, 0.0)
        kept, taken = np.zeros(len(c)), ~self.located
        sizes = (1, 2, 4, 8, 16)
        z_start = float(norm.isf(0.001 / max(len(sizes) * int(self.located.sum()), 1)))

        def z(lo: int, hi: int) -> float:
            return float(c[lo:hi].sum()) / ((hi - lo) ** 0.5 * self.sigma)

        def extends(a: int, b: int, lo: int, hi: int) -> bool:
            """Block [a, b) joins the cluster [lo, hi): at EXTEND_Z when no wider than it, at the start's
            bar when 4 times wider or more, in between on the log of the ratio. Ten blocks are tried per
            step, so noise clears EXTEND_Z somewhere a few times in a hundred; a false block as narrow as
            the cluster costs little, a whole far octave carries ~16 rows of noise to 2^k times the data
            (at the flat bar bank's campaign, maximum 63, once got a 99.9% quantile of 1.8e7 at epsilon 3:
            benchmarks/tail_bounds.py)."""
            ratio = (self.edges[b] - self.edges[a]) / (self.edges[hi] - self.edges[lo])
            weight = float(np.clip(np.log2(ratio) / 2, 0.0, 1.0))
            return z(a, b) > EXTEND_Z + (z_start - EXTEND_Z) * weight

        while True:
            cs, free = np.r_[0.0, np.cumsum(c)], np.r_[0, np.cumsum(taken)]
            best = (z_start, -1, 0)
            for k in sizes:
                if k > len(c):
                    break
                sums = (cs[k:] - cs[:-k]) / (k**0.5 * self.sigma)
                sums[(free[k:] - free[:-k]) > 0] = -np.inf  # blocks overlapping taken or unlocated cells
                i = int(np.argmax(sums))
                if sums[i] > best[0]:
                    best = (float(sums[i]), i, k)
            if best[1] < 0:
                return self._with_inner_leftovers(kept)
            lo, hi = best[1], best[1] + best[2]
            self._take(c, kept, lo, hi)
            taken[lo:hi] = True
            while block := next(
                (
                    (a, b)
                    for k in sizes
                    for a, b in ((hi, hi + k), (lo - k, lo))
                    if a >= 0 and b <= len(c) and not taken[a:b].any() and extends(a, b, lo, hi)
                ),
                None,
            ):
                block = self._near_part(c, *block, outward=block[0] == hi)
                self._take(c, kept, *block)
                taken[block[0] : block[1]] = True
                lo, hi = min(lo, block[0]), max(hi, block[1])

    def _with_inner_leftovers(self, kept: np.ndarray) -> np.ndarray:
        """Unlocated cells (what is left of an octave beside a located node) between kept cells are read
        too where their count clears EXTEND_Z: the locating descent goes to one child, so taxis' passengers
        were located at 2 and at 4-6 and the 187 rows of 3 (the rest of [2, 4)) were lost from the middle
        of the column. Only between kept cells: at an end such a cell reaches to its octave's edge (diamonds'
        depth: rows over 70 spread to 128), so there its rows are clipped and counted as clipped."""
        cells = np.flatnonzero(kept)
        if len(cells) == 0:
            return kept
        inner = np.zeros(len(kept), bool)
        inner[cells[0] : cells[-1] + 1] = True
        leftover = inner & ~self.located & (self.counts > EXTEND_Z * self.sigma)
        return np.where(leftover, self.counts, kept)

    @staticmethod
    def _near_part(c: np.ndarray, a: int, b: int, outward: bool) -> tuple[int, int]:
        """The part of an extending block [a, b) next to the cluster with the largest z: a block that
        clears the bar on rows next to the cluster would otherwise carry its far cells along (taxis'
        passengers: the rows at 4-6 took [3.2, 32) with them, a top edge at 32)."""
        run = c[a:b] if outward else c[a:b][::-1]
        j = 1 + int(np.argmax(np.cumsum(run) / np.sqrt(np.arange(1, len(run) + 1))))
        return (a, a + j) if outward else (b - j, b)

    @staticmethod
    def _take(c: np.ndarray, kept: np.ndarray, lo: int, hi: int) -> None:
        """Keep a block: its noisy sum, shared by its cells in proportion to their positive counts."""
        total, pos = float(c[lo:hi].sum()), np.clip(c[lo:hi], 0.0, None)
        kept[lo:hi] = pos * (total / pos.sum()) if pos.sum() > 0 else 0.0

    def share_outside_kept(self, x: np.ndarray) -> float:
        """Share of ``x``'s non-null values in no kept cell (clipped to the bounds, or in a gap). It reads
        the rows themselves: for benchmarks, never for a fit (which has ``non_null_outside_support``)."""
        v = x[~np.isnan(x)]
        return float((self._kept[cell_of(self.edges, v)] == 0).mean()) if len(v) else 0.0

    def support(self) -> tuple[float, float] | None:
        cells = np.flatnonzero(self._kept)
        return (float(self.edges[cells[0]]), float(self.edges[cells[-1] + 1])) if len(cells) else None

    def quantile(self, p: float) -> float:
        cell, r = cell_and_rank(self._kept, p)
        a, b = self.edges[cell], self.edges[cell + 1]
        # inside the cell, follow the tree where it sees rows: atoms (a table width of exactly 56, a -1
        # sentinel) stay atoms instead of spreading over the cell
        fa, fb = self.tree.cdf(a), self.tree.cdf(b)
        if fb > fa:
            return float(np.clip(self.tree.quantile(fa + r * (fb - fa)), a, b))
        return float(a + r * (b - a))

    def rank_noise(self) -> float:
        """Noise (rows) of a middle quantile's rank: half the kept cells' summed noise (the total is pinned)."""
        return 0.5 * max(np.count_nonzero(self._kept), 1) ** 0.5 * self.sigma

    def clipped_noise(self, n: int) -> float:
        """Standard deviation of ``non_null_outside_support``: the kept cells' and the null cell's noise."""
        return float((np.count_nonzero(self._kept) + 1) ** 0.5 * self.sigma / max(n - max(self.null, 0.0), 1.0))

    def non_null_outside_support(self, n: int) -> float:
        """Share of the non-null values in no kept cell (clipped to the bounds): every row is in one
        cell, so this is measured (noise about sqrt(cells) sigma rows)."""
        non_null = n - max(self.null, 0.0)
        return float(np.clip(1 - self._kept.sum() / non_null, 0.0, 1.0)) if non_null > 0 else 0.0
