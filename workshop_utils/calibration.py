"""Marginal calibration: shift each column's output logits so that the sampler's marginal matches
the marginal the preprocessing measured (and paid for).

Why: DP-SGD clips every row's gradient to the same norm. Rows the model fits badly (a value away
from an atom, a rare category) have gradients tens of times larger than the rest, so after
clipping their pull on the column's logits is tens of times weaker, and the model drifts to the
majority (bank's ``pdays``: 82% at -1 became 100% in most DP fits; without noise, clipping alone
turns an 80% atom into 96%). The measured marginals are already DP, and the decoder's logits are
a DP model's output, so fitting one offset per slot to match them is post-processing: no privacy
cost. The sampler draws the columns in order, each given the ones before it, so the offsets are
fitted in that order, one marginal each (iterative proportional fitting over the logits of one
draw of rows), and each later column reads values drawn from the calibrated ones; the dependence
the model learned (how logits move with z and with the earlier columns) is kept.
"""

from __future__ import annotations

import torch

ITERATIONS = 50
FLOOR = 1e-4  # a slot the measurement reads as empty keeps a trace: the measure is noisy


def marginal_offsets(logits: torch.Tensor, target: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Offsets ``b`` such that ``softmax(logits + b)`` averaged over the rows is ``target``.

    ``logits``: (rows, slots) from the decoder; ``target``: (slots,) shares; ``mask``: slots the
    sampler never draws (a null slot of a column declared not nullable)."""
    target = target.double().clamp_min(FLOOR)
    logits = logits.double()
    if mask is not None:
        target = target.masked_fill(mask, 0.0)
        logits = logits.masked_fill(mask, -torch.inf)
    target = target / target.sum()
    offsets = torch.zeros(logits.shape[1], dtype=torch.float64)
    live = target > 0
    for _ in range(ITERATIONS):
        mean = torch.softmax(logits + offsets, 1).mean(0)
        step = torch.where(live, torch.log(target.clamp_min(1e-300)) - torch.log(mean.clamp_min(1e-300)), 0.0)
        offsets = offsets + step
        if float(step.abs().max()) < 1e-6:
            break
    return torch.where(live, offsets - offsets[live].mean(), 0.0).float()
