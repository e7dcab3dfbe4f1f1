"""DP-TVAE: the tabular VAE of Xu et al. (2019), trained with DP-SGD, with a DP data encoding.

What touches the real data, and how it is paid for (see ``privacy_ledger()``):

* Numeric and datetime **bounds**: declared public in the metadata, or the outermost bins
  of a thresholded Laplace histogram on a fixed grid (``dp.dp_bounds``). Values are clipped.
* **Encoding** of a numeric value: a bin among 32 uniform bins of a transform chosen from
  the bounds alone (identity, log1p or asinh), plus the position inside the bin; integer
  columns with a small range get one bin per integer. SDV's mode-specific normalization fits
  a Gaussian mixture on the raw values, which is not private; this encoding costs nothing
  beyond the bounds, and the DP-trained model learns the distribution over the bins.
* **Category domains**: declared public, or a stability-based DP histogram
  (``dp.dp_categories``); rare categories fall into an ``"other"`` value.
* **Training**: DP-SGD with Poisson sampling, per-sample clipping (ghost norms, see
  ``dpsgd``) and Gaussian noise calibrated with opacus' PRV accountant.
* **Target distribution** (when the decoder is conditioned on the target): a Laplace
  histogram over the target's encoding slots; sample() draws the condition from it.
* Null rates are learned by the model (every column has a null slot), so they are covered
  by DP-SGD. Whether a column *may* be null, whether it is integer, and the output dtypes
  come from the declared metadata, never from the values (one null more must not change
  what the sampler can produce). Column names, declared types and the row count are
  treated as public schema.
* **Randomness** that the DP analysis relies on (Poisson batches, DP-SGD noise, every
  preprocessing draw) comes from generators seeded from OS entropy at each DP fit and never
  stored; ``seed`` only makes the non-private parts reproducible (weight initialisation,
  sampling from a fitted model, fits with ``epsilon=None``).
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from tqdm.auto import tqdm

from . import dp
from .dpsgd import GhostClipper, add_noise_and_average, poisson_batches
from .evaluation import as_float
from .metadata import ColumnMeta, MetadataError, TableMetadata

N_BINS = 32
# Input scale of the decoder's direct path from the target. Under per-sample clipping, a
# layer's share of each row's clipped gradient grows with the size of its input, while the
# noise per weight is the same everywhere; at scale 1 the direct path got ~1/60 of the
# budget and P(column | target) drowned in noise (TSTR/TRTR 0.74 at epsilon 3 on
# bank-marketing), at 8 it learns (0.94 with learning rate 2e-3), at 30 it starves the rest.
COND_SCALE = 8.0
MAX_INTEGER_BINS = 64
OTHER = "other"
EPOCH = pd.Timestamp("1970-01-01")
GUARANTEE = (
    "(epsilon, delta)-DP for adding or removing one row of the table given to fit(): the model, "
    "its samples and this ledger change in distribution by at most that much; public: column "
    "names, the declared metadata (roles, types, nullability, declared bounds and categories) "
    "and the row count."
)


class SynthesizerError(ValueError):
    """Bad parameters or input for the synthesizer; the message says how to fix it."""


# --------------------------------------------------------------------------- encoding


@dataclass
class ColumnEncoding:
    name: str
    kind: str  # categorical | boolean | numerical | datetime
    dtype: str  # pandas dtype of the training column (restored on output)
    categories: list | None = None
    lo: float | None = None
    hi: float | None = None
    transform: str = "identity"
    integer: bool = False
    n_bins: int = 0
    integer_bins: bool = False
    nullable: bool = True  # declared in the metadata; a non-nullable column never outputs null

    @property
    def slots(self) -> int:
        """One-hot width: values (+ 'other' for categoricals) + a null slot."""
        if self.kind == "categorical":
            return len(self.categories) + 2
        if self.kind == "boolean":
            return 3
        return self.n_bins + 1

    @property
    def has_position(self) -> bool:
        return self.kind in ("numerical", "datetime") and not self.integer_bins

    # transform space for numeric columns (chosen from the bounds only)
    def _t(self, x: np.ndarray) -> np.ndarray:
        if self.transform == "log1p":
            return np.log1p(x - self.lo)
        if self.transform == "asinh":
            return np.arcsinh(x)
        return x

    def _t_inv(self, y: np.ndarray) -> np.ndarray:
        if self.transform == "log1p":
            return np.expm1(y) + self.lo
        if self.transform == "asinh":
            return np.sinh(y)
        return y

    def edges(self) -> np.ndarray:
        return np.linspace(self._t(np.array([self.lo]))[0], self._t(np.array([self.hi]))[0], self.n_bins + 1)

    def encode(self, s: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
        """(slot index per row, position in [-1, 1] per row or None)."""
        null_slot = self.slots - 1
        if self.kind in ("categorical", "boolean"):
            values = [False, True] if self.kind == "boolean" else self.categories
            lookup = {v: i for i, v in enumerate(values)}
            other = len(values)
            idx = np.array(
                [null_slot if pd.isna(v) else lookup.get(v, other) for v in s.astype(object)], dtype=np.int64
            )
            return idx, None
        x = _to_float(s)
        missing = np.isnan(x)
        x = np.clip(np.where(missing, self.lo, x), self.lo, self.hi)
        if self.integer_bins:
            idx = np.rint(x - self.lo).astype(np.int64)
            return np.where(missing, null_slot, idx), None
        y = self._t(x)
        e = self.edges()
        idx = np.clip(np.searchsorted(e, y, side="right") - 1, 0, self.n_bins - 1)
        width = np.maximum(e[idx + 1] - e[idx], 1e-12)
        pos = np.clip((y - e[idx]) / width * 2 - 1, -1, 1)
        return np.where(missing, null_slot, idx), np.where(missing, 0.0, pos)

    def decode(self, idx: np.ndarray, pos: np.ndarray | None) -> pd.Series:
        null = idx == self.slots - 1
        if self.kind in ("categorical", "boolean"):
            values = np.array(
                [False, True, None] if self.kind == "boolean" else [*self.categories, OTHER, None], dtype=object
            )
            out = pd.Series(values[idx], dtype=object)
            return _restore_dtype(out, self)
        if self.integer_bins:
            x = self.lo + idx.astype(float)
        else:
            e = self.edges()
            b = np.clip(idx, 0, self.n_bins - 1)
            y = e[b] + (pos + 1) / 2 * (e[b + 1] - e[b])
            x = np.clip(self._t_inv(y), self.lo, self.hi)
        if self.integer or self.kind == "datetime":
            x = np.rint(x)
        x = np.where(null, np.nan, x)
        return _restore_dtype(pd.Series(x), self)


def _to_float(s: pd.Series) -> np.ndarray:
    """Numbers as floats, datetimes as days since 1970, nulls as NaN."""
    return as_float(s).to_numpy(dtype=float, na_value=np.nan)


def _restore_dtype(s: pd.Series, enc: ColumnEncoding) -> pd.Series:
    s = s.rename(enc.name)
    if enc.kind == "datetime":
        return (EPOCH + pd.to_timedelta(s, unit="D")).astype("datetime64[ns]")
    dtype = enc.dtype
    if enc.kind == "boolean":
        return s.astype("boolean") if dtype != "bool" else s.astype(bool)
    if enc.kind == "categorical":
        if dtype == "category":
            return s.astype("category")
        if dtype.startswith("string"):
            return s.astype(dtype)
        if dtype.startswith("float"):
            return pd.to_numeric(s.where(s != OTHER), errors="coerce").astype("float64")
        return s
    try:
        return s.astype(dtype)
    except (TypeError, ValueError):
        return s


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"cannot store {type(value).__name__} in a saved model")


def output_dtype(meta: ColumnMeta, observed: str) -> str:
    """The output dtype of a column, from its declared metadata. pandas' dtype of the training
    column is used only where one null cannot flip it (category / string / object)."""
    numeric_observed = observed.lower().startswith(("int", "uint", "float", "bool"))
    if meta.role == "id":
        return "int64" if numeric_observed and not observed.lower().startswith("bool") else _text_dtype(observed)
    if meta.role == "excluded":
        return "float64" if numeric_observed else "datetime64[ns]" if observed.startswith("datetime") else "object"
    kind = meta.modeled_kind()
    if kind == "boolean":
        return "boolean" if meta.nullable else "bool"
    if kind == "datetime":
        return "datetime64[ns]"
    if kind == "numerical":
        return "int64" if meta.integer and not meta.nullable else "float64"
    if observed == "category":
        return "category"
    return "float64" if numeric_observed and not observed.lower().startswith("bool") else _text_dtype(observed)


def _text_dtype(observed: str) -> str:
    return observed if observed.startswith("string") else "object"


def _choose_transform(lo: float, hi: float) -> str:
    """From the (public or DP) bounds only: log for wide positive ranges, asinh for wide signed ones."""
    if lo >= 0 and hi >= 100 * max(lo, 1.0):
        return "log1p"
    if lo < 0 < hi and max(-lo, hi) >= 1000:
        return "asinh"
    return "identity"


# --------------------------------------------------------------------------- the TVAE


class Encoder(nn.Module):
    def __init__(self, data_dim: int, hidden: tuple[int, ...], latent: int) -> None:
        super().__init__()
        layers, d = [], data_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        self.body = nn.Sequential(*layers)
        self.mu = nn.Linear(d, latent)
        self.logvar = nn.Linear(d, latent)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.body(x)
        return self.mu(h), self.logvar(h)


class Decoder(nn.Module):
    def __init__(
        self, latent: int, hidden: tuple[int, ...], data_dim: int, n_positions: int, cond_dim: int = 0
    ) -> None:
        super().__init__()
        layers, d = [], latent + cond_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, data_dim))
        self.body = nn.Sequential(*layers)
        # A direct path from the condition to every output logit: P(column | target) is then a
        # few thousand weights that each get the full clipped gradient of the rows of that
        # class, which keeps a high signal-to-noise ratio under DP-SGD.
        self.cond_out = nn.Linear(cond_dim, data_dim, bias=False) if cond_dim else None
        self.register_buffer("cond_scale", torch.tensor(COND_SCALE))  # fixed, saved with the model
        # The learned output scale, as a Linear on a constant 1 so it gets a per-sample gradient.
        self.log_sigma = nn.Linear(1, max(n_positions, 1), bias=False)
        nn.init.constant_(self.log_sigma.weight, math.log(0.1))

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        ones = torch.ones(z.shape[0], 1, device=z.device)
        if cond is None:
            return self.body(z), self.log_sigma(ones)
        return self.body(torch.cat([z, cond], 1)) + self.cond_out(cond * self.cond_scale), self.log_sigma(ones)


class TVAE(nn.Module):
    """The decoder is conditioned on the target's one-hot encoding (a conditional VAE) when
    ``cond_dim`` > 0: under DP noise an unconditioned decoder keeps the columns' marginals but
    loses much of their dependence on the target, which is what a downstream model needs."""

    def __init__(
        self,
        data_dim: int,
        n_positions: int,
        hidden: tuple[int, ...] = (128, 128),
        latent: int = 128,
        cond_dim: int = 0,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(data_dim, hidden, latent)
        self.decoder = Decoder(latent, hidden, data_dim, n_positions, cond_dim)
        self.latent = latent


# --------------------------------------------------------------------------- the synthesizer


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
        batch_size: int = 500,
        max_grad_norm: float = 1.0,
        learning_rate: float = 2e-3,
        preprocessing_share: float = 0.1,
        hidden: tuple[int, ...] = (128, 128),
        latent_dim: int = 128,
        loss_factor: float = 2.0,
        target_weight: float = 1.0,
        condition_on_target: bool = True,
        device: str = "auto",
        seed: int = 0,
        progress: bool = True,
    ) -> None:
        if epsilon is not None and not (isinstance(epsilon, (int, float)) and epsilon > 0 and math.isfinite(epsilon)):
            raise SynthesizerError(f"epsilon must be a positive number (or None for no DP), got {epsilon!r}.")
        if delta is not None and not 0 < delta < 1:
            raise SynthesizerError(f"delta must be in (0, 1) and below 1/n, got {delta!r}.")
        for name, value in (("epochs", epochs), ("batch_size", batch_size)):
            if not isinstance(value, int) or value < 1:
                raise SynthesizerError(f"{name} must be a positive integer, got {value!r}.")
        if not max_grad_norm > 0:
            raise SynthesizerError(f"max_grad_norm must be positive, got {max_grad_norm!r}.")
        if not 0 < preprocessing_share < 1:
            raise SynthesizerError(f"preprocessing_share must be in (0, 1), got {preprocessing_share!r}.")
        if device not in ("auto", "cpu", "cuda") and not str(device).startswith("cuda:"):
            raise SynthesizerError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}.")
        self.metadata = metadata
        self.params = dict(
            epsilon=epsilon,
            delta=delta,
            epochs=epochs,
            batch_size=batch_size,
            max_grad_norm=max_grad_norm,
            learning_rate=learning_rate,
            preprocessing_share=preprocessing_share,
            hidden=list(hidden),
            latent_dim=latent_dim,
            loss_factor=loss_factor,
            target_weight=target_weight,
            condition_on_target=bool(condition_on_target),
            seed=seed,
        )
        self.device = torch.device(
            "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
        )
        self.progress = progress
        self.encodings: list[ColumnEncoding] = []
        self.columns: list[str] = []
        self.dtypes: dict[str, str] = {}
        self.model: TVAE | None = None
        self.target_marginal: list[float] | None = None
        self.ledger = dp.PrivacyLedger()
        self.loss_history: list[float] = []
        self.epsilon_history: list[tuple[int, float]] = []
        self.epoch_seconds: list[float] = []
        self.training_seconds = 0.0
        self._sample_calls = 0
        self.internal_only = epsilon is None  # a non-private model's output must stay with the data owner

    # -- fit -------------------------------------------------------------------------------------

    def fit(
        self, df: pd.DataFrame, budget: Any = None, internal_only: bool = False, purpose: str = "DP-TVAE fit"
    ) -> DPTVAESynthesizer:
        """Fit on ``df`` (the training part only). Shows a progress bar with the epsilon spent.

        ``budget`` (a :class:`budget.PrivacyBudget`) is charged before the data is touched and
        refuses a fit past its cap; a non-private fit on a tracked table needs ``internal_only``
        (its model and samples stay with the data owner)."""
        self._check_input(df)
        p = self.params
        private = p["epsilon"] is not None
        # DP draws come from the OS; the seed only drives what the DP proof does not rely on.
        rng = dp.os_entropy_rng() if private else np.random.default_rng(p["seed"])
        torch.manual_seed(p["seed"])  # weight initialisation
        n = len(df)
        if private:
            delta = p["delta"] if p["delta"] is not None else dp.default_delta(n)
            if delta >= 1 / n:
                raise SynthesizerError(f"delta={delta:g} must be below 1/n = {1 / n:.3g} for a table of {n} rows.")
            p["delta_used"] = delta
        if budget is not None:
            budget.charge(
                p["epsilon"], p.get("delta_used", 0.0) if private else 0.0, purpose, internal_only=internal_only
            )
        self.internal_only = bool(internal_only) or not private
        self.ledger = dp.PrivacyLedger()
        self.columns = list(df.columns)
        self.dtypes = {c: output_dtype(self.metadata.columns[c], str(df[c].dtype)) for c in df.columns}
        self._fit_encoding(df, rng)
        data = self._encode(df)
        self._fit_target_marginal(data, rng)
        self.model = self._new_model(data.shape[1])
        start = time.perf_counter()
        self._train(torch.as_tensor(data, dtype=torch.float32, device=self.device))
        self.training_seconds = time.perf_counter() - start
        if p["epsilon"] is not None and self.ledger.epsilon > p["epsilon"] * (1 + 1e-9):
            raise AssertionError("privacy ledger exceeds the requested epsilon")  # guarded by construction
        if budget is not None:
            self.ledger.lifetime = budget.summary()
        return self

    def _new_model(self, data_dim: int) -> TVAE:
        span = self._target_span()
        p = self.params
        return TVAE(
            data_dim,
            sum(e.has_position for e in self.encodings),
            tuple(p["hidden"]),
            p["latent_dim"],
            cond_dim=0 if span is None else span[1] - span[0],
        ).to(self.device)

    def _target_span(self) -> tuple[int, int] | None:
        """(start, end) of the target's one-hot in the encoded row, if the decoder is conditioned on it."""
        if not self.params.get("condition_on_target", False):
            return None
        start = 0
        for enc in self.encodings:
            if enc.name == self.metadata.target:
                return start, start + enc.slots
            start += enc.slots + enc.has_position
        return None

    def _fit_target_marginal(self, data: np.ndarray, rng: np.random.Generator) -> None:
        """The target's distribution over its encoding slots, from which sample() draws the
        decoder's condition: a Laplace histogram (each row adds 1 to one slot: sensitivity 1)."""
        span = self._target_span()
        if span is None:
            self.target_marginal = None
            return
        enc = next(e for e in self.encodings if e.name == self.metadata.target)
        counts = data[:, span[0] : span[1]].sum(0).astype(float)
        if self.params["epsilon"] is not None:
            eps = self.params["eps_target_marginal"]
            counts = counts + rng.laplace(0.0, 1.0 / eps, len(counts))
            self.ledger.add(
                "target distribution",
                enc.name,
                "Laplace histogram over the target's encoding slots",
                eps,
                0.0,
                f"{len(counts)} slots; sample() draws the decoder's condition from it",
            )
        else:
            self.ledger.add("target distribution", enc.name, "exact counts (NOT PRIVATE: epsilon=None)", math.inf)
        if not enc.nullable:  # declared: no nulls
            counts[-1] = 0.0
        counts = np.clip(counts, 0.0, None)
        self.target_marginal = (
            counts / counts.sum() if counts.sum() > 0 else np.full(len(counts), 1 / len(counts))
        ).tolist()

    def _check_input(self, df: pd.DataFrame) -> None:
        if not isinstance(df, pd.DataFrame) or df.empty:
            raise SynthesizerError("fit() needs a non-empty pandas DataFrame.")
        target = self.metadata.target
        if target is not None and target not in df.columns:
            raise SynthesizerError(f"Target column {target!r} is not in the table; columns are {list(df.columns)}.")
        try:
            self.metadata.validate(df)
        except MetadataError as exc:
            raise SynthesizerError(str(exc)) from None
        if len(df) < self.params["batch_size"]:
            raise SynthesizerError(
                f"The table has {len(df)} rows, fewer than batch_size={self.params['batch_size']}; "
                "lower batch_size or use more rows."
            )

    def _fit_encoding(self, df: pd.DataFrame, rng: np.random.Generator) -> None:
        p, meta = self.params, self.metadata
        private = p["epsilon"] is not None
        needs = [
            c
            for c in meta.modeled
            if meta.columns[c].modeled_kind() in ("numerical", "datetime") and meta.columns[c].bounds is None
        ]
        needs += [
            c
            for c in meta.modeled
            if meta.columns[c].modeled_kind() == "categorical" and meta.columns[c].categories is None
        ]
        n_cat_mechs = sum(meta.columns[c].modeled_kind() == "categorical" for c in needs)
        conditioned = p["condition_on_target"] and meta.target in meta.modeled
        n_mechs = len(needs) + conditioned
        eps_each = p["preprocessing_share"] * p["epsilon"] / n_mechs if private and n_mechs else 0.0
        p["eps_target_marginal"] = eps_each if conditioned else 0.0
        delta_each = 0.1 * p["delta_used"] / n_cat_mechs if private and n_cat_mechs else 0.0
        self.ledger.add(
            "guarantee", "(table)", "what is protected", 0.0, 0.0, GUARANTEE if private else "none: epsilon=None"
        )
        self.ledger.add(
            "schema",
            "(all)",
            "declared public",
            0.0,
            0.0,
            f"column names, the declared metadata and the row count n={len(df)} (sets the sampling rate) "
            "are treated as public",
        )
        if private:
            self.ledger.add("randomness", "(all)", "OS entropy", 0.0, 0.0, dp.SAMPLER_NOTE)
        self.encodings = []
        for col in meta.modeled:
            cm = meta.columns[col]
            kind = cm.modeled_kind()
            enc = ColumnEncoding(col, kind, self.dtypes[col], nullable=cm.nullable)
            if kind == "boolean":
                self.ledger.add("encoding", col, "public domain {False, True}", 0.0)
            elif kind == "categorical":
                if cm.categories is not None:
                    enc.categories = list(cm.categories)
                    self.ledger.add(
                        "category domain", col, "declared public", 0.0, 0.0, f"{len(enc.categories)} categories"
                    )
                elif private:
                    enc.categories, _ = dp.dp_categories(df[col], eps_each, delta_each, rng)
                    self.ledger.add(
                        "category domain",
                        col,
                        "Laplace counts + threshold (stability histogram)",
                        eps_each,
                        delta_each,
                        f"{len(enc.categories)} categories kept, the rest -> '{OTHER}'",
                    )
                else:
                    enc.categories = sorted(df[col].dropna().unique().tolist(), key=str)
                    self.ledger.add("category domain", col, "exact (NOT PRIVATE: epsilon=None)", math.inf)
            else:
                x = _to_float(df[col])
                if cm.bounds is not None:
                    lo, hi = cm.bounds  # datetimes: days since 1970 (set_bounds converts dates)
                    self.ledger.add("bounds", col, "declared public", 0.0, 0.0, f"[{lo:g}, {hi:g}]")
                elif private:
                    lo, hi = dp.dp_bounds(x[~np.isnan(x)], eps_each, rng, datetime=kind == "datetime")
                    self.ledger.add(
                        "bounds",
                        col,
                        "Laplace histogram on a fixed grid + threshold",
                        eps_each,
                        0.0,
                        f"[{lo:g}, {hi:g}]",
                    )
                else:
                    lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
                    hi = hi if hi > lo else lo + 1
                    self.ledger.add("bounds", col, "exact min/max (NOT PRIVATE: epsilon=None)", math.inf)
                enc.lo, enc.hi = float(lo), float(hi)
                enc.integer = bool(cm.integer) or kind == "datetime"
                if enc.integer and enc.hi - enc.lo + 1 <= MAX_INTEGER_BINS:
                    enc.lo, enc.hi = math.floor(enc.lo), math.ceil(enc.hi)
                    enc.integer_bins, enc.n_bins = True, int(enc.hi - enc.lo + 1)
                else:
                    enc.transform, enc.n_bins = _choose_transform(enc.lo, enc.hi), N_BINS
            self.encodings.append(enc)

    def _encode(self, df: pd.DataFrame) -> np.ndarray:
        blocks = []
        for enc in self.encodings:
            idx, pos = enc.encode(df[enc.name])
            onehot = np.zeros((len(df), enc.slots), dtype=np.float32)
            onehot[np.arange(len(df)), idx] = 1.0
            blocks.append(onehot)
            if enc.has_position:
                blocks.append(pos[:, None].astype(np.float32))
        return np.concatenate(blocks, axis=1)

    def _layout(self) -> list[tuple[str, int, int]]:
        spans, start = [], 0
        for enc in self.encodings:
            spans.append(("softmax", start, start + enc.slots))
            start += enc.slots
            if enc.has_position:
                spans.append(("position", start, start + 1))
                start += 1
        return spans

    def _span_weights(self) -> list[float]:
        """Loss weight per layout span: ``target_weight`` for the target's spans, 1 elsewhere.
        A fixed hyperparameter: it steers capacity to the target at no privacy cost."""
        weights = []
        for enc in self.encodings:
            w = self.params.get("target_weight", 1.0) if enc.name == self.metadata.target else 1.0
            weights += [w] * (2 if enc.has_position else 1)
        return weights

    def _loss_per_sample(
        self, x: torch.Tensor, generator: torch.Generator, spans: list[tuple[tuple[str, int, int], float]]
    ) -> torch.Tensor:
        """Per-row loss; ``spans`` is the row layout with loss weights, worked out once per fit."""
        model = self.model
        mu, logvar = model.encoder(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device)
        z = mu + eps * torch.exp(0.5 * logvar)
        span = self._cond_span
        recon, log_sigma = model.decoder(z, None if span is None else x[:, span[0] : span[1]])
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
        return self.params["loss_factor"] * rec + kld

    def _train(self, data: torch.Tensor) -> None:
        p = self.params
        n = data.shape[0]
        private = p["epsilon"] is not None
        if private:  # batches and noise from the OS: nothing published can replay them
            gen, noise_gen = dp.os_entropy_torch_generator("cpu"), dp.os_entropy_torch_generator(self.device)
        else:
            gen = torch.Generator(device="cpu").manual_seed(p["seed"])
            noise_gen = torch.Generator(device=self.device).manual_seed(p["seed"] + 1)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=p["learning_rate"], weight_decay=1e-5)
        params = [q for q in self.model.parameters() if q.requires_grad]
        steps_per_epoch = max(1, n // p["batch_size"])
        sample_rate = p["batch_size"] / n
        total_steps = steps_per_epoch * p["epochs"]
        if private:
            from opacus.accountants import PRVAccountant
            from opacus.accountants.utils import get_noise_multiplier

            eps_sgd = p["epsilon"] - self.ledger.epsilon
            delta_sgd = p["delta_used"] - self.ledger.delta
            sigma = get_noise_multiplier(
                target_epsilon=eps_sgd,
                target_delta=delta_sgd,
                sample_rate=sample_rate,
                steps=total_steps,
                accountant="prv",
                epsilon_tolerance=0.005,
            )
            clipper = GhostClipper(self.model)
            accountant = PRVAccountant()
        self.loss_history, self.epsilon_history, self.epoch_seconds = [], [], []
        spans = list(zip(self._layout(), self._span_weights()))
        self._cond_span = self._target_span()
        bar = tqdm(range(p["epochs"]), desc="DP-TVAE" if private else "TVAE (no DP)", disable=not self.progress)
        eps_now = 0.0
        for epoch in bar:
            total, count, epoch_start = 0.0, 0, time.perf_counter()
            batches = (
                poisson_batches(n, sample_rate, steps_per_epoch, gen)
                if private
                else torch.randperm(n, generator=gen)[: steps_per_epoch * p["batch_size"]].view(steps_per_epoch, -1)
            )
            for idx in batches:
                optimizer.zero_grad(set_to_none=True)
                if private:
                    if len(idx):
                        clipper.reset()
                        losses = self._loss_per_sample(data[idx.to(self.device)], noise_gen, spans)
                        norms, grads = clipper.per_sample_grads_norms(losses)
                        clipper.clipped_sum_into_grad(norms, grads, p["max_grad_norm"])
                        total, count = total + float(losses.detach().sum()), count + len(idx)
                    add_noise_and_average(params, sigma, p["max_grad_norm"], sample_rate * n, noise_gen)
                else:
                    losses = self._loss_per_sample(data[idx.to(self.device)], noise_gen, spans)
                    losses.mean().backward()
                    total, count = total + float(losses.detach().sum()), count + len(idx)
                optimizer.step()
                with torch.no_grad():  # data-independent projection of the output scale
                    self.model.decoder.log_sigma.weight.clamp_(math.log(0.01), 0.0)
            self.epoch_seconds.append(time.perf_counter() - epoch_start)
            self.loss_history.append(total / max(count, 1))
            if private and (epoch + 1 == p["epochs"] or (epoch + 1) % max(1, p["epochs"] // 10) == 0):
                accountant.history = [(sigma, sample_rate, (epoch + 1) * steps_per_epoch)]
                eps_now = self.ledger.epsilon + accountant.get_epsilon(delta=delta_sgd)
                self.epsilon_history.append((epoch + 1, eps_now))
            # The loss is computed on real rows without noise: a DP fit shows only the epsilon spent.
            bar.set_postfix(epsilon=f"{eps_now:.2f}") if private else bar.set_postfix(
                loss=f"{self.loss_history[-1]:.2f}"
            )
        if private:
            clipper.close()
            accountant.history = [(sigma, sample_rate, total_steps)]
            eps_sgd_spent = accountant.get_epsilon(delta=delta_sgd)
            self.ledger.add(
                "training",
                "(all modeled)",
                "DP-SGD: Poisson sampling, per-sample clipping, Gaussian noise; PRV accountant",
                eps_sgd_spent,
                delta_sgd,
                f"noise multiplier {sigma:.4f}, sample rate {sample_rate:.5f}, "
                f"{total_steps} steps, clipping norm {p['max_grad_norm']}",
            )
            self.params["noise_multiplier"] = sigma
        else:
            self.ledger.add("training", "(all modeled)", "plain SGD (NOT PRIVATE: epsilon=None)", math.inf)
        self.params.update(sample_rate=sample_rate, steps=total_steps)

    # -- sample ----------------------------------------------------------------------------------

    def _generate(self, n: int, generator: torch.Generator, target_slot: int | None = None) -> pd.DataFrame:
        """``n`` rows; with a conditioned decoder, the target's slot is drawn from the DP target
        distribution (or fixed to ``target_slot``) and given to the decoder."""
        model = self.model
        model.eval()
        span = self._target_span()
        parts = []
        with torch.no_grad():
            for start in range(0, n, 20_000):
                m = min(20_000, n - start)
                z = torch.randn(m, model.latent, generator=generator)
                cond, cond_idx = None, None
                if span is not None:
                    if target_slot is None:
                        marginal = torch.tensor(self.target_marginal, dtype=torch.float64)
                        cond_idx = torch.multinomial(marginal, m, replacement=True, generator=generator)
                    else:
                        cond_idx = torch.full((m,), target_slot, dtype=torch.int64)
                    cond = nn.functional.one_hot(cond_idx, span[1] - span[0]).float().to(self.device)
                recon, log_sigma = model.decoder(z.to(self.device), cond)
                recon, sigma = recon.cpu(), torch.exp(log_sigma).cpu()
                cols, k, spans = {}, 0, iter(self._layout())
                for enc in self.encodings:
                    _, st, ed = next(spans)
                    logits = recon[:, st:ed].clone()
                    if not enc.nullable:  # declared: no nulls
                        logits[:, -1] = -math.inf
                    if cond_idx is not None and enc.name == self.metadata.target:
                        idx = cond_idx.numpy()
                    else:
                        idx = torch.multinomial(torch.softmax(logits, 1), 1, generator=generator).squeeze(1).numpy()
                    pos = None
                    if enc.has_position:
                        _, st, _ = next(spans)
                        noise = torch.randn(m, generator=generator) * sigma[:, k]
                        pos = torch.clamp(torch.tanh(recon[:, st]) + noise, -1, 1).numpy()
                        k += 1
                    cols[enc.name] = enc.decode(idx, pos)
                parts.append(pd.DataFrame(cols))
        model.train()
        return pd.concat(parts, ignore_index=True)

    def sample(self, n: int, conditions: dict[str, Any] | None = None, max_tries: int = 200) -> pd.DataFrame:
        """``n`` synthetic rows with the training table's columns, order and dtypes.

        ``conditions`` ({column: value}) keeps only matching rows (rejection sampling);
        raises a clear error if the condition is too rare to reach ``n`` rows.
        """
        if self.model is None:
            raise SynthesizerError("Call fit() (or load()) before sample().")
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise SynthesizerError(f"n must be a positive integer, got {n!r}.")
        generator = torch.Generator().manual_seed(self.params["seed"] * 1_000_003 + self._sample_calls)
        self._sample_calls += 1
        conditions = conditions or {}
        by_name = {e.name: e for e in self.encodings}
        for col, value in conditions.items():
            if col not in by_name:
                raise SynthesizerError(
                    f"Cannot condition on {col!r}: it is not a modeled column ({', '.join(by_name)})."
                )
            enc = by_name[col]
            if enc.kind == "categorical" and value not in enc.categories:
                raise SynthesizerError(f"{value!r} is not a category of {col!r}; categories: {enc.categories}.")
            if enc.kind == "boolean" and value not in (True, False):
                raise SynthesizerError(f"{col!r} is boolean: condition on True or False, not {value!r}.")
        target_slot = None
        target = self.metadata.target
        if (
            self._target_span() is not None
            and target in conditions
            and by_name[target].kind in ("categorical", "boolean")
        ):
            # The decoder is conditioned on the target: generate the asked value directly.
            enc, value = by_name[target], conditions[target]
            target_slot = int(value) if enc.kind == "boolean" else enc.categories.index(value)
            conditions = {c: v for c, v in conditions.items() if c != target}
        rows, drawn = [], 0
        while sum(len(r) for r in rows) < n:
            if drawn >= max_tries * n:
                got = sum(len(r) for r in rows)
                raise SynthesizerError(
                    f"Condition {conditions} is too rare: {got} of {drawn:,} generated rows matched, "
                    f"fewer than the {n} asked for. Ask for fewer rows or relax the condition."
                )
            batch = self._generate(max(n, 1000) if conditions else n, generator, target_slot)
            drawn += len(batch)
            for col, value in conditions.items():
                batch = batch[batch[col] == value]
            rows.append(batch)
        out = pd.concat(rows, ignore_index=True).head(n)
        return self._finish(out)

    def _finish(self, modeled: pd.DataFrame) -> pd.DataFrame:
        out = {}
        for col in self.columns:
            role = self.metadata.columns[col].role
            if col in modeled:
                out[col] = modeled[col].reset_index(drop=True)
            elif role == "id":
                ids = pd.Series([f"SYN-{j:07d}" for j in range(1, len(modeled) + 1)])
                out[col] = (
                    ids.astype(self.dtypes[col])
                    if not self.dtypes[col].startswith(("int", "Int"))
                    else pd.Series(range(1, len(modeled) + 1))
                )
            else:  # excluded: not modeled, so nothing to say about it
                out[col] = pd.Series([None] * len(modeled), dtype=object).astype(self.dtypes[col], errors="ignore")
        return pd.DataFrame(out)[self.columns]

    # -- reporting and persistence ---------------------------------------------------------------

    def privacy_ledger(self) -> pd.DataFrame:
        """Every release of information about the training data: mechanism, epsilon, delta."""
        return self.ledger.frame()

    @property
    def epsilon_spent(self) -> float:
        return self.ledger.epsilon

    def save(self, path: str | Path) -> Path:
        if self.model is None:
            raise SynthesizerError("Nothing to save: fit() first.")
        path = Path(path)
        state = {
            "metadata": self.metadata.to_dict(),
            "params": self.params,
            "encodings": [asdict(e) for e in self.encodings],
            "columns": self.columns,
            "dtypes": self.dtypes,
            "target_marginal": self.target_marginal,
            "ledger": self.ledger.to_records(),
            "lifetime": self.ledger.lifetime,
            "internal_only": getattr(self, "internal_only", self.params["epsilon"] is None),
            "loss_history": self.shareable_loss_history(),
            "epsilon_history": [list(x) for x in self.epsilon_history],
            "training_seconds": self.training_seconds,
            "sample_calls": self._sample_calls,
        }
        # Plain JSON beside the tensors, so load() can use torch.load(weights_only=True).
        torch.save(
            {
                "format": "workshop-dptvae/1",
                "state": json.dumps(state, default=_json_default),
                "state_dict": {k: v.cpu() for k, v in self.model.state_dict().items()},
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
        if not isinstance(saved, dict) or saved.get("format") != "workshop-dptvae/1":
            raise SynthesizerError(f"{path} is not a saved DPTVAESynthesizer.")
        state = json.loads(saved["state"]) | {"state_dict": saved["state_dict"]}
        p = state["params"]
        synth = cls(
            TableMetadata.from_dict(state["metadata"]),
            epsilon=p["epsilon"],
            delta=p["delta"],
            epochs=p["epochs"],
            batch_size=p["batch_size"],
            max_grad_norm=p["max_grad_norm"],
            learning_rate=p["learning_rate"],
            preprocessing_share=p["preprocessing_share"],
            hidden=tuple(p["hidden"]),
            latent_dim=p["latent_dim"],
            loss_factor=p["loss_factor"],
            target_weight=p.get("target_weight", 1.0),
            condition_on_target=p.get("condition_on_target", False),
            device=device,
            seed=p["seed"],
            progress=False,
        )
        synth.params = p
        synth.encodings = [ColumnEncoding(**e) for e in state["encodings"]]
        synth.columns, synth.dtypes = state["columns"], state["dtypes"]
        synth.ledger = dp.PrivacyLedger.from_records(state["ledger"])
        synth.ledger.lifetime = state.get("lifetime")
        synth.internal_only = state.get("internal_only", p["epsilon"] is None)
        synth.loss_history = state.get("loss_history", [])
        synth.epsilon_history = [tuple(x) for x in state["epsilon_history"]]
        synth.training_seconds = state["training_seconds"]
        synth._sample_calls = state["sample_calls"]
        synth.target_marginal = state.get("target_marginal")
        synth.model = synth._new_model(sum(e.slots + e.has_position for e in synth.encodings))
        synth.model.load_state_dict(state["state_dict"])
        return synth

    def shareable_loss_history(self) -> list[float]:
        """The loss curve, if it may leave the data owner: the per-epoch mean loss is computed on
        the real rows without noise, so it is not covered by DP and a DP model's saved file and
        model card leave it out (it stays in memory for the data owner's own plot)."""
        return self.loss_history if self.params["epsilon"] is None else []

    def plot_training(self) -> Any:
        """What may be shown of a fit: the epsilon spent per epoch for a DP model (its loss curve is
        not private), the loss curve for a non-private one."""
        if self.params["epsilon"] is None:
            return self.plot_loss(internal=True)
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.2))
        if self.epsilon_history:
            e, v = zip(*self.epsilon_history)
            ax.plot(e, v, "o-", color="#c0392b")
        ax.axhline(self.params["epsilon"], color="#7f8c8d", ls="--", label="requested epsilon")
        ax.set_xlabel("epoch")
        ax.set_ylabel("epsilon spent (ledger)")
        ax.set_title("DP-TVAE: privacy spent during training")
        ax.legend()
        fig.tight_layout()
        return fig

    def plot_loss(self, internal: bool = False) -> Any:
        """The per-epoch training loss. For a DP model it is computed on real rows without noise and
        is not covered by DP: pass ``internal=True`` to say the plot stays with the data owner."""
        if self.params["epsilon"] is not None and not internal:
            raise SynthesizerError(
                "The loss curve of a DP fit is not private (real rows, no noise). Use plot_training() "
                "to show the epsilon spent, or plot_loss(internal=True) for the data owner's eyes only."
            )
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot(range(1, len(self.loss_history) + 1), self.loss_history, color="#2980b9")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss per row")
        title = "TVAE training loss" + (
            " (no DP)"
            if self.params["epsilon"] is None
            else f" (DP, epsilon={self.params['epsilon']}): NOT PRIVATE, data owner only"
        )
        ax.set_title(title)
        fig.tight_layout()
        return fig
