"""The TVAE of Xu et al. (2019): an encoder, and a decoder conditioned on the target.

Every trainable parameter sits in an ``nn.Linear`` used once per forward, which is what the
ghost clipping of ``dpsgd`` needs to clip each row's gradient exactly.
"""

from __future__ import annotations

import math

import torch
from torch import nn

# Input scale of the decoder's direct path from the target. Under per-sample clipping, a
# layer's share of each row's clipped gradient grows with the size of its input, while the
# noise per weight is the same everywhere; at scale 1 the direct path got ~1/60 of the
# budget and P(column | target) drowned in noise (TSTR/TRTR 0.74 at epsilon 3 on
# bank-marketing), at 8 it learns (0.94 with learning rate 2e-3), at 30 it starves the rest.
COND_SCALE = 8.0


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
        self,
        latent: int,
        hidden: tuple[int, ...],
        data_dim: int,
        n_positions: int,
        cond_dim: int = 0,
        logit_groups: list[int] | None = None,
        cond_ramps: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        # (cond_dim, k): k values appended to the condition, a fixed linear map of its one-hots
        # (DPTVAESynthesizer._cond_ramps: each numeric condition's place); saved with the model.
        ramps = cond_ramps if cond_ramps is not None else torch.zeros(cond_dim, 0)
        self.register_buffer("cond_ramps", ramps.float())
        cond_dim += ramps.shape[1]
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

    def forward(self, z: torch.Tensor, cond: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``cond``: the conditions' one-hots (the decoder appends their ramps itself)."""
        ones = torch.ones(z.shape[0], 1, device=z.device)
        if cond is None:
            out = self.body(z)
        else:
            cond = self.condition_input(cond)
            out = self.body(torch.cat([z, cond], 1)) + self.cond_out(cond * self.cond_scale)
        if self.log_temp is not None:
            log_t = torch.cat([self.log_temp(ones), torch.zeros_like(ones)], 1)  # positions: scale 1
            out = out * torch.exp(log_t[:, self.temp_index])
        return out, self.log_sigma(ones)


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
    ) -> None:
        super().__init__()
        self.encoder = Encoder(data_dim, hidden, latent)
        self.decoder = Decoder(latent, hidden, data_dim, n_positions, cond_dim, logit_groups, cond_ramps)
        self.latent = latent
