"""DP-SGD for networks of Linear layers, with per-sample gradient norms by ghost clipping.

For a Linear layer y = x W^T + b and one sample, the weight gradient is the outer product
g x^T (g = dLoss/dy), so its squared Frobenius norm is |g|^2 |x|^2 and the bias part
|g|^2. Summing over layers gives each sample's full gradient norm without materializing a
per-sample gradient. The clipped, summed gradient is then one matmul per layer:
(c * g)^T x. Cost: one forward, one backward to the layer outputs, and a matmul per layer,
about a plain training step (opacus' per-sample mode materializes B x |W| tensors, which
made a TVAE-sized model ~20x slower on 2 cores; its "ghost" mode does two backward passes
and only wraps standard criteria, not a VAE's composite loss).

Every trainable parameter must belong to an nn.Linear used once per forward on 2-D
input; :class:`GhostClipper` checks this, so nothing escapes clipping.
"""

from __future__ import annotations

import torch
from torch import nn


class GhostClipper:
    """Captures each Linear layer's input and output during forward."""

    def __init__(self, model: nn.Module) -> None:
        self.layers = [m for m in model.modules() if isinstance(m, nn.Linear)]
        covered = {id(p) for layer in self.layers for p in layer.parameters()}
        stray = [n for n, p in model.named_parameters() if p.requires_grad and id(p) not in covered]
        if stray:
            raise ValueError(f"Parameters outside nn.Linear layers cannot be clipped per sample: {stray}")
        self._inputs: dict[nn.Linear, torch.Tensor] = {}
        self._outputs: dict[nn.Linear, torch.Tensor] = {}
        self._handles = [layer.register_forward_hook(self._hook) for layer in self.layers]

    def _hook(self, layer: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        if layer in self._outputs:
            raise RuntimeError("A Linear layer ran twice in one forward; ghost clipping needs each once.")
        if inputs[0].dim() != 2:
            raise RuntimeError("Ghost clipping here supports 2-D (batch, features) inputs only.")
        self._inputs[layer] = inputs[0].detach()
        self._outputs[layer] = output

    def reset(self) -> None:
        self._inputs.clear()
        self._outputs.clear()

    def per_sample_grads_norms(self, loss_per_sample: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Per-sample gradient norms of ``loss_per_sample`` (shape B) and the output grads."""
        outputs = [self._outputs[layer] for layer in self.layers]
        grads = torch.autograd.grad(loss_per_sample.sum(), outputs, allow_unused=True)
        sq = torch.zeros_like(loss_per_sample)
        for layer, g in zip(self.layers, grads):
            if g is None:
                continue
            x = self._inputs[layer]
            g2 = g.pow(2).sum(1)
            sq = sq + g2 * x.pow(2).sum(1) + (g2 if layer.bias is not None else 0)
        return sq.sqrt(), list(grads)

    def clipped_sum_into_grad(self, norms: torch.Tensor, grads: list[torch.Tensor], max_grad_norm: float) -> None:
        """Set .grad of every parameter to the sum of per-sample gradients clipped to max_grad_norm."""
        scale = (max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        for layer, g in zip(self.layers, grads):
            if g is None:
                g = torch.zeros(scale.shape[0], layer.out_features, device=scale.device)
            gs = g * scale[:, None]
            layer.weight.grad = gs.t() @ self._inputs[layer]
            if layer.bias is not None:
                layer.bias.grad = gs.sum(0)

    def close(self) -> None:
        for h in self._handles:
            h.remove()


def add_noise_and_average(
    params: list[nn.Parameter],
    noise_multiplier: float,
    max_grad_norm: float,
    expected_batch_size: float,
    generator: torch.Generator,
) -> None:
    """Gaussian noise N(0, (sigma C)^2) on the clipped sum, then divide by the expected batch size
    (Poisson sampling: dividing by the realized size would leak it)."""
    for p in params:
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        noise = torch.normal(0.0, noise_multiplier * max_grad_norm, size=p.shape, generator=generator, device=p.device)
        p.grad = (p.grad + noise) / expected_batch_size


def poisson_batches(n: int, sample_rate: float, steps: int, generator: torch.Generator) -> list[torch.Tensor]:
    """Index batches where every row is included independently with probability sample_rate."""
    return [torch.nonzero(torch.rand(n, generator=generator) < sample_rate).squeeze(1) for _ in range(steps)]
