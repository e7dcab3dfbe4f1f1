"""DP-TVAE: the tabular VAE of Xu et al. (2019), trained with DP-SGD, with a DP data encoding.

What touches the real data, and how it is paid for (see ``privacy_ledger()``): one plan for the
whole fit (``accounting``), composed by one accountant (PLD, Google's ``dp-accounting``):

* **Category domains** of undeclared categorical columns, and the target's distribution: one
  Gaussian partition selection over all those columns at once, in two rounds (``dp_domains``: the
  second weighs each row over its values the first did not keep); rare values fall into an
  ``"other"`` value. The noisy counts are kept and used.
* **Numeric and date columns**: bounds and bins at DP quantiles, from one located histogram over
  all of them (``dp_domains.LocatedHistogram``: a noisy hierarchical histogram on a public grid
  finds where the rows lie, a noisy histogram of cells cut there counts them); declared bounds are
  used as given. Values beyond the bounds are clipped, and the ledger says what share (measured).
* **Condition table** (``conditioning``, only with ``condition_on``): the joint noisy counts of the
  decoder's conditioning columns, from which sample() draws the conditions.
* **Datetime order** (``inequalities``, ``find_rules``): between undeclared datetime columns, noisy
  counts of the rows where each of a pair is below the other (a tenth of a step's share); a pair
  that almost no row breaks (a drop-off and its pick-up) is modeled like a declared rule, as its
  gap, so no synthetic row breaks it. ``rules_`` lists the rules the model keeps.
* **Encoding** of each value (``encoding``): a bin and a position inside it.
* **Training** (``network``, ``dpsgd``): DP-SGD with Poisson sampling, per-sample clipping
  (ghost norms) and Gaussian noise, its noise multiplier calibrated so that everything above
  composes to the requested epsilon. The decoder generates the columns one at a time
  (``autoregressive``, ``network.Decoder``), each given the ones before it, the declared targets
  last; their loss weighs ``target_weight`` times a column's.
* **Marginal calibration** (``calibration``): after training, per-slot logit offsets make each
  column's sampled marginal the measured one, column by column in the order they are generated
  (post-processing: no privacy cost).
* Null rates are learned by the model (every column has a null slot), so they are covered
  by DP-SGD. Whether a column *may* be null, whether it is integer, and the output dtypes
  come from the declared metadata, never from the values (one null more must not change
  what the sampler can produce). Column names, declared types and the row count are
  treated as public schema.
* **Randomness** that the DP analysis relies on (Poisson batches, DP-SGD noise, every
  preprocessing draw) comes from generators seeded from OS entropy at each DP fit and never
  stored; ``seed`` only makes the non-private parts reproducible (weight initialisation,
  sampling from a fitted model, fits with ``epsilon=None``).

Like scikit-learn and SDV: hyperparameters stay as given to ``__init__`` (``get_parameters()``),
everything learned in ``fit`` lives in attributes ending in ``_``, and ``save``/``load``
round-trip both.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import accounting, conditioning, dp, hierarchies, inequalities
from .accounting import PrivacyPlan
from .budget import PrivacyBudget
from .calibration import marginal_offsets
from .dpsgd import GhostClipper, add_noise_and_average, poisson_batches
from .encoding import OTHER as OTHER  # re-exported: the value rare categories become
from .encoding import ColumnEncoding, output_dtype
from .encoding_fit import (
    Mechanisms,
    check_feasible,
    declared_cells,
    declared_counts_hold,
    fit_encodings,
    tree_resolves,
)
from .encoding_fit import SynthesizerError as SynthesizerError  # re-exported: users catch them here
from .encoding_fit import SynthesizerWarning as SynthesizerWarning
from .metadata import MetadataError, TableMetadata
from .network import COND_SCALE, TVAE
from .progress import progress_bar

FORMAT = "workshop-dptvae/7"
CALIBRATION_ROWS = 20_000
# batch_size="auto": each DP-SGD step samples at least AUTO_BATCH_SHARE of the rows, and at least
# AUTO_BATCH_ROWS. With the epochs fixed, a larger batch takes fewer steps, each with less noise per row
# of signal; on bank and diamonds (27,000-32,000 training rows, validation split) batches of 2,000-4,000
# beat 500 in utility and pairs at both epsilons, and a quarter did no better (benchmarks/README.md).
# Taxis' validation split (3,833 rows), where its settings were chosen, keeps 500.
AUTO_BATCH_ROWS = 500
AUTO_BATCH_SHARE = 1 / 8
GUARANTEE = (
    "(epsilon, delta)-DP for adding or removing one row of the table given to fit(): the model, "
    "its samples and this ledger change in distribution by at most that much; public: column "
    "names, the declared metadata (roles, types, nullability, declared bounds, categories, rules and "
    "hierarchies) and the row count."
)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a saved model")


def _bin_places(enc: ColumnEncoding) -> torch.Tensor | None:
    """A numeric or date column's bins' places in [-1, 1] over its one-hot (the null slot: 0); None
    for other columns. A fixed function of the bins."""
    if enc.kind not in ("numerical", "datetime"):
        return None
    places = torch.zeros(enc.slots)
    if enc.n_bins > 1:
        places[: enc.n_bins] = torch.linspace(-1.0, 1.0, enc.n_bins)
    return places


class DPTVAESynthesizer:
    """A TVAE trained with differential privacy (``epsilon=None`` trains the non-private baseline).

    >>> synth = DPTVAESynthesizer(meta, epsilon=3.0).fit(train_df)
    >>> synth.sample(1000)
    """

    def __init__(
        self,
        metadata: TableMetadata,
        epsilon: float | None = 3.0,
        delta: float | None = None,
        epochs: int = 100,
        batch_size: int | str = "auto",
        max_grad_norm: float = 1.0,
        learning_rate: float = 2e-3,
        preprocessing_share: float = 0.45,
        hidden: tuple[int, ...] = (128, 128),
        latent_dim: int = 128,
        loss_factor: float = 0.5,
        target_weight: float = 3.0,
        condition_on_target: bool = False,
        condition_on: list[str] | tuple[str, ...] = (),
        also_predict: list[str] | tuple[str, ...] = (),
        calibrate_marginals: bool = True,
        within_bin: str = "learned",
        measure_declared: bool | str = "auto",
        autoregressive: bool = True,
        find_rules: bool = True,
        device: str = "auto",
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        if epsilon is not None and (
            isinstance(epsilon, bool)
            or not isinstance(epsilon, (int, float))
            or not (epsilon > 0 and math.isfinite(epsilon))
        ):
            raise SynthesizerError(f"epsilon must be a positive number (or None for no DP), got {epsilon!r}.")
        if delta is not None and not 0 < delta < 1:
            raise SynthesizerError(f"delta must be in (0, 1) and below 1/n, got {delta!r}.")
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise SynthesizerError(f"epochs must be a positive integer, got {epochs!r}.")
        if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise SynthesizerError(f'batch_size must be a positive integer or "auto", got {batch_size!r}.')
        if not max_grad_norm > 0:
            raise SynthesizerError(f"max_grad_norm must be positive, got {max_grad_norm!r}.")
        if not 0 < preprocessing_share < 1:
            raise SynthesizerError(f"preprocessing_share must be in (0, 1), got {preprocessing_share!r}.")
        if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
            raise SynthesizerError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}.")
        self.metadata = metadata
        self.epsilon = epsilon
        self.delta = delta
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_grad_norm = max_grad_norm
        self.learning_rate = learning_rate
        self.preprocessing_share = preprocessing_share
        self.hidden = tuple(hidden)
        self.latent_dim = latent_dim
        self.loss_factor = loss_factor
        self.target_weight = target_weight
        self.condition_on_target = bool(condition_on_target)
        if isinstance(condition_on, str) or len(set(condition_on)) != len(condition_on):
            raise SynthesizerError(f"condition_on must be a list of distinct column names, got {condition_on!r}.")
        self.condition_on = list(condition_on)
        if isinstance(also_predict, str) or len(set(also_predict)) != len(also_predict):
            raise SynthesizerError(f"also_predict must be a list of distinct column names, got {also_predict!r}.")
        self.also_predict = list(also_predict)
        self.calibrate_marginals = bool(calibrate_marginals)
        if within_bin not in ("learned", "uniform"):
            raise SynthesizerError(f"within_bin must be 'learned' or 'uniform', got {within_bin!r}.")
        self.within_bin = within_bin
        if measure_declared not in (True, False, "auto"):
            raise SynthesizerError(f"measure_declared must be True, False or 'auto', got {measure_declared!r}.")
        self.measure_declared = measure_declared
        self.autoregressive = bool(autoregressive)
        self.find_rules = bool(find_rules)
        self.device = device
        self.seed = seed
        self.progress = progress
        self.model_: TVAE | None = None
        self._sample_calls = 0

    def get_parameters(self) -> dict[str, Any]:
        """The hyperparameters, exactly as given to ``__init__`` (metadata apart)."""
        return {
            "epsilon": self.epsilon,
            "delta": self.delta,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "max_grad_norm": self.max_grad_norm,
            "learning_rate": self.learning_rate,
            "preprocessing_share": self.preprocessing_share,
            "hidden": list(self.hidden),
            "latent_dim": self.latent_dim,
            "loss_factor": self.loss_factor,
            "target_weight": self.target_weight,
            "condition_on_target": self.condition_on_target,
            "condition_on": list(self.condition_on),
            "also_predict": list(self.also_predict),
            "calibrate_marginals": self.calibrate_marginals,
            "within_bin": self.within_bin,
            "measure_declared": self.measure_declared,
            "autoregressive": self.autoregressive,
            "find_rules": self.find_rules,
            "device": self.device,
            "seed": self.seed,
            "progress": self.progress,
        }

    @property
    def private(self) -> bool:
        return self.epsilon is not None

    def _torch_device(self) -> torch.device:
        if self.device == "auto":
            return torch.device("cuda" if torch.cuda.is_available() else "cpu")
        return torch.device(self.device)

    # -- fit -------------------------------------------------------------------------------------

    def fit(
        self,
        df: pd.DataFrame,
        budget: PrivacyBudget | None = None,
        internal_only: bool = False,
        purpose: str = "DP-TVAE fit",
    ) -> DPTVAESynthesizer:
        """Fit on ``df`` (the training part only). Shows a progress bar with the epsilon spent.

        ``budget`` is charged before the data is touched and refuses a fit past its cap; a
        non-private fit on a tracked table needs ``internal_only`` (its model and samples stay
        with the data owner)."""
        self._check_input(df)
        n = len(df)
        self.batch_size_ = self.batch_rows(n)
        delta = 0.0
        if self.private:
            delta = self.delta if self.delta is not None else dp.default_delta(n)
            if delta >= 1 / n:
                raise SynthesizerError(f"delta={delta:g} must be below 1/n = {1 / n:.3g} for a table of {n} rows.")
        # with condition_on, the conditions are drawn from one noisy joint table (``conditioning``)
        condition_table = self._cond_columns() if self.condition_on else []
        model_meta = inequalities.modeling_metadata(self.metadata)  # a declared high column: its gap
        self.declared_measured_, mechanisms, plan = self._measured(model_meta, condition_table, n, delta)
        self.plan_ = plan
        if condition_table:
            try:
                cells = conditioning.max_cells(model_meta, condition_table)
            except ValueError as exc:
                raise SynthesizerError(f"{exc}, or leave it out of condition_on.") from None
            if cells > conditioning.MAX_CELLS:
                raise SynthesizerError(
                    f"Conditioning on {condition_table} makes a table of up to {cells:,} cells, more than "
                    f"{conditioning.MAX_CELLS:,}: its noisy counts would be mostly noise. Condition on fewer columns."
                )
        check_feasible(self.plan_, mechanisms, n)
        if budget is not None:
            budget.charge(self.epsilon, self.plan_.delta, purpose, internal_only=internal_only)
        self.internal_only_ = bool(internal_only) or not self.private
        # DP draws come from the OS; the seed only drives what the DP proof does not rely on.
        rng = dp.os_entropy_rng() if self.private else np.random.default_rng(self.seed)
        torch.manual_seed(self.seed)  # weight initialisation
        self.device_ = self._torch_device()
        self.ledger_ = dp.PrivacyLedger()
        self.columns_ = list(df.columns)
        self.dtypes_ = {c: output_dtype(self.metadata.columns[c], str(df[c].dtype)) for c in df.columns}
        self._ledger_preamble(n)
        self.rules_ = self._find_rules(df, mechanisms, rng)
        ruled = inequalities.with_rules(self.metadata, self.rules_)
        model_meta = inequalities.modeling_metadata(ruled)  # same mechanisms: a gap is undeclared like its column
        gaps = {high: "float64" for high in self.rules_}  # modeled as high - low
        df = hierarchies.to_combined(self.metadata, inequalities.to_gaps(ruled, df))
        combined = {child: "object" for child in hierarchies.parents(self.metadata)}  # (parent, child) pairs
        encodings, self.marginals_ = fit_encodings(
            df, model_meta, self.dtypes_ | gaps | combined, self.plan_, mechanisms, rng, self.ledger_
        )
        self.encodings_ = self._order(encodings)
        data = self._encode(df)
        self._set_condition_table(data, rng)
        self.model_ = self._new_model(data.shape[1])
        self._init_output_bias()
        start = time.perf_counter()
        self._train(torch.as_tensor(data, dtype=torch.float32, device=self.device_))
        self.training_seconds_ = time.perf_counter() - start
        self.logit_offsets_ = self._calibrate()
        if self.private and self.ledger_.epsilon > self.epsilon * (1 + 1e-9):
            raise AssertionError("privacy ledger exceeds the requested epsilon")  # guarded by construction
        if budget is not None:
            self.ledger_.lifetime = budget.summary()
        self._sample_calls = 0
        return self

    def _find_rules(self, df: pd.DataFrame, mechanisms: Mechanisms, rng: np.random.Generator) -> dict[str, str]:
        """{high: low}: the declared rules, and those found between datetime columns from noisy
        counts (``inequalities.found_rules``; the "datetime order" step of the plan). Pairs too few rows
        to test get a warning: unruled, taxis' drop-offs came before their pick-ups in half the rows."""
        declared = inequalities.pairs(self.metadata)
        if mechanisms.untested_orders:
            pairs = ", ".join(f"{a} and {b}" for a, b in mechanisms.untested_orders)
            a, b = mechanisms.untested_orders[0]
            warnings.warn(
                f"Datetime columns {pairs}: at epsilon {self.epsilon:g}, {len(df):,} rows are too few to find "
                "their order under DP, so each is modeled on its own and a synthetic row may put one before the "
                f"other. If one never comes before the other, declare it (e.g. meta.set_inequality({a!r}, {b!r})).",
                SynthesizerWarning,
                stacklevel=3,
            )
        candidates = mechanisms.orders
        if not candidates:
            return declared
        counts = inequalities.order_counts(df, candidates)
        if self.private:  # candidates are planned only with their step: no exact count leaves a DP fit
            step = self.plan_.step("datetime order")
            counts = counts + rng.normal(0.0, step.sigma, counts.shape)
        found, long = inequalities.found_rules(self.metadata, candidates, counts, len(df))
        if long:
            pairs = ", ".join(f"{high} >= {low}" for low, high in long)
            low, high = long[0]
            warnings.warn(
                f"Datetime columns {pairs}: the rows keep this order, but most are more than "
                f"{inequalities.NEAR_DAYS:g} days apart, so each column is modeled on its own (modeled as the gap, a "
                "column narrower than the gap came out spread: admissions a year wide from birth dates 80 years "
                "wide) and a synthetic row may break the order. If the gap follows from the start (a policy's end "
                f"a year after it), declare it (meta.set_inequality({low!r}, {high!r})).",
                SynthesizerWarning,
                stacklevel=3,
            )
        tested = "; ".join(
            f"{b} below {a}: {c[0]:,.0f} within {inequalities.NEAR_DAYS:g} days and {c[1]:,.0f} farther or alone, "
            f"{a} below {b}: {c[2]:,.0f} and {c[3]:,.0f}"
            for (a, b), c in zip(candidates, counts)
        )
        rules = ", ".join(f"{high} >= {low}" for high, low in found.items()) or "none"
        rules += f"; held with long gaps: {', '.join(f'{h} >= {lo}' for lo, h in long) or 'none'}"
        limit = (
            f"a rule where at most {inequalities.MAX_BROKEN_SHARE:.0%} of the rows break it and at most "
            f"{inequalities.MAX_FAR_SHARE:.0%} are more than {inequalities.NEAR_DAYS:g} days apart"
        )
        if not self.private:
            self.ledger_.add(
                "datetime order",
                ", ".join(sorted({c for pair in candidates for c in pair})),
                "exact counts (NOT PRIVATE: epsilon=None)",
                math.inf,
                0.0,
                f"rows {tested}; {limit}; found: {rules}",
            )
        else:
            self.ledger_.add(
                "datetime order",
                ", ".join(step.columns),
                "Gaussian noise on the rows where each column of a pair is below the other (or has a value the "
                "other lacks)",
                self.plan_.standalone_epsilon(step.noise_multiplier),
                0.0,
                f"noise std {step.sigma:.1f} rows, L2 sensitivity sqrt({len(candidates)}) (a row is in one count of "
                f"a pair); noisy rows {tested}; {limit}; found: {rules} (a rule is modeled as the gap from the lower "
                "column); "
                "composed with the other mechanisms in one PLD (epsilon shown: this step alone)",
                composed=True,
            )
        return declared | found

    def _new_model(self, data_dim: int) -> TVAE:
        ramps = self._cond_ramps()
        return TVAE(
            data_dim,
            sum(e.has_position for e in self.encodings_),
            self.hidden,
            self.latent_dim,
            cond_dim=ramps.shape[0],
            logit_groups=self._logit_groups(),
            cond_ramps=ramps,
            column_spans=self._column_spans() if self.autoregressive else None,
            chain_places=self._chain_places() if self.autoregressive else None,
            band_centres=self._band_centres() if self.autoregressive else None,
        ).to(self.device_)

    def _chain_places(self) -> torch.Tensor:
        """(row width, numeric columns): each numeric or date column's place in [-1, 1], its bin's place
        plus its position inside the bin (0 when null), as a linear map of the encoded row; the
        autoregressive path reads it (``network.Decoder``). A fixed function of the bins: no privacy cost."""
        blocks = []
        for enc, (st, ed) in zip(self.encodings_, self._column_spans()):
            places = _bin_places(enc)
            block = torch.zeros(ed - st, 0 if places is None else 1)
            if places is not None:
                block[: enc.slots, 0] = places
                if enc.has_position and enc.n_bins > 1:
                    block[-1, 0] = 1.0 / (enc.n_bins - 1)  # half a bin's width: the position is in [-1, 1]
            blocks.append(block)
        return torch.block_diag(*blocks)

    def _band_centres(self) -> torch.Tensor:
        """Each numeric or date bin's place in the encoded row, 0 elsewhere (``network.Decoder``'s bands)."""
        centres = []
        for enc, (st, ed) in zip(self.encodings_, self._column_spans()):
            block = torch.zeros(ed - st)
            places = _bin_places(enc)
            if places is not None:
                block[: enc.slots] = places
            centres.append(block)
        return torch.cat(centres)

    def _order(self, encodings: list[ColumnEncoding]) -> list[ColumnEncoding]:
        """The columns in the order the autoregressive path generates them: the conditions first (they
        are drawn from the condition table), the declared targets last (``also_predict``, then the
        target), so each target is drawn given every other column, which is what a model trained on
        the synthetic rows learns from them. A declared hierarchy's child comes after its parent (the
        sampler draws it under the parent drawn), with or without that path. A public choice."""
        depth = {e.name: hierarchies.depth(self.metadata, e.name) for e in encodings}
        if not self.autoregressive:
            return sorted(encodings, key=lambda e: depth[e.name])
        conditions = self._cond_columns()
        rank = {c: 2 for c in self._predicted()} | {c: 0 for c in conditions}
        if self.metadata.target and self.metadata.target not in conditions:
            rank[self.metadata.target] = 3
        up = hierarchies.parents(self.metadata)

        def place(col: str) -> int:  # never before a parent's place
            return max(rank.get(col, 1), place(up[col]) if col in up else 0)

        return sorted(encodings, key=lambda e: (place(e.name), depth[e.name]))

    def _predicted(self) -> list[str]:
        """The declared targets that are generated, not drawn as conditions: their loss weighs
        ``target_weight``."""
        conditions = self._cond_columns()
        target = [self.metadata.target] if self.metadata.target else []
        return [c for c in [*self.also_predict, *target] if c not in conditions]

    def _column_spans(self) -> list[tuple[int, int]]:
        """(start, end) of each column's outputs in the encoded row: its slots, then its position."""
        spans, start = [], 0
        for enc in self.encodings_:
            end = start + enc.slots + enc.has_position
            spans.append((start, end))
            start = end
        return spans

    def _logit_groups(self) -> list[int]:
        """Each output's softmax column (its learned temperature, ``network.Decoder``), -1 for positions."""
        groups, k = [], 0
        for kind, st, ed in self._layout():
            if kind == "softmax":
                groups += [k] * (ed - st)
                k += 1
            else:
                groups += [-1] * (ed - st)
        return groups

    def _measured(
        self, meta: TableMetadata, condition_table: list[str], n: int, delta: float
    ) -> tuple[bool | str, Mechanisms, accounting.PrivacyPlan]:
        """What ``measure_declared`` comes to on this table, with its mechanisms and plan (public settings
        only). "auto": every declared column where an average one of its cells clears the count
        mechanism's noise floor (a declared integer range is a cell per integer up to 64: penguins'
        flipper length, 172-231 mm, is 60 cells, not 32); else the declared lists and booleans alone
        where their values do ("lists": left unmeasured, bank's booleans cut to 1,000 rows came out
        8-15% null at epsilon 1); else none."""
        measure = self.measure_declared is not False
        mechanisms, plan = self._mechanisms(meta, condition_table, n, delta, measure)
        if self.measure_declared != "auto" or declared_counts_hold(plan, mechanisms, n, declared_cells(meta)):
            return measure, mechanisms, plan
        mechanisms, plan = self._mechanisms(meta, condition_table, n, delta, "lists")
        cells = [len(values) + 1 for c, values in mechanisms.public_counts.items() if c != meta.target]
        if cells and declared_counts_hold(plan, mechanisms, n, bins=max(cells)):
            return "lists", mechanisms, plan
        return False, *self._mechanisms(meta, condition_table, n, delta, False)

    def _mechanisms(
        self, meta: TableMetadata, condition_table: list[str], n: int, delta: float, measure: bool | str
    ) -> tuple[Mechanisms, accounting.PrivacyPlan]:
        """What the preprocessing measures on the model's columns (``meta``), and the budget planned
        for it (public settings only)."""
        # the declared metadata: a declared rule's columns are never searched
        keep_as_is = [*condition_table, *self.also_predict]
        orders = inequalities.order_candidates(self.metadata, keep_as_is) if self.find_rules else []
        mechanisms = Mechanisms.for_metadata(meta, condition_table, measure_declared=measure, orders=orders)
        plan = self._plan(mechanisms, n, delta)
        if not tree_resolves(plan, mechanisms, n):
            # Too few rows for the tree to place as many bins as uniform ones between declared bounds
            # would have (measured: taxis, 3,800 rows, 12 noisy quantile bins): bounded columns get
            # uniform bins, whose counts cost a share of the joint count mechanism instead.
            mechanisms = Mechanisms.for_metadata(
                meta, condition_table, bounded_in_tree=False, measure_declared=measure, orders=orders
            )
            plan = self._plan(mechanisms, n, delta)
        order = plan.step("datetime order")
        # a count of rows below sums two of a pair's cells (within NEAR_DAYS and farther)
        if order is not None and order.sigma * math.sqrt(2) > inequalities.ORDER_MAX_SIGMA * n:
            # too few rows to tell a rule from noise: not worth its share
            mechanisms.untested_orders, mechanisms.orders = mechanisms.orders, []
            plan = self._plan(mechanisms, n, delta)
        return mechanisms, plan

    def _plan(self, mechanisms: Mechanisms, n: int, delta: float) -> accounting.PrivacyPlan:
        """The whole budget, planned from public settings before any row is read."""
        try:
            return accounting.plan_fit(
                self.epsilon,
                delta,
                mechanisms.gaussian_steps(),
                selection=bool(mechanisms.selected),
                sample_rate=self.batch_size_ / n,
                sgd_steps=max(1, n // self.batch_size_) * self.epochs,
                preprocessing_share=self.preprocessing_share,
            )
        except ValueError as exc:
            raise SynthesizerError(f"Cannot plan the budget: {exc}.") from None

    def _cond_columns(self) -> list[str]:
        """The decoder's conditioning columns: the target (``condition_on_target``), then ``condition_on``."""
        target = [self.metadata.target] if self.condition_on_target and self.metadata.target else []
        return [c for c in [*target, *self.condition_on] if c in self.metadata.modeled]

    def _slot_spans(self) -> dict[str, tuple[int, int]]:
        """(start, end) of each column's one-hot in the encoded row (``_layout``'s softmax spans)."""
        softmax = [(st, ed) for kind, st, ed in self._layout() if kind == "softmax"]
        return {enc.name: span for enc, span in zip(self.encodings_, softmax)}

    def _cond_spans(self) -> list[tuple[str, int, int]]:
        """(column, start, end) of each conditioning column's one-hot in the encoded row."""
        spans = self._slot_spans()
        return [(c, *spans[c]) for c in self._cond_columns() if c in spans]

    def _cond_ramps(self) -> torch.Tensor:
        """(one-hot width, numeric conditions): maps the conditions' one-hots to one value in [-1, 1]
        per numeric or date condition (its bin's place; 0 when null), appended to the decoder's
        condition by ``network.Decoder``. A fixed function of the bin, so no privacy cost. Why: through the one-hot, each
        bin's weights learn only from that bin's rows; a weight on the bin's place learns the trend
        from every row (the sample's interest_rate R² ratio at epsilon 3: 0.88 without it, 0.90-0.91
        with it, two fits each, with the temperatures of ``network.Decoder``)."""
        by_name = {e.name: e for e in self.encodings_}
        blocks = []
        for c, st, ed in self._cond_spans():
            places = _bin_places(by_name[c])
            blocks.append(torch.zeros(ed - st, 0) if places is None else places[:, None])
        return torch.block_diag(*blocks) if blocks else torch.zeros(0, 0)

    def _set_condition_table(self, data: np.ndarray, rng: np.random.Generator) -> None:
        """The joint distribution over the conditioning columns' slots, from which sample() draws the
        decoder's condition. The target alone: its noisy marginal from the preprocessing (category
        counts or quantile tree), already paid. With ``condition_on``: one noisy contingency table
        (``conditioning``), a step of the plan."""
        spans = self._cond_spans()
        self.condition_table_ = None
        if not spans:
            return
        by_name = {e.name: e for e in self.encodings_}
        shape = tuple(ed - st for _, st, ed in spans)
        if len(spans) == 1 and not self.condition_on:
            enc = by_name[spans[0][0]]
            counts = np.asarray(self.marginals_.get(enc.name) or [1.0] * enc.slots, dtype=float)
            if not enc.nullable:  # declared: no nulls
                counts[-1] = 0.0
            table = conditioning.normalised(counts).tolist()
        else:
            slots = [data[:, st:ed].argmax(1) for _, st, ed in spans]
            step = self.plan_.step("condition table")
            sigma = step.sigma if self.private else 0.0
            table = conditioning.measure_table(slots, shape, sigma, rng)
            self.ledger_.add(
                "condition table",
                ", ".join(c for c, _, _ in spans),
                "Gaussian noisy contingency table of the decoder's conditions (sample() draws them from it)"
                if self.private
                else "exact contingency table (NOT PRIVATE: epsilon=None)",
                self.plan_.standalone_epsilon(step.noise_multiplier) if self.private else math.inf,
                0.0,
                f"{int(np.prod(shape))} cells"
                + (f", noise std {sigma:.1f} rows, L2 sensitivity 1" if self.private else ""),
                composed=self.private,
            )
        self.condition_table_ = {"columns": [c for c, _, _ in spans], "shape": list(shape), "p": table}

    def _init_output_bias(self) -> None:
        """Start each column's output logits at its paid-for marginal (log-shares), so DP-SGD's noisy
        steps refine the dependence between columns instead of first finding the marginals."""
        bias = self.model_.decoder.body[-1].bias
        cond_out = self.model_.decoder.cond_out
        with torch.no_grad():
            if self.private and cond_out is not None:
                # The direct path from the target enters at COND_SCALE; its random start would add logits of
                # several units that noisy DP-SGD steps cannot undo (taxis at epsilon 3, validation split:
                # fidelity 0.71 -> 0.79, TSTR/TRTR 0.78 -> 0.96). A plain fit corrects it, and keeps it.
                cond_out.weight.div_(COND_SCALE)
            spans = self._slot_spans()
            for enc in self.encodings_:
                st, ed = spans[enc.name]
                marginal = self.marginals_.get(enc.name)
                if marginal is None:
                    continue
                p = torch.tensor(marginal, dtype=torch.float32).clamp_min(1e-4)
                # + c^2 undoes the bands' start, -c^2 (network.Decoder), so sampling starts at the marginal
                band = self.model_.decoder.band_centres[st:ed] ** 2
                bias[st:ed] = torch.log(p / p.sum()).to(bias.device) + band

    def _check_input(self, df: pd.DataFrame) -> None:
        if not isinstance(df, pd.DataFrame) or df.empty:
            raise SynthesizerError("fit() needs a non-empty pandas DataFrame.")
        target = self.metadata.target
        if target is not None and target not in df.columns:
            raise SynthesizerError(f"Target column {target!r} is not in the table; columns are {list(df.columns)}.")
        for name, cols in (("condition_on", self.condition_on), ("also_predict", self.also_predict)):
            for col in cols:
                if col not in self.metadata.modeled or col == target:
                    raise SynthesizerError(
                        f"{name}: {col!r} is not a modeled column other than the target; "
                        f"modeled: {[c for c in self.metadata.modeled if c != target]}."
                    )
        try:
            self.metadata.validate(df)
        except MetadataError as exc:
            raise SynthesizerError(str(exc)) from None
        gaps = inequalities.pairs(self.metadata)
        for col in [*self.condition_on, *self.also_predict]:
            if col in gaps:
                raise SynthesizerError(
                    f"{col!r} is modeled as its gap from {gaps[col]!r} (declared {col} >= {gaps[col]}): it cannot be "
                    f"conditioned on or predicted; use {gaps[col]!r}, or remove the rule (meta.set_inequality(None, {col!r}))."
                )
        children = hierarchies.parents(self.metadata)
        for col in self.condition_on:
            if col in children:
                raise SynthesizerError(
                    f"{col!r} is declared within {children[col]!r}: a condition is drawn before every other column, "
                    f"so it cannot be kept under its parent; condition on {children[col]!r}, or remove the hierarchy "
                    f"(meta.set_hierarchy(None, {col!r}))."
                )
        try:
            hierarchies.check_values(self.metadata, df)
        except ValueError as exc:
            raise SynthesizerError(str(exc)) from None
        unmatched = inequalities.rows_without_low(self.metadata, df)
        if unmatched:
            raise SynthesizerError(
                f"Declared rule(s) with rows that have the higher value but not the lower one: {unmatched}. The gap "
                "cannot be modeled there: fill or null those values in the cleaning job, or remove the rule "
                "(meta.set_inequality(None, column))."
            )
        empty = [c for c in self.metadata.modeled if df[c].isna().all()]
        if empty:
            # Not excluded silently: which columns are empty is a fact about the rows, so the owner decides.
            raise SynthesizerError(
                f"Column(s) {empty} have no values at all: a model cannot learn them. Declare them excluded "
                "(meta.set_role(column, 'excluded'), or `roles: {column: excluded}` in the dataset spec) or fill "
                "them in the cleaning job."
            )
        batch = self.batch_rows(len(df))
        if len(df) < batch:
            given = "the automatic batch_size's " if self.batch_size == "auto" else "batch_size="
            raise SynthesizerError(
                f"The table has {len(df)} rows, fewer than {given}{batch}; pass a smaller batch_size (e.g. 64) "
                "or use more rows."
            )

    def batch_rows(self, n: int) -> int:
        """The expected batch for a table of ``n`` rows: ``batch_size``, or with "auto" n * AUTO_BATCH_SHARE
        but at least AUTO_BATCH_ROWS (from the public row count only)."""
        if self.batch_size == "auto":
            return max(AUTO_BATCH_ROWS, int(n * AUTO_BATCH_SHARE))
        return self.batch_size

    def _ledger_preamble(self, n: int) -> None:
        ledger = self.ledger_
        ledger.add("guarantee", "(table)", "what is protected", 0.0, 0.0, GUARANTEE if self.private else "none")
        ledger.add(
            "schema",
            "(all)",
            "declared public",
            0.0,
            0.0,
            f"column names, the declared metadata and the row count n={n} (sets the sampling rate) are treated as public",
        )
        if self.private:
            ledger.add("randomness", "(all)", "OS entropy", 0.0, 0.0, dp.SAMPLER_NOTE)

    def _encode(self, df: pd.DataFrame) -> np.ndarray:
        blocks = []
        for enc in self.encodings_:
            idx, pos = enc.encode(df[enc.name])
            onehot = np.zeros((len(df), enc.slots), dtype=np.float32)
            onehot[np.arange(len(df)), idx] = 1.0
            blocks.append(onehot)
            if enc.has_position:
                blocks.append(pos[:, None].astype(np.float32))
        return np.concatenate(blocks, axis=1)

    def _layout(self) -> list[tuple[str, int, int]]:
        spans, start = [], 0
        for enc in self.encodings_:
            spans.append(("softmax", start, start + enc.slots))
            start += enc.slots
            if enc.has_position:
                spans.append(("position", start, start + 1))
                start += 1
        return spans

    def _span_weights(self) -> list[float]:
        """Loss weight per layout span: ``target_weight`` for the declared targets' spans (the target
        and ``also_predict``), 1 elsewhere. A fixed hyperparameter: it steers capacity to them at no
        privacy cost."""
        weights, predicted = [], set(self._predicted())
        for enc in self.encodings_:
            w = self.target_weight if enc.name in predicted else 1.0
            weights += [w] * (2 if enc.has_position else 1)
        return weights

    def _loss_per_sample(
        self,
        x: torch.Tensor,
        generator: torch.Generator,
        spans: list[tuple[tuple[str, int, int], float]],
        cond_index: torch.Tensor | None,
    ) -> torch.Tensor:
        """Per-row loss; ``spans`` is the row layout with loss weights, worked out once per fit."""
        model = self.model_
        mu, logvar = model.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        recon, log_sigma = model.decoder(z, None if cond_index is None else x[:, cond_index], x)
        sigma = torch.exp(log_sigma)
        rec = torch.zeros(x.shape[0], device=x.device)
        k = 0
        for (kind, st, ed), weight in spans:
            if kind == "position":
                s = sigma[:, k]
                rec = rec + weight * ((x[:, st] - torch.tanh(recon[:, st])) ** 2 / (2 * s**2) + torch.log(s))
                k += 1
            else:
                rec = rec + weight * nn.functional.cross_entropy(
                    recon[:, st:ed], x[:, st:ed].argmax(1), reduction="none"
                )
        kld = -0.5 * torch.sum(1 + logvar - mu**2 - logvar.exp(), dim=1)
        # loss_factor 0.5, not TVAE's 2: with the KL term that weak against reconstruction, DP-SGD
        # let the encoder park bank's 18% "contacted" rows 12 units from the origin, where the prior
        # N(0, I) that sample() draws from has no mass: 100% of sampled rows were "not contacted"
        # while the same decoder on encoded rows gave 83% (real 82%). A prior hole, not drift. With
        # every domain declared (no marginal to calibrate to), bank at epsilon 3 and 10: 0.5 kept the
        # group in 5 of 5 fits, 2.0 lost it in 5 of 6; elsewhere within noise (README, synthesizer).
        return self.loss_factor * rec + kld

    def _train(self, data: torch.Tensor) -> None:
        n = data.shape[0]
        if self.private:  # batches and noise from the OS: nothing published can replay them
            gen, noise_gen = dp.os_entropy_torch_generator("cpu"), dp.os_entropy_torch_generator(self.device_)
        else:
            gen = torch.Generator(device="cpu").manual_seed(self.seed)
            noise_gen = torch.Generator(device=self.device_).manual_seed(self.seed + 1)
        optimizer = torch.optim.Adam(self.model_.parameters(), lr=self.learning_rate, weight_decay=1e-5)
        params = [q for q in self.model_.parameters() if q.requires_grad]
        plan = self.plan_
        self.sample_rate_, self.steps_ = plan.sample_rate, plan.sgd_steps
        steps_per_epoch = self.steps_ // self.epochs  # as planned (_plan)
        self.noise_multiplier_ = None
        if self.private:
            sigma = plan.sgd_noise_multiplier
            clipper = GhostClipper(self.model_)
        self.loss_history_, self.epsilon_history_, self.epoch_seconds_ = [], [], []
        spans = list(zip(self._layout(), self._span_weights()))
        cond_spans = self._cond_spans()
        cond_index = (
            torch.cat([torch.arange(st, ed) for _, st, ed in cond_spans]).to(self.device_) if cond_spans else None
        )
        bar = progress_bar(
            range(self.epochs), desc="DP-TVAE" if self.private else "TVAE (no DP)", disable=not self.progress
        )
        eps_now = 0.0
        for epoch in bar:
            total, count, epoch_start = 0.0, 0, time.perf_counter()
            batches = (
                poisson_batches(n, self.sample_rate_, steps_per_epoch, gen)
                if self.private
                else torch.randperm(n, generator=gen)[: steps_per_epoch * self.batch_size_].view(steps_per_epoch, -1)
            )
            for idx in batches:
                optimizer.zero_grad(set_to_none=True)
                if self.private:
                    if len(idx):
                        clipper.reset()
                        losses = self._loss_per_sample(data[idx.to(self.device_)], noise_gen, spans, cond_index)
                        norms, grads = clipper.per_sample_grads_norms(losses)
                        clipper.clipped_sum_into_grad(norms, grads, self.max_grad_norm)
                        total, count = total + float(losses.detach().sum()), count + len(idx)
                    add_noise_and_average(params, sigma, self.max_grad_norm, self.sample_rate_ * n, noise_gen)
                else:
                    losses = self._loss_per_sample(data[idx.to(self.device_)], noise_gen, spans, cond_index)
                    losses.mean().backward()
                    total, count = total + float(losses.detach().sum()), count + len(idx)
                optimizer.step()
                with torch.no_grad():  # data-independent projections of the output scales
                    self.model_.decoder.log_sigma.weight.clamp_(math.log(0.01), 0.0)
                    if self.model_.decoder.log_temp is not None:
                        self.model_.decoder.log_temp.weight.clamp_(-1.0, math.log(20.0))
            self.epoch_seconds_.append(time.perf_counter() - epoch_start)
            self.loss_history_.append(total / max(count, 1))
            # the epsilon curve (for the bar and plot_training) costs a PLD composition per point
            checkpoint = self.progress and (epoch + 1) % max(1, self.epochs // 10) == 0
            if self.private and (epoch + 1 == self.epochs or checkpoint):
                eps_now = plan.composed_epsilon((epoch + 1) * steps_per_epoch)
                self.epsilon_history_.append((epoch + 1, eps_now))
            # The loss is computed on real rows without noise: a DP fit shows only the epsilon spent.
            if self.private:
                bar.set_postfix(epsilon=f"{eps_now:.2f}")
            else:
                bar.set_postfix(loss=f"{self.loss_history_[-1]:.2f}")
        if self.private:
            clipper.close()
            self.noise_multiplier_ = sigma
            self.ledger_.add(
                "training",
                "(all modeled)",
                "DP-SGD: Poisson sampling, per-sample clipping, Gaussian noise",
                accounting.sgd_epsilon(plan),
                plan.delta_accounted,
                f"noise multiplier {sigma:.4f}, sample rate {self.sample_rate_:.5f}, "
                f"{self.steps_} steps, clipping norm {self.max_grad_norm}; composed with the preprocessing "
                "in one PLD (epsilon shown: this step alone)",
                composed=True,
            )
            shares = ", ".join(f"{s.name} {s.noise_multiplier:.1f}" for s in plan.steps)
            self.ledger_.add(
                "total",
                "(all)",
                "one accountant: PLD composition (dp-accounting, add/remove one row) of every step marked "
                "composed, plus the partition-selection delta",
                plan.composed_epsilon(),
                plan.delta,
                f"preprocessing share {plan.preprocessing_share:g} of the budget's rho; Gaussian noise multipliers: "
                f"{shares or 'none'}, DP-SGD {sigma:.4f}; delta {plan.delta_accounted:.3g} in the PLD + "
                f"{plan.delta_selection:.3g} for partition selection",
            )
        else:
            self.ledger_.add("training", "(all modeled)", "plain SGD (NOT PRIVATE: epsilon=None)", math.inf)

    def training_summary(self) -> dict[str, Any]:
        """What a fit decided from the plan and the public row count (no statistic of the data)."""
        return {
            "delta_used": self.plan_.delta,
            "batch_size": self.batch_size_,
            "noise_multiplier": self.noise_multiplier_,
            "sample_rate": self.sample_rate_,
            "steps": self.steps_,
        }

    # -- sample ----------------------------------------------------------------------------------

    def _draw(
        self, m: int, generator: torch.Generator, fixed: dict[str, int] | None = None, fit_offsets: bool = False
    ) -> tuple[dict[str, tuple[np.ndarray, np.ndarray | None]], dict[str, list[float]]]:
        """``m`` rows, one column at a time (each column's outputs read the values drawn before it,
        ``network.Decoder.column``): {column: (slot, position)}, and the calibration offsets used.

        The conditions are drawn from the condition table, restricted to the slots in ``fixed``
        ({column: slot}) if given. Each column's logits are shifted by its calibration offset;
        ``fit_offsets`` fits those offsets here instead (``_calibrate``), column by column, so each
        later column reads values drawn from the calibrated ones."""
        model = self.model_
        z = torch.randn(m, model.latent, generator=generator)
        cond, drawn = None, {}
        if self.condition_table_ is not None:
            table = self.condition_table_
            names, shape = table["columns"], tuple(table["shape"])
            fixed_axes = {names.index(c): slot for c, slot in (fixed or {}).items()}
            slots = conditioning.draw(table["p"], shape, m, generator, fixed_axes)
            drawn = dict(zip(names, slots))
            cond = torch.cat([nn.functional.one_hot(sl, k).float() for sl, k in zip(slots, shape)], 1)
            cond = cond.to(self.device_)
        decoder = model.decoder
        base = decoder.base(z.to(self.device_), cond)
        sigma = torch.exp(base.log_sigma).cpu()
        spans = self._column_spans()
        x = torch.zeros(m, spans[-1][1], device=self.device_)
        offsets = {} if fit_offsets else self.logit_offsets_
        under = self._parent_slots()
        out, k = {}, 0
        for j, (enc, (st, ed)) in enumerate(zip(self.encodings_, spans)):
            if decoder.chain:
                recon = decoder.column(j, base, x).cpu()
            else:  # no autoregressive path: the columns' outputs do not depend on each other
                recon = (base.out[:, st:ed] * base.scale[:, st:ed]).cpu()
            logits = recon[:, : enc.slots].double()
            marginal = self.marginals_.get(enc.name)
            if enc.name in under:  # a declared child: only its values under the row's drawn parent
                parent, slots = under[enc.name]
                ok = torch.as_tensor(hierarchies.allowed(slots, out[parent][0], enc.slots))
                logits = logits.masked_fill(~ok, -math.inf)
            if fit_offsets and self.calibrate_marginals and marginal is not None and enc.name not in drawn:
                # conditions come from the condition table, not from these logits
                mask = torch.isinf(logits).all(0)  # slots no row can draw (a child's under no drawn parent)
                if not enc.nullable:  # declared: no nulls
                    mask[-1] = True
                offsets[enc.name] = marginal_offsets(logits, torch.tensor(marginal), mask).tolist()
            if enc.name in offsets:
                logits += torch.tensor(offsets[enc.name], dtype=torch.float64)
            # declared: no nulls; or the paid-for null count read as none (under the noise floor): the
            # calibration's trace would invent nulls in a column that has none (taxis' drop-offs, about
            # one fit in three at 2,000 rows)
            if not enc.nullable or (self.calibrate_marginals and marginal is not None and marginal[-1] == 0.0):
                logits[:, -1] = -math.inf
            if enc.kind == "categorical" and marginal is None:
                # a declared category list used as declared (nothing measured) is the column's domain:
                # 'other' is never drawn (DP-SGD's noise alone gave it 7-15% of penguins' rows at
                # epsilon 1-10 in the peer comparison, 0.1-0.9% on bank, diamonds and taxis)
                logits[:, len(enc.categories)] = -math.inf
            if enc.name in drawn:
                idx = drawn[enc.name]
            else:
                idx = torch.multinomial(torch.softmax(logits, 1).float(), 1, generator=generator).squeeze(1)
            x[torch.arange(m), st + idx.to(self.device_)] = 1.0
            pos = None
            if enc.has_position:
                if self.within_bin == "uniform":  # the bin from the model, the value uniform inside it
                    pos = torch.rand(m, generator=generator) * 2 - 1
                else:
                    noise = torch.randn(m, generator=generator) * sigma[:, k]
                    pos = torch.clamp(torch.tanh(recon[:, enc.slots]) + noise, -1, 1)
                x[:, st + enc.slots] = pos.to(self.device_)
                k += 1
            elif enc.time_of_day:  # not modeled: a uniform time in the drawn day (ColumnEncoding.time_of_day)
                pos = torch.rand(m, generator=generator) * 2 - 1
            out[enc.name] = (idx.numpy(), None if pos is None else pos.numpy())
        return out, offsets

    def _parent_slots(self) -> dict[str, tuple[str, np.ndarray]]:
        """{child: (parent, the parent's slot of each of the child's categories)} for the declared
        hierarchies (``hierarchies.parent_slots``): derived from the fitted categories, never stored."""
        by_name = {e.name: e for e in self.encodings_}
        out = {}
        for child, parent in hierarchies.parents(self.metadata).items():
            enc, up = by_name[child], by_name[parent]
            other = len(up.categories)  # the parent's 'other' slot; null is the last
            out[child] = (parent, hierarchies.parent_slots(enc.categories, up.categories, other, up.slots - 1))
        return out

    def _calibrate(self) -> dict[str, list[float]]:
        """Per-column logit offsets that make the sampler's marginals the measured ones (see
        ``calibration``; post-processing of DP outputs, no privacy cost)."""
        if not self.calibrate_marginals:
            return {}
        self.model_.eval()
        with torch.no_grad():
            _, offsets = self._draw(CALIBRATION_ROWS, torch.Generator().manual_seed(self.seed + 2), fit_offsets=True)
        self.model_.train()
        return offsets

    def _generate(self, n: int, generator: torch.Generator, fixed: dict[str, int] | None = None) -> pd.DataFrame:
        """``n`` rows (see ``_draw``), decoded to values."""
        self.model_.eval()
        parts = []
        ruled = inequalities.with_rules(self.metadata, self.rules_)
        with torch.no_grad():
            for start in range(0, n, 20_000):
                drawn, _ = self._draw(min(20_000, n - start), generator, fixed)
                frame = pd.DataFrame({enc.name: enc.decode(*drawn[enc.name]) for enc in self.encodings_})
                frame = hierarchies.from_combined(self.metadata, frame, self.dtypes_)
                parts.append(inequalities.from_gaps(ruled, frame, self.dtypes_))
        self.model_.train()
        return pd.concat(parts, ignore_index=True)

    def sample(self, n: int, conditions: dict[str, Any] | None = None, max_tries: int = 200) -> pd.DataFrame:
        """``n`` synthetic rows with the training table's columns, order and declared dtypes.

        ``conditions`` ({column: value}) keeps only matching rows (rejection sampling);
        raises a clear error if the condition is too rare to reach ``n`` rows.
        """
        if self.model_ is None:
            raise SynthesizerError("Call fit() (or load()) before sample().")
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise SynthesizerError(f"n must be a positive integer, got {n!r}.")
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self._sample_calls)
        self._sample_calls += 1
        conditions = dict(conditions or {})
        by_name = {e.name: e for e in self.encodings_}
        for col, value in conditions.items():
            if col not in by_name:
                raise SynthesizerError(
                    f"Cannot condition on {col!r}: it is not a modeled column ({', '.join(by_name)})."
                )
            enc = by_name[col]
            values = enc.categories
            if col in hierarchies.parents(self.metadata):  # kept as (parent, child) pairs
                values = list(dict.fromkeys(hierarchies.child_value(v) for v in values))
            if enc.kind == "categorical" and value not in values:
                raise SynthesizerError(f"{value!r} is not a category of {col!r}; categories: {values}.")
            if enc.kind == "boolean" and value not in (True, False):
                raise SynthesizerError(f"{col!r} is boolean: condition on True or False, not {value!r}.")
        fixed = {}
        for col in self._cond_columns():
            if col in conditions and by_name[col].kind in ("categorical", "boolean"):
                # The decoder is conditioned on this column: generate the asked value directly.
                enc, value = by_name[col], conditions.pop(col)
                fixed[col] = int(value) if enc.kind == "boolean" else enc.categories.index(value)
        rows, drawn = [], 0
        while sum(len(r) for r in rows) < n:
            if drawn >= max_tries * n:
                got = sum(len(r) for r in rows)
                raise SynthesizerError(
                    f"Condition {conditions} is too rare: {got} of {drawn:,} generated rows matched, "
                    f"fewer than the {n} asked for. Ask for fewer rows or relax the condition."
                )
            batch = self._generate(max(n, 1000) if conditions else n, generator, fixed)
            drawn += len(batch)
            for col, value in conditions.items():
                batch = batch[batch[col] == value]
            rows.append(batch)
        out = pd.concat(rows, ignore_index=True).head(n)
        return self._finish(out)

    def _finish(self, modeled: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in self.columns_:
            role = self.metadata.columns[col].role
            if col in modeled:
                out[col] = modeled[col].reset_index(drop=True)
            elif role == "id":
                ids = pd.Series([f"SYN-{j:07d}" for j in range(1, len(modeled) + 1)])
                out[col] = (
                    ids.astype(self.dtypes_[col])
                    if not self.dtypes_[col].startswith(("int", "Int"))
                    else pd.Series(range(1, len(modeled) + 1))
                )
            else:  # excluded: not modeled, so nothing to say about it
                out[col] = pd.Series([None] * len(modeled), dtype=object).astype(self.dtypes_[col], errors="ignore")
        return pd.DataFrame(out)[self.columns_]

    # -- reporting and persistence ---------------------------------------------------------------

    def privacy_ledger(self) -> pd.DataFrame:
        """Every release of information about the training data: mechanism, epsilon, delta."""
        return self.ledger_.frame()

    @property
    def epsilon_spent(self) -> float:
        return self.ledger_.epsilon

    def save(self, path: str | Path) -> Path:
        if self.model_ is None:
            raise SynthesizerError("Nothing to save: fit() first.")
        path = Path(path)
        fitted = {
            "plan_": self.plan_.to_dict(),
            "encodings_": [asdict(e) for e in self.encodings_],
            "columns_": self.columns_,
            "dtypes_": self.dtypes_,
            "condition_table_": self.condition_table_,
            "marginals_": self.marginals_,
            "logit_offsets_": self.logit_offsets_,
            "ledger_": self.ledger_.to_records(),
            "lifetime": self.ledger_.lifetime,
            "internal_only_": self.internal_only_,
            "declared_measured_": self.declared_measured_,
            "rules_": self.rules_,
            "loss_history_": self.shareable_loss_history(),
            "epsilon_history_": [list(x) for x in self.epsilon_history_],
            "training_seconds_": self.training_seconds_,
            "noise_multiplier_": self.noise_multiplier_,
            "sample_rate_": self.sample_rate_,
            "steps_": self.steps_,
            "batch_size_": self.batch_size_,
            "sample_calls": self._sample_calls,
        }
        state = {"metadata": self.metadata.to_dict(), "parameters": self.get_parameters(), "fitted": fitted}
        # Plain JSON beside the tensors, so load() can use torch.load(weights_only=True).
        torch.save(
            {
                "format": FORMAT,
                "state": json.dumps(state, default=_json_default),
                "state_dict": {k: v.cpu() for k, v in self.model_.state_dict().items()},
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "auto") -> DPTVAESynthesizer:
        try:
            saved = torch.load(Path(path), map_location="cpu", weights_only=True)
        except (OSError, RuntimeError) as exc:
            raise SynthesizerError(f"Cannot load {path}: {exc}") from None
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise SynthesizerError(f"{path} is not a saved DPTVAESynthesizer ({FORMAT}); retrain it with this version.")
        state = json.loads(saved["state"])
        params = state["parameters"] | {"device": device, "progress": False}
        synth = cls(TableMetadata.from_dict(state["metadata"]), **params)
        f = state["fitted"]
        synth.device_ = synth._torch_device()
        synth.plan_ = PrivacyPlan.from_dict(f["plan_"])
        synth.encodings_ = [ColumnEncoding(**e) for e in f["encodings_"]]
        synth.columns_, synth.dtypes_ = f["columns_"], f["dtypes_"]
        synth.condition_table_ = f["condition_table_"]
        synth.marginals_ = f["marginals_"]
        synth.logit_offsets_ = f["logit_offsets_"]
        synth.ledger_ = dp.PrivacyLedger.from_records(f["ledger_"])
        synth.ledger_.lifetime = f["lifetime"]
        synth.internal_only_ = f["internal_only_"]
        synth.declared_measured_ = f["declared_measured_"]
        synth.rules_ = f.get("rules_", inequalities.pairs(synth.metadata))  # saved before rules were found
        synth.loss_history_ = f["loss_history_"]
        synth.epsilon_history_ = [tuple(x) for x in f["epsilon_history_"]]
        synth.epoch_seconds_ = []
        synth.training_seconds_ = f["training_seconds_"]
        synth.noise_multiplier_, synth.sample_rate_, synth.steps_ = (
            f["noise_multiplier_"],
            f["sample_rate_"],
            f["steps_"],
        )
        synth.batch_size_ = f.get("batch_size_", params["batch_size"])  # saved before "auto"
        synth._sample_calls = f["sample_calls"]
        synth.model_ = synth._new_model(sum(e.slots + e.has_position for e in synth.encodings_))
        synth.model_.load_state_dict(saved["state_dict"])
        return synth

    def shareable_loss_history(self) -> list[float]:
        """The loss curve, if it may leave the data owner: the per-epoch mean loss is computed on
        the real rows without noise, so it is not covered by DP and a DP model's saved file and
        model card leave it out (it stays in memory for the data owner's own plot)."""
        return self.loss_history_ if not self.private else []

    def plot_training(self) -> Any:
        """What may be shown of a fit: the epsilon spent per epoch for a DP model (its loss curve is
        not private), the loss curve for a non-private one."""
        if not self.private:
            return self.plot_loss(internal=True)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.2))
        if self.epsilon_history_:
            e, v = zip(*self.epsilon_history_)
            ax.plot(e, v, "o-", color="#c0392b")
        ax.axhline(self.epsilon, color="#7f8c8d", ls="--", label="requested epsilon")
        ax.set_xlabel("epoch")
        ax.set_ylabel("epsilon spent (ledger)")
        ax.set_title("DP-TVAE: privacy spent during training")
        ax.legend()
        fig.tight_layout()
        return fig

    def plot_loss(self, internal: bool = False) -> Any:
        """The per-epoch training loss. For a DP model it is computed on real rows without noise and
        is not covered by DP: pass ``internal=True`` to say the plot stays with the data owner."""
        if self.private and not internal:
            raise SynthesizerError(
                "The loss curve of a DP fit is not private (real rows, no noise). Use plot_training() "
                "to show the epsilon spent, or plot_loss(internal=True) for the data owner's eyes only."
            )
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(range(1, len(self.loss_history_) + 1), self.loss_history_, color="#2980b9")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss per row")
        suffix = " (no DP)" if not self.private else f" (DP, epsilon={self.epsilon}): NOT PRIVATE, data owner only"
        ax.set_title("TVAE training loss" + suffix)
        fig.tight_layout()
        return fig
