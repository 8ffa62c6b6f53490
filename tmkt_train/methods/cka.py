"""Linear CKA between two streams' features, per time step, with learnable per-step weights (KT's alignment).

Ours (a few lines; no dependency of ours ships it).
CKA(X, Y) = ||Yc^T Xc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F), Xc/Yc centred over the batch. Computed
through the N x N Gram matrices, so the cost does not grow with the feature size.
"""

from __future__ import annotations

import torch

EPS = 1e-8


def linear_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """CKA of (N, F1) and (N, F2) features: 1 for identical (up to rotation/scale), near 0 for independent."""
    x = x - x.mean(dim=0, keepdim=True)
    y = y - y.mean(dim=0, keepdim=True)
    gx, gy = x @ x.T, y @ y.T
    return (gx * gy).sum() / (gx.norm() * gy.norm() + EPS)


def stepwise_cka(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """(T,) CKA of (N, F, T) features at each step."""
    return torch.stack([linear_cka(x[..., t], y[..., t]) for t in range(x.shape[-1])])


class StepWeights(torch.nn.Module):
    """Learnable per-step scalars c_t: σ(c_t) weights the alignment at step t, 1 − σ(c_t) the event stream's
    classification at step t (KT's trade-off; starts at 0.5/0.5)."""

    def __init__(self, steps: int):
        super().__init__()
        self.logits = torch.nn.Parameter(torch.zeros(steps))

    def forward(self) -> torch.Tensor:
        return torch.sigmoid(self.logits)

    def alignment_loss(self, source: torch.Tensor, events: torch.Tensor) -> torch.Tensor:
        """mean_t σ(c_t)·(1 − |CKA_t|) of the two streams' (N, F, T) membrane potentials."""
        return (self() * (1 - stepwise_cka(source, events).abs())).mean()
