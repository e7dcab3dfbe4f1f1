"""Fitting the column encodings: what the synthesizer learns from the rows before training.

Under DP every fact comes from one of two Gaussian mechanisms planned by ``accounting`` and run
in ``dp_domains``: the joint category mechanism (domains of undeclared categorical columns, and
the target's distribution when it is categorical or boolean) and the joint located histogram of the
numeric and date columns (bounds, bins, null and clipped shares). Everything else here is post-processing of
their noisy outputs, and every column's outcome is written to the ledger. Without DP
(``epsilon=None``) the same code reads exact values and says so.

The noisy counts are used, not thrown away: each encoded column gets a ``marginal`` over its
slots (category counts, bin shares, null share), which starts the decoder's output biases and,
for the target, is the distribution ``sample()`` draws the decoder's condition from.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import dp_domains, inequalities
from .accounting import PrivacyPlan, preprocessing_noise_multiplier
from .dp import PrivacyLedger
from .encoding import MAX_INTEGER_BINS, N_BINS, OTHER, ColumnEncoding, choose_transform, on_whole_units, to_float
from .metadata import TableMetadata

P_TAIL = 0.001  # the bounds are the 0.1% and 99.9% quantiles: each tail clips about 0.1% of the rows
FINE_LEVELS = 400  # quantile levels read to estimate each bin's share (post-processing)
ZERO = 2.0**-16  # finer than the quantile tree resolves next to 0
CLIP_WARNING = 0.02  # warn when more than 2% of a column's values would be clipped
OTHER_WARNING = 0.05
ROWS_PER_BIN = 6  # a quantile bin must hold at least 6 noise standard deviations of rows ...
MIN_BINS = 2  # ... and a column at least 2 such bins, or the fit is refused


def bins_for_noise(n: int, rank_noise: float) -> int:
    """How many quantile bins a rank noise of ``rank_noise`` rows supports on n rows (at most N_BINS):
    each must hold ROWS_PER_BIN of it, so that its edges are signal."""
    return int(min(N_BINS, n // (ROWS_PER_BIN * rank_noise))) if rank_noise > 0 else N_BINS


def quantile_bins(n: int, sigma: float) -> int:
    """The bins the plan's quantile noise ``sigma`` (a tree node's) supports (public settings only)."""
    return bins_for_noise(n, sigma * dp_domains.DEEP_SCALE)


class SynthesizerError(ValueError):
    """Bad parameters or input for the synthesizer; the message says how to fix it."""


class SynthesizerWarning(UserWarning):
    """A fit that works but loses structure; the message says what to declare or which epsilon helps."""


@dataclass
class Mechanisms:
    """Which columns each preprocessing mechanism covers (from the metadata only)."""

    selected: list[str]  # categorical columns whose domain is read from the data
    public_counts: dict[str, list]  # declared domains (and booleans) whose counts are released
    numeric: list[str]  # numeric and date columns without declared bounds: the located histogram
    histograms: list[str] = field(default_factory=list)  # declared bounds: counts of their public bins
    condition_table: list[str] = field(default_factory=list)  # the decoder's conditions, one joint table
    orders: list[tuple[str, str]] = field(default_factory=list)  # datetime pairs whose order is tested
    untested_orders: list[tuple[str, str]] = field(default_factory=list)  # too few rows to test them

    @classmethod
    def for_metadata(
        cls,
        meta: TableMetadata,
        condition_table: list[str] | None = None,
        bounded_in_tree: bool = True,
        measure_declared: bool | str = False,
        orders: list[tuple[str, str]] | None = None,
    ) -> Mechanisms:
        """An undeclared domain is read from the data; the target's marginal is always measured.
        Declared columns are used as declared (uniform bins, no marginal) unless ``measure_declared``
        (True; "lists": the category lists and booleans only): then a declared category list is public
        and only its counts are paid for, in the joint count mechanism (a row adds 1 to one value of
        each column), and a column with declared bounds gets its bins at DP quantiles inside them
        (``bounded_in_tree``) or, where the table is too small for the tree, uniform bins whose counts
        join the count mechanism."""
        selected, public, numeric, histograms = [], {}, [], []
        for col in meta.modeled:
            cm = meta.columns[col]
            kind = cm.modeled_kind()
            list_measured = measure_declared is not False or col == meta.target
            bounds_measured = measure_declared is True or col == meta.target
            if kind == "categorical" and cm.categories is None:
                selected.append(col)
            elif kind in ("categorical", "boolean"):
                if list_measured:
                    public[col] = [False, True] if kind == "boolean" else list(cm.categories)
            elif cm.bounds is None or (bounded_in_tree and bounds_measured):
                numeric.append(col)
            elif bounds_measured:
                histograms.append(col)
        return cls(selected, public, numeric, histograms, list(condition_table or []), list(orders or []))

    def gaussian_steps(self) -> list[tuple[str, list[str], float, float]]:
        """(name, columns, L2 sensitivity, weight) of each preprocessing mechanism."""
        steps = []
        cats = [*self.selected, *self.public_counts, *self.histograms]
        if cats:
            steps.append(("category domains", cats, math.sqrt(len(cats)), 1.0))
        if self.numeric:
            steps.append(
                ("numeric quantiles", self.numeric, math.sqrt(len(self.numeric) * (dp_domains.LEVELS + 1)), 1.0)
            )
        if self.condition_table:  # a row adds 1 to one cell
            steps.append(("condition table", self.condition_table, 1.0, 1.0))
        if self.orders:  # a row adds 1 to one of each pair's two counts
            columns = sorted({c for pair in self.orders for c in pair})
            steps.append(("datetime order", columns, math.sqrt(len(self.orders)), inequalities.ORDER_WEIGHT))
        return steps


class ExactQuantiles:
    """The non-private counterpart of ``dp_domains.LocatedHistogram`` (epsilon=None)."""

    def __init__(self, x: np.ndarray) -> None:
        self.values = np.sort(x[~np.isnan(x)])
        self.null = float(np.isnan(x).sum())

    def quantile(self, p: float) -> float:
        return float(np.quantile(self.values, p)) if len(self.values) else 0.0


def tree_resolves(plan: PrivacyPlan, mech: Mechanisms, n: int, bins: int = N_BINS) -> bool:
    """Whether the quantile tree's noise at this plan supports ``bins`` bins (public settings only)."""
    nums = plan.step("numeric quantiles") if plan.private else None
    return nums is None or not mech.numeric or quantile_bins(n, nums.sigma) >= bins


def whole_unit_cells(lo: float, hi: float, whole_units: bool) -> int | None:
    """A declared range's cells where it is cut a cell per integer (or day): when it holds at most
    MAX_INTEGER_BINS of them; else None (N_BINS uniform bins)."""
    return math.ceil(hi) - math.floor(lo) + 1 if whole_units and hi - lo + 1 <= MAX_INTEGER_BINS else None


def declared_cells(meta: TableMetadata) -> int:
    """The most cells a declared range is counted in (public), as ``_declared_encoding`` cuts it."""
    cells = [
        whole_unit_cells(*cm.bounds, on_whole_units(cm.modeled_kind(), bool(cm.integer))) or N_BINS
        for cm in (meta.columns[c] for c in meta.modeled)
        if cm.bounds is not None
    ]
    return max([N_BINS, *cells])


def declared_counts_hold(plan: PrivacyPlan, mech: Mechanisms, n: int, bins: int = N_BINS) -> bool:
    """Whether measuring the declared columns is worth its share of the budget (public settings
    only): the fit stays feasible with them, and an average one of ``bins`` cells (uniform bins, or a
    category list's values and null) clears the noise floor of the count mechanism they join. Below
    that (bins: penguins' 275 rows at any epsilon; lists: 300 rows at epsilon 0.25) the measured counts
    are mostly noise, read as 0, and calibration would hold the sampler to that noise, while their share
    of the budget can starve the categories that must be selected from the data."""
    if not plan.private:
        return True
    try:
        check_feasible(plan, mech, n)
    except SynthesizerError:
        return False
    cats = plan.step("category domains")
    if cats is None:
        return True
    return n / bins > dp_domains.NOISE_FLOOR * dp_domains.counted_sigma(
        cats.sigma, len(cats.columns), bool(mech.selected)
    )


def check_feasible(plan: PrivacyPlan, mech: Mechanisms, n: int) -> None:
    """Refuse, before the budget is charged or a row read, a table too small for the epsilon
    asked (from public settings only: the plan and the row count)."""
    if not plan.private:
        return
    cats, nums = plan.step("category domains"), plan.step("numeric quantiles")
    if mech.selected and cats is not None:
        tau = _selection_threshold(plan, cats, cats.sigma, len(mech.selected))
        if tau > n / 2:
            raise SynthesizerError(
                f"At epsilon {plan.epsilon:g} a category must hold more than {tau:,.0f} of the {n:,} rows to be kept, "
                f"so no category of {mech.selected} could survive. Declare their category lists "
                "(meta.set_categories, or a reviewed cleaning job's list with public: true), exclude them, "
                f"or use more rows or a larger epsilon ({_epsilon_for(plan, cats, n / 10, len(mech.selected))})."
            )
    if nums is not None and mech.numeric and quantile_bins(n, nums.sigma) < MIN_BINS:
        need = ROWS_PER_BIN * MIN_BINS * nums.sigma * dp_domains.DEEP_SCALE
        works = next(
            (
                eps
                for eps in (0.5, 1, 2, 3, 5, 10, 20, 50)
                if quantile_bins(
                    n,
                    nums.sensitivity
                    * preprocessing_noise_multiplier(
                        eps, plan.delta_accounted, plan.preprocessing_share, plan.preprocessing_weight
                    ),
                )
                >= MIN_BINS
            ),
            None,
        )
        raise SynthesizerError(
            f"At epsilon {plan.epsilon:g} the DP quantiles of {mech.numeric} need at least {need:,.0f} rows (each count "
            f"is noisy by about {nums.sigma * dp_domains.DEEP_SCALE:,.0f} rows) and the table has {n:,}: their bins would "
            "be noise. Declare their bounds (meta.set_bounds), use more rows, or "
            + (f"use epsilon {works:g} or more." if works else "a much larger epsilon.")
        )


def _selection_threshold(plan: PrivacyPlan, step, sigma: float, selected: int) -> float:
    """The fewest rows a value can be kept with at the step's noise ``sigma``: round 2's threshold, for
    a value whose rows have no other value left to find (public settings only)."""
    return dp_domains.category_thresholds(sigma, len(step.columns), plan.delta_selection, selected)[1]


def _epsilon_for(plan: PrivacyPlan, step, rows: float, selected: int) -> str:
    """The smallest epsilon on a public grid at which a category of ``rows`` rows would be kept."""
    mechanisms = plan.preprocessing_weight
    for eps in (0.5, 1, 2, 3, 5, 10, 20, 50):
        sigma = step.sensitivity * preprocessing_noise_multiplier(
            eps, plan.delta_accounted, plan.preprocessing_share, mechanisms
        )
        if _selection_threshold(plan, step, sigma, selected) <= rows:
            return f"at epsilon {eps:g} a category of {rows:,.0f} rows would be kept"
    return "even epsilon 50 would not keep a category of that size"


def fit_encodings(
    df: pd.DataFrame,
    meta: TableMetadata,
    dtypes: dict[str, str],
    plan: PrivacyPlan,
    mech: Mechanisms,
    rng: np.random.Generator,
    ledger: PrivacyLedger,
) -> tuple[list[ColumnEncoding], dict[str, list[float] | None]]:
    """The encodings of the modeled columns and each one's marginal over its slots (None: none known)."""
    n, private = len(df), plan.private
    declared = {}  # declared bounds: the bins are public, so rows are counted per bin like categories
    for col in mech.histograms:
        cm = meta.columns[col]
        declared[col] = ColumnEncoding(col, cm.modeled_kind(), dtypes[col], nullable=cm.nullable)
        _declared_encoding(declared[col], cm, ledger)
    binned = df.assign(**{c: _bin_codes(enc, df[c]) for c, enc in declared.items()})
    bins = {c: list(range(enc.n_bins)) for c, enc in declared.items()}
    cats = _category_counts(binned, meta, plan, mech, rng, ledger, bins)
    sources = _quantile_sources(df, meta, plan, mech, rng, ledger)
    encodings, marginals = [], {}
    for col in meta.modeled:
        cm = meta.columns[col]
        kind = cm.modeled_kind()
        enc = declared.get(col) or ColumnEncoding(col, kind, dtypes[col], nullable=cm.nullable)
        marginals[col] = None
        if kind == "boolean":
            ledger.add("encoding", col, "public domain {False, True}", 0.0)
            if col in cats:
                marginals[col] = _category_marginal(cats[col], [False, True], other_slot=False, boolean=True)
        elif kind == "categorical":
            if col in cats and cats[col].selected:
                enc.categories = cats[col].categories
                _note_categories(ledger, col, cats[col], n, private, plan, mech)
            else:
                enc.categories = list(cm.categories)
                ledger.add("category domain", col, "declared public", 0.0, 0.0, f"{len(enc.categories)} categories")
            if col in cats:
                marginals[col] = _category_marginal(cats[col], enc.categories, other_slot=True)
        elif col in declared:
            marginals[col] = _category_marginal(cats[col], list(range(enc.n_bins)), other_slot=False)
        elif col not in sources:  # declared bounds, not measured: uniform bins, no marginal
            _declared_encoding(enc, cm, ledger, counted=False)
        else:
            marginals[col] = _numeric_encoding(enc, cm, sources[col], n, ledger, private)
        encodings.append(enc)
    return encodings, marginals


def _bin_codes(enc: ColumnEncoding, values: pd.Series) -> pd.Series:
    """Each row's bin under declared bounds (null stays null), the value the count mechanism sees."""
    idx, _ = enc.encode(values)
    return pd.Series(idx, index=values.index, dtype="Int64").mask(values.isna().to_numpy())


def _category_counts(df, meta, plan, mech, rng, ledger, bins: dict) -> dict[str, dp_domains.CategoryCounts]:
    """``bins``: the public bin codes of the declared-bounds columns counted like categories."""
    public = mech.public_counts | bins
    cols = [*mech.selected, *public]
    if not cols:
        return {}
    nullable = {c: meta.columns[c].nullable for c in cols}
    if not plan.private:
        out = dp_domains.category_domains(df, mech.selected, public, nullable, 0.0, 0.0, rng)
        ledger.add("category domains", ", ".join(cols), "exact counts (NOT PRIVATE: epsilon=None)", math.inf)
        return out
    step = plan.step("category domains")
    out = dp_domains.category_domains(df, mech.selected, public, nullable, step.sigma, plan.delta_selection, rng)
    detail = f"noise std {step.sigma:.1f} rows, L2 sensitivity sqrt({len(cols)}) (every domain declared: one round)"
    if mech.selected:
        first, select = dp_domains.category_sigmas(step.sigma, len(cols))
        tau1, tau2 = dp_domains.category_thresholds(step.sigma, len(cols), plan.delta_selection, len(mech.selected))
        detail = (
            f"round 1 ({dp_domains.FIRST_ROUND_SHARE:.0%} of the step's rho): noise std {first:.1f} rows, L2 sensitivity "
            f"sqrt({len(cols)}), a value is kept when its noisy count exceeds {tau1:.0f} rows; round 2 (the rest), over "
            "the values round 1 did not keep: a row splits a unit of weight over them (1/sqrt(u) each of its u; L2 "
            f"sensitivity sqrt(1 + {dp_domains.TOTAL_WEIGHT:g}^2) with each column's weight total), noise std "
            f"{select:.1f}, kept above {tau2:.0f} (a row with one such value weighs 1, so {tau2:.0f} rows), counts "
            "scaled back to rows by the column's rows per unit of weight; columns whose round-1 lists overlap share a "
            f"domain: a row counts a value once over them, kept when their counts add up past "
            f"{dp_domains.shared_threshold(tau2, 2):.0f} for two columns (1 + {tau2 - 1:.0f} x sqrt(columns))"
            f" and listed in each column whose count clears {dp_domains.NOISE_FLOOR:g} noise std"
        )
    ledger.add(
        "category domains",
        ", ".join(cols),
        "Gaussian partition selection over all these columns at once (joint noisy counts + threshold)",
        plan.standalone_epsilon(step.noise_multiplier),
        plan.delta_selection if mech.selected else 0.0,
        f"{detail}; composed with the other mechanisms in one PLD (epsilon shown: this step alone)",
        composed=True,
    )
    return out


def _quantile_sources(df, meta, plan, mech, rng, ledger) -> dict:
    if not mech.numeric:
        return {}
    kinds = {c: meta.columns[c].modeled_kind() for c in mech.numeric}
    if not plan.private:
        ledger.add(
            "numeric quantiles", ", ".join(mech.numeric), "exact quantiles (NOT PRIVATE: epsilon=None)", math.inf
        )
        return {c: ExactQuantiles(to_float(df[c], kinds[c])) for c in mech.numeric}
    step = plan.step("numeric quantiles")
    m, share = len(mech.numeric), dp_domains.LOCATE_SHARE
    tree_sigma, cell_sigma = dp_domains.located_sigmas(step.sigma)
    ledger.add(
        "numeric quantiles",
        ", ".join(mech.numeric),
        "two Gaussian mechanisms over all these columns: a noisy hierarchical histogram on a public grid (octaves, "
        "then 16 halvings) locates the rows, then a noisy histogram over cells cut where they lie counts them",
        plan.standalone_epsilon(step.noise_multiplier),
        0.0,
        f"locating: {share:.0%} of the step's rho, noise std {tree_sigma:.1f} rows per node, L2 sensitivity "
        f"sqrt({m} x 17); counting: noise std {cell_sigma:.1f} rows per cell, L2 sensitivity sqrt({m}) (a row is in "
        "one cell; integer and datetime columns: cells of whole integers, days); bounds, bins, null and clipped "
        "shares are read from the counts; composed with the other "
        "mechanisms in one PLD (epsilon shown: this step alone)",
        composed=True,
    )
    return {
        c: dp_domains.LocatedHistogram.build(
            to_float(df[c], kinds[c]), step.sigma, rng, whole_units=on_whole_units(kinds[c], meta.columns[c].integer)
        )
        for c in mech.numeric
    }


def _category_marginal(
    counts: dp_domains.CategoryCounts, categories: list, other_slot: bool, boolean: bool = False
) -> list[float]:
    """Slots: the categories, "other" (categoricals, not booleans) and null."""
    by_value = dict(zip(counts.categories, counts.counts))
    if boolean:
        # Both values exist by type, so each reads as its noisy count, with no floor: zeroed under it, a
        # real minority vanished from the synthetic table (bank's `loan` on 1,000 rows at epsilon 1:
        # 17.5% true, under 3 sigma in one fit of three, and fidelity 0.46), where an empty value's noise
        # gives it a few percent at worst. Nulls keep the floor: a column without them gets none.
        return _normalise([max(by_value[v], 0.0) for v in categories] + [_signal(counts.null, counts)])
    # a declared value's noisy count under the noise floor reads as 0: otherwise noise gives empty
    # values (and a value one rare row has) mass that the calibration would then hold the sampler to
    # (a selected value cleared its selection threshold, far above the floor)
    values = [by_value[v] if counts.selected else _signal(by_value.get(v), counts) for v in categories]
    low = [by_value.get(v) or 0.0 for v, signal in zip(categories, values) if signal == 0.0]
    if other_slot and low:
        # ... but together they are signal: the sum of their noisy counts estimates the rows they hold
        # (noise sigma sqrt(k) against k floors), shared equally. Zeroed, the sampler never drew them:
        # most of taxis' ~200 declared zones, a quarter of its rows (zone fidelity 0.52-0.64 -> 0.73-0.82
        # at eps 3). Categorical columns only (those with an "other" slot): a declared list names values
        # that occur, while a declared numeric range's far bins are often empty.
        pooled = max(float(sum(low)), 0.0) / len(low)
        values = [pooled if v == 0.0 else v for v in values]
    slots = values + ([counts.measured_other] if other_slot else []) + [_signal(counts.null, counts)]
    return _normalise(slots)


def _normalise(slots: list[float]) -> list[float]:
    total = float(sum(slots))
    return [s / total for s in slots] if total > 0 else [1.0 / len(slots)] * len(slots)


def _note_categories(ledger, col, counts, n, private, plan, mech) -> None:
    other, noise = (counts.other / n, counts.other_sigma / n) if n else (0.0, 0.0)
    if not private:
        ledger.add(
            "category domain",
            col,
            "exact (NOT PRIVATE: epsilon=None)",
            0.0,
            0.0,
            f"{len(counts.categories)} categories",
        )
        return
    ledger.add(
        "category domain",
        col,
        "from the joint category mechanism (see 'category domains')",
        0.0,
        0.0,
        f"{len(counts.categories)} categories kept"
        + (f" ({counts.found_later} of them by round 2)" if counts.found_later else "")
        + (
            f", counted with {', '.join(counts.shares_domain_with)} (a shared domain)"
            if counts.shares_domain_with
            else ""
        )
        + f"; about {other:.1%} of rows fall in '{OTHER}' (noise about {noise:.1%})",
        composed=True,
    )
    step = plan.step("category domains")
    tau = _selection_threshold(plan, step, step.sigma, len(mech.selected))
    if not counts.categories:
        warnings.warn(
            f"Column {col!r} kept no category at epsilon {plan.epsilon:g}: a value needs more than about {tau:,.0f} rows "
            f"to be kept, so every synthetic value of {col!r} will be '{OTHER}'. Declare its categories "
            f"(meta.set_categories) or exclude it; {_epsilon_for(plan, step, n / 20, len(mech.selected))}.",
            SynthesizerWarning,
            stacklevel=4,
        )
    elif counts.measured_other > OTHER_WARNING * n:  # as the marginal reads it: under its noise, none
        warnings.warn(
            f"Column {col!r}: about {other:.0%} (noise about {noise:.0%}) of its rows fall in values too rare to be kept at epsilon "
            f"{plan.epsilon:g} (a value needs at least ~{tau:,.0f} rows, more when its rows' other columns are rare "
            f"too) and become '{OTHER}'; declare its categories to keep them.",
            SynthesizerWarning,
            stacklevel=4,
        )


def _numeric_encoding(enc: ColumnEncoding, cm, source, n: int, ledger: PrivacyLedger, private: bool) -> list[float]:
    """Bounds and bins from the quantiles; returns the marginal over the column's slots."""
    if private and source.support() is None:
        raise SynthesizerError(
            f"Column {enc.name!r}: no range of values holds enough rows to be seen under DP noise at this epsilon. "
            "Declare its bounds (meta.set_bounds) or exclude it."
        )
    enc.integer = bool(cm.integer)  # a datetime: a date (whole days)
    # as many bins as the plan's tree noise supports, or more where the counted cells' rank noise does
    # (taxis, validation split: eps 1 5 -> 7-8 bins, eps 3 14 -> 14-16, fidelity +0.012; bank, diamonds: 32)
    bins = max(quantile_bins(n, source.plan_sigma), bins_for_noise(n, source.rank_noise())) if private else N_BINS
    levels = np.concatenate([[P_TAIL], np.arange(1, bins) / bins, [1 - P_TAIL]])
    q = np.maximum.accumulate([source.quantile(p) for p in levels])
    q[np.abs(q) < ZERO] = 0.0  # below the grid's resolution near 0: a zero
    if not private:
        q[0], q[-1] = source.quantile(0.0), source.quantile(1.0)
    declared = cm.bounds is not None
    if declared:  # the declared range wins: nothing inside it is clipped, nothing outside it kept
        lo, hi = (float(b) for b in cm.bounds)
        q = np.clip(q, lo, hi)
        # the DP tails stay edges and the bounds become two more: bins of ~0.1% of the rows each
        # out there, not one bin from the bound to the 3% quantile (values spread over a wide bin)
        q = np.concatenate([[lo] if lo < q[0] else [], q, [hi] if hi > q[-1] else []])
    if enc.day_or_integer_grid:  # an estimate inside [k, k + 1) is the integer k's (day's) mass
        q = np.floor(q + 1e-9)
        if q[-1] - q[0] + 1 <= MAX_INTEGER_BINS:
            enc.integer_bins, enc.n_bins = True, int(q[-1] - q[0] + 1)
            edges = None
        else:
            atoms = np.unique(q[1:][q[1:] == q[:-1]])
            edges = np.unique(np.concatenate([q[:-1] - 0.5, atoms + 0.5, [q[-1] + 0.5]]))
    else:
        edges = _float_edges(q)
    if edges is not None:
        enc.bin_edges, enc.n_bins = [float(e) for e in edges], len(edges) - 1
        enc.lo, enc.hi = float(edges[0]), float(edges[-1])
    else:
        enc.lo, enc.hi = float(q[0]), float(q[-1])
    enc.transform = "identity" if enc.integer_bins else choose_transform(enc.lo, enc.hi)
    shares = _bin_shares(enc, source, n)
    clipped = 2 * P_TAIL + source.non_null_outside_support(n) if private and not declared else 0.0
    how = "DP quantiles from the located histogram" if private else "exact quantiles (NOT PRIVATE: epsilon=None)"
    ledger.add(
        "bins",
        enc.name,
        how + (", inside the declared bounds" if declared else ""),
        0.0 if private else math.inf,
        0.0,
        f"[{enc.lo:g}, {enc.hi:g}], {enc.n_bins} bins"
        + (
            f"; about {clipped:.1%} of values clipped to the bounds (measured: every row is in one counted cell; "
            f"noise about {source.clipped_noise(n):.1%})"
            if private and not declared
            else ""
        ),
        composed=private,
    )
    if private and not declared and clipped > CLIP_WARNING:
        warnings.warn(
            f"Column {enc.name!r}: about {clipped:.0%} (noise about {source.clipped_noise(n):.0%}) of its values lie "
            f"outside the range seen under DP noise ([{enc.lo:g}, {enc.hi:g}]) and are clipped to it; declare its "
            "bounds (meta.set_bounds) to keep them.",
            SynthesizerWarning,
            stacklevel=4,
        )
    return shares


def _bin_shares(enc: ColumnEncoding, source, n: int) -> list[float]:
    """The column's marginal over its slots (bins, null), read from the quantiles (post-processing)."""
    fine = np.array([source.quantile(p) for p in (np.arange(FINE_LEVELS) + 0.5) / FINE_LEVELS])
    if enc.day_or_integer_grid:  # as for the bins: an estimate inside [k, k + 1) is k's mass (encode rounds)
        fine = np.floor(fine + 1e-9)
    idx, _ = enc.encode(pd.Series(_snap(fine, np.asarray(enc.bin_edges or [], dtype=float))))
    null = min(_signal(source.null, source) / n, 1.0) if enc.nullable else 0.0
    shares = np.bincount(idx, minlength=enc.slots)[: enc.slots - 1] / FINE_LEVELS * (1 - null)
    return [*shares.tolist(), null]


def _signal(count: float | None, source) -> float:
    """A noisy count, read as 0 under the noise floor (mostly noise)."""
    sigma = getattr(source, "sigma0", getattr(source, "sigma", 0.0))
    return float(count) if count is not None and count > dp_domains.NOISE_FLOOR * sigma else 0.0


def _snap(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Quantiles read as the atom (or zero) they estimate, as the edges were (``_float_edges``)."""
    out = np.where(np.abs(values) < ZERO, 0.0, values)
    for atom in edges[1:][edges[1:] == edges[:-1]]:
        out[np.abs(out - atom) <= 1e-6 * max(abs(atom), 2.0**-8)] = atom
    return out


def _declared_encoding(enc: ColumnEncoding, cm, ledger: PrivacyLedger, counted: bool = True) -> None:
    """Declared public bounds: uniform bins on a transform chosen from them, nothing read from the rows."""
    enc.lo, enc.hi = float(cm.bounds[0]), float(cm.bounds[1])
    enc.integer = bool(cm.integer)  # a datetime: a date (whole days)
    cells = whole_unit_cells(enc.lo, enc.hi, enc.day_or_integer_grid)
    if cells is not None:  # a bin per integer (day)
        enc.lo, enc.hi = math.floor(enc.lo), math.ceil(enc.hi)
        enc.integer_bins, enc.n_bins = True, cells
    else:
        enc.transform, enc.n_bins = choose_transform(enc.lo, enc.hi), N_BINS
    detail = f"[{enc.lo:g}, {enc.hi:g}], {enc.n_bins} uniform bins" + (
        "; their counts: the category-domains step" if counted else ""
    )
    ledger.add("bounds", enc.name, "declared public", 0.0, 0.0, detail)


def _float_edges(q: np.ndarray) -> np.ndarray:
    """Edges from sorted quantiles; a value that holds several quantiles becomes a zero-width bin (an atom)."""
    tol = 1e-6 * np.maximum(np.abs(q), 2.0**-8)  # the tree's resolution is 2^-16 of an octave
    snapped = q.copy()
    for i in range(1, len(q)):
        if snapped[i] - snapped[i - 1] <= tol[i]:
            snapped[i] = snapped[i - 1]
    edges, counts = np.unique(snapped, return_counts=True)
    edges = np.array([float(f"{e:.6g}") if c > 1 else e for e, c in zip(edges, counts)])
    atoms = edges[counts > 1]
    out = np.sort(np.concatenate([edges, atoms]))
    if len(out) < 2:
        out = np.array([out[0], out[0] + max(abs(out[0]) * 1e-6, 1e-6)])
    return out
