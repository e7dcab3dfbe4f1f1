"""The TVAE of Xu et al. (2019): an encoder, and a decoder conditioned on the target.

Every trainable parameter sits in an ``nn.Linear`` used once per forward, which is what the
ghost clipping of ``dpsgd`` needs to clip each row's gradient exactly.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch
from torch import nn

# Input scale of the decoder's direct path from the target. Under per-sample clipping, a
# layer's share of each row's clipped gradient grows with the size of its input, while the
# noise per weight is the same everywhere; at scale 1 the direct path got ~1/60 of the
# budget and P(column | target) drowned in noise (TSTR/TRTR 0.74 at epsilon 3 on
# bank-marketing), at 8 it learns (0.94 with learning rate 2e-3), at 30 it starves the rest.
COND_SCALE = 8.0
# Input scale of the autoregressive path (``Decoder.chain``), for the same reason. Diamonds at
# epsilon 3 (validation split, one fit each, before the places and bands): R^2 ratio 0.883 at 0.3,
# 0.895 at 1, 0.904 at 3, 0.912 at 8.
CHAIN_SCALE = 8.0


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


class DecoderBase(NamedTuple):
    """What the decoder computes before reading any of the row's values (``Decoder.base``)."""

    out: torch.Tensor  # outputs from z and the condition (before the autoregressive path)
    scale: torch.Tensor  # each output's temperature (1 for positions)
    log_sigma: torch.Tensor  # the positions' log scales
    mu: torch.Tensor  # each banded column's band centre from the condition (rows, bands)
    band_scale: torch.Tensor  # each band's sharpness (rows, bands), one learned value per band


class Decoder(nn.Module):
    def __init__(
        self,
        latent: int,
        hidden: tuple[int, ...],
        data_dim: int,
        n_positions: int,
        cond_dim: int = 0,
        logit_groups: list[int] | None = None,
        cond_ramps: torch.Tensor | None = None,
        column_spans: list[tuple[int, int]] | None = None,
        chain_places: torch.Tensor | None = None,
        band_centres: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        # (cond_dim, k): k values appended to the condition, a fixed linear map of its one-hots
        # (DPTVAESynthesizer._cond_ramps: each numeric condition's place); saved with the model.
        ramps = cond_ramps if cond_ramps is not None else torch.zeros(cond_dim, 0)
        self.register_buffer("cond_ramps", ramps.float())
        cond_dim += ramps.shape[1]
        # The autoregressive path: each column's outputs (``column_spans``: its (start, end) in the
        # row) also get a linear map of the encoded values of every column before it. Why: under
        # DP-SGD the latent code learns almost nothing, so without it the columns are independent
        # given the condition (diamonds: clarity and carat at a fixed price), and pair fidelity and
        # utility stop there. Each weight here learns from every row holding its input slot, as the
        # direct path from the target does. Zero at the start: the outputs begin at the marginals.
        # ``chain_places`` (data_dim, k) maps a row to the place in [-1, 1] of each of its k numeric
        # columns (``DPTVAESynthesizer._chain_places``), which the columns after it read too: one weight
        # per output then learns a trend from every row, where a bin's one-hot learns from its rows only.
        self.spans = [tuple(s) for s in column_spans] if column_spans else []
        places = chain_places if chain_places is not None else torch.zeros(data_dim, 0)
        self.register_buffer("chain_places", places.float())
        last_row = [
            int(torch.nonzero(places[:, k]).max()) if places[:, k].any() else -1 for k in range(places.shape[1])
        ]
        self.places_before = [sum(r < st for r in last_row) for st, _ in self.spans]
        # A band on each numeric column's bins (``band_centres``: each bin's place, 0 elsewhere): its
        # logits also get s (2 c mu - c^2), a Gaussian of centre mu and width 1/sqrt(2 s) over the bins'
        # places c. Why: a sharp conditional over 32 bins needs logits tens of units apart, which DP-SGD's
        # small noisy steps do not reach weight by weight (diamonds at epsilon 3: carat given price came
        # out twice as wide as the real one); here one learned sharpness s per column does it, and mu,
        # linear in the condition and the columns before, learns from every row.
        centres = band_centres if band_centres is not None and self.spans else torch.zeros(data_dim)
        self.register_buffer("band_centres", centres.float())
        self.band_of = [-1] * len(self.spans)
        for j, (st, ed) in enumerate(self.spans):
            if centres[st:ed].any():
                self.band_of[j] = max(self.band_of) + 1
        bands = max(self.band_of, default=-1) + 1
        self.log_band = nn.Linear(1, bands, bias=False) if bands else None
        if self.log_band is not None:
            nn.init.zeros_(self.log_band.weight)
        layers, d = [], latent + cond_dim
        for h in hidden:
            layers += [nn.Linear(d, h), nn.ReLU()]
            d = h
        layers.append(nn.Linear(d, data_dim))
        self.body = nn.Sequential(*layers)
        # A direct path from the condition to every output logit (and band centre): P(column | target)
        # is then a few thousand weights that each get the full clipped gradient of the rows of that
        # class, which keeps a high signal-to-noise ratio under DP-SGD.
        self.data_dim = data_dim
        self.cond_out = nn.Linear(cond_dim, data_dim + bands, bias=False) if cond_dim else None
        self.register_buffer("cond_scale", torch.tensor(COND_SCALE))  # fixed, saved with the model
        self.chain = nn.ModuleList(
            nn.Linear(st + self.places_before[j], ed - st + (self.band_of[j] >= 0), bias=False)
            for j, (st, ed) in enumerate(self.spans)
            if j
        )
        for layer in self.chain:
            nn.init.zeros_(layer.weight)
        # The learned output scale, as a Linear on a constant 1 so it gets a per-sample gradient.
        # It starts at the spread of a uniform position in [-1, 1] (1/sqrt(3)), what nothing learned
        # implies, and narrows where the rows say so. Why not small: a DP fit's few hundred noisy Adam
        # steps move it about one unit of log, so from 0.1 it ended at 0.17-0.29 on taxis and values
        # bunched near the middle of their bins (within-bin spread 0.37-0.41 against the real 0.55-0.58
        # at epsilon 3; 0.54-0.59 now). Taxis' validation split: fidelity 0.885 -> 0.902 at epsilon 3,
        # 0.758 -> 0.810 at epsilon 1 (README, synthesizer).
        self.log_sigma = nn.Linear(1, max(n_positions, 1), bias=False)
        nn.init.constant_(self.log_sigma.weight, math.log(1 / math.sqrt(3)))
        # One learned log-temperature per softmax column (``logit_groups``: its column per output,
        # -1 for positions), a Linear on a constant 1 like log_sigma. Why: under DP-SGD noise,
        # Adam moves each weight a few units in 6,000 steps, while a sharp conditional needs logits
        # tens of units apart, so P(credit score | interest-rate bin) came out twice as wide as the
        # real one; one scale per column learns from every row and sharpens all its logits at once.
        self.log_temp = None
        if logit_groups is not None:
            groups = max(logit_groups) + 1
            self.log_temp = nn.Linear(1, groups, bias=False)
            nn.init.zeros_(self.log_temp.weight)
            index = torch.tensor([g if g >= 0 else groups for g in logit_groups])
            self.register_buffer("temp_index", index)

    def condition_input(self, onehot: torch.Tensor) -> torch.Tensor:
        """The conditions' one-hots, then their ramps (``cond_ramps``)."""
        return torch.cat([onehot, onehot @ self.cond_ramps], 1) if self.cond_ramps.shape[1] else onehot

    def base(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> DecoderBase:
        """What does not depend on the row's own values (see ``DecoderBase``)."""
        ones = torch.ones(z.shape[0], 1, device=z.device)
        bands = self.log_band.out_features if self.log_band is not None else 0
        if cond is None:
            out = self.body(z)
            mu = torch.zeros(z.shape[0], bands, device=z.device)
        else:
            cond = self.condition_input(cond)
            direct = self.cond_out(cond * self.cond_scale)
            out = self.body(torch.cat([z, cond], 1)) + direct[:, : self.data_dim]
            mu = direct[:, self.data_dim :]
        if self.log_temp is not None:
            log_t = torch.cat([self.log_temp(ones), torch.zeros_like(ones)], 1)  # positions: scale 1
            scale = torch.exp(log_t[:, self.temp_index])
        else:
            scale = torch.ones_like(out)
        band_scale = torch.exp(self.log_band(ones)) if bands else torch.zeros(z.shape[0], 0, device=z.device)
        return DecoderBase(out, scale, self.log_sigma(ones), mu, band_scale)

    def column(self, j: int, base: DecoderBase, x: torch.Tensor) -> torch.Tensor:
        """Column ``j``'s outputs given the values ``x`` of the columns before it (sampling one column
        at a time; ``x`` may hold zeros from column ``j`` on)."""
        st, ed = self.spans[j]
        out = base.out[:, st:ed]
        band = self.band_of[j]
        mu = base.mu[:, band] if band >= 0 else None
        if j > 0:
            inputs = x[:, :st]
            if self.places_before[j]:
                places = x[:, :st] @ self.chain_places[:st, : self.places_before[j]]
                inputs = torch.cat([inputs, places], 1)
            chained = self.chain[j - 1](inputs * CHAIN_SCALE)
            out = out + chained[:, : ed - st]
            if band >= 0:
                mu = mu + chained[:, -1]
        out = out * base.scale[:, st:ed]
        if band >= 0:
            c = self.band_centres[st:ed]
            out = out + base.band_scale[:, band : band + 1] * (2 * c * mu[:, None] - c**2)
        return out

    def forward(
        self, z: torch.Tensor, cond: torch.Tensor | None = None, x: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``cond``: the conditions' one-hots (the decoder appends their ramps itself); ``x``: the encoded
        rows, which the autoregressive path reads (teacher forcing; needed when it exists)."""
        base = self.base(z, cond)
        if self.chain:
            if x is None:
                raise ValueError("this decoder has an autoregressive path: pass the encoded rows x")
            return torch.cat([self.column(j, base, x) for j in range(len(self.spans))], 1), base.log_sigma
        return base.out * base.scale, base.log_sigma


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
        logit_groups: list[int] | None = None,
        cond_ramps: torch.Tensor | None = None,
        column_spans: list[tuple[int, int]] | None = None,
        chain_places: torch.Tensor | None = None,
        band_centres: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(data_dim, hidden, latent)
        self.decoder = Decoder(
            latent,
            hidden,
            data_dim,
            n_positions,
            cond_dim,
            logit_groups,
            cond_ramps,
            column_spans,
            chain_places,
            band_centres,
        )
        self.latent = latent
