"""Classification on output spikes: TET-style (mean over steps of per-step CE), CE of the time-averaged rate,
or SLAYER's SpikeRate loss (MSE of each output's rate to a true/false target rate).

The output layer spikes (that is what the chip reads), so logits are spike counts times `logit_scale`: a
binary spike per step gives a logit gap of at most 1, too flat for softmax CE without a scale. The TET
regulariser that pulls membrane outputs to the threshold (λ·MSE) is left out: our outputs are spikes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lava.lib.dl.slayer.loss import SpikeRate

MODES = ("tet", "rate", "spike_rate")


def per_step_ce(spikes: torch.Tensor, labels: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(T,) cross-entropy at each step of (N, K, T) output spikes."""
    logits = logit_scale * spikes.permute(0, 2, 1)  # N, T, K
    n, t, k = logits.shape
    ce = F.cross_entropy(logits.reshape(n * t, k), labels.repeat_interleave(t), reduction="none")
    return ce.reshape(n, t).mean(dim=0)


def classification_loss(spikes: torch.Tensor, labels: torch.Tensor, *, mode: str = "tet",
                        logit_scale: float = 4.0, step_weights: torch.Tensor | None = None,
                        rates: tuple[float, float] = (0.2, 0.03)) -> torch.Tensor:
    """Loss of (N, K, T) output spikes. `step_weights` (T,) weight TET's per-step terms (KT's 1 − σ(c_t));
    `rates` are spike_rate's (true, false) target rates. spike_rate never rewards a silent output layer,
    which CE can (wrong classes outnumber the right one), so deep nets whose output goes quiet still learn."""
    if mode not in MODES:
        raise ValueError(f"classification mode must be one of {MODES}, not {mode!r}")
    if mode == "spike_rate":
        return SpikeRate(*rates, reduction="mean")(spikes, labels)
    if mode == "rate":
        return F.cross_entropy(logit_scale * spikes.mean(dim=-1), labels)
    ce = per_step_ce(spikes, labels, logit_scale)
    return (ce * step_weights).mean() if step_weights is not None else ce.mean()
