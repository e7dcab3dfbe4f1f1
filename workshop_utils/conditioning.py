"""The decoder's condition: the target and any other declared prediction targets (``also_predict``).

The decoder gets each conditioning column's one-hot through a direct path, which under DP-SGD
learns P(column | condition) far better than the latent code does (the latent code of a DP fit
carries almost nothing: on the workshop sample, credit score and interest rate correlate at -0.91,
and at -0.09 in a DP fit conditioned on ``default`` alone; -0.59 once ``interest_rate`` is a
condition too; -0.75 to -0.78 with the decoder's temperatures and the condition's place, see
``network.Decoder``). sample() must then draw the conditions jointly: from one noisy contingency
table of the conditioning columns' slots, a Gaussian mechanism of L2 sensitivity 1 (a row adds 1
to one cell) in the fit's plan. With the target alone, its noisy marginal from the preprocessing
is the table.
"""

from __future__ import annotations

import numpy as np
import torch

from .encoding import MAX_INTEGER_BINS, N_BINS
from .metadata import TableMetadata

MAX_CELLS = 2_000  # an upper bound from the metadata; beyond it the noisy table is mostly noise


def measure_table(
    slots: list[np.ndarray], shape: tuple[int, ...], sigma: float, rng: np.random.Generator
) -> list[float]:
    """Joint shares of the conditioning columns' slots (one array of slot indices per column),
    with Gaussian noise of standard deviation ``sigma`` on every cell (0: exact counts)."""
    cells = np.ravel_multi_index(tuple(slots), shape)
    counts = np.bincount(cells, minlength=int(np.prod(shape))).astype(float)
    if sigma > 0:
        counts += rng.normal(0.0, sigma, counts.shape)
        counts[counts < 3 * sigma] = 0.0  # mostly noise: an empty cell clears 3 sigma with probability 0.13%
    return normalised(counts).tolist()


def max_cells(meta: TableMetadata, columns: list[str]) -> int:
    """An upper bound on the table's cells from the declared metadata alone (checked before the
    budget is charged); raises for a categorical column whose categories are not declared."""
    cells = 1
    for col in columns:
        cm = meta.columns[col]
        kind = cm.modeled_kind()
        if kind == "boolean":
            cells *= 3
        elif kind == "categorical":
            if cm.categories is None:
                raise ValueError(f"condition on {col!r} needs its categories declared (meta.set_categories)")
            cells *= len(cm.categories) + 2
        else:
            cells *= max(N_BINS, MAX_INTEGER_BINS) + 1
    return cells


def normalised(counts: np.ndarray) -> np.ndarray:
    counts = np.clip(np.asarray(counts, dtype=float), 0.0, None)
    return counts / counts.sum() if counts.sum() > 0 else np.full(len(counts), 1 / len(counts))


def draw(
    table: list[float], shape: tuple[int, ...], m: int, generator: torch.Generator, fixed: dict[int, int] | None = None
) -> list[torch.Tensor]:
    """``m`` draws of every conditioning column's slot from the joint table; ``fixed`` ({column
    position: slot}) draws from the table restricted to those slots (the conditional distribution)."""
    p = torch.tensor(table, dtype=torch.float64).reshape(shape)
    for axis, slot in (fixed or {}).items():
        keep = torch.zeros(shape[axis], dtype=torch.bool)
        keep[slot] = True
        view = [1] * len(shape)
        view[axis] = shape[axis]
        p = p * keep.reshape(view)
    if float(p.sum()) <= 0:  # the table has no mass there: draw the fixed slots, the rest uniformly
        p = torch.ones(shape, dtype=torch.float64)
        for axis, slot in (fixed or {}).items():
            p.index_fill_(axis, torch.tensor([s for s in range(shape[axis]) if s != slot], dtype=torch.long), 0.0)
    cells = torch.multinomial(p.flatten() / p.sum(), m, replacement=True, generator=generator)
    return [torch.as_tensor(a) for a in np.unravel_index(cells.numpy(), shape)]
