"""Classification of the output layer: TET (mean over steps of per-step CE) on the output neurons' synaptic
current, TET on output spike counts, CE of the time-averaged spike rate, or SLAYER's SpikeRate loss (MSE of
each output's rate to a true/false target rate).

Default `tet` reads the output neurons' input current, the linear readout TET's own loss reads (its last layer
is a non-spiking FC). CE on output *spikes* has a silent attractor: a quiet output layer scores ln K, better
than the loss of a fresh net whose wrong classes fire, so a deep net (VGGSNN, ResNet-18 here) learns to
silence its output within a few dozen steps and then gets no signal. The current keeps its gradient whatever
the output fires, and the chip's output neurons integrate exactly that current, so spike counts (what the
chip reports) follow it. Spike-based modes use `logit_scale`: a binary spike per step gives a logit gap of at
most 1, too flat for softmax CE without a scale. The TET regulariser that pulls membrane outputs to the
threshold (λ·MSE) is left out.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from lava.lib.dl.slayer.loss import SpikeRate

MODES = ("tet", "tet-spikes", "rate", "spike_rate")


def per_step_ce(spikes: torch.Tensor, labels: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(T,) cross-entropy at each step of (N, K, T) output spikes."""
    logits = logit_scale * spikes.permute(0, 2, 1)  # N, T, K
    n, t, k = logits.shape
    ce = F.cross_entropy(logits.reshape(n * t, k), labels.repeat_interleave(t), reduction="none")
    return ce.reshape(n, t).mean(dim=0)


def classification_loss(spikes: torch.Tensor, labels: torch.Tensor, *, currents: torch.Tensor | None = None,
                        mode: str = "tet", logit_scale: float = 4.0, step_weights: torch.Tensor | None = None,
                        rates: tuple[float, float] = (0.2, 0.03)) -> torch.Tensor:
    """Loss of (N, K, T) output spikes, or for `tet` of the (N, K, T) output `currents`. `step_weights` (T,)
    weight TET's per-step terms (KT's 1 − σ(c_t)); `rates` are spike_rate's (true, false) target rates."""
    if mode not in MODES:
        raise ValueError(f"classification mode must be one of {MODES}, not {mode!r}")
    if mode == "spike_rate":
        return SpikeRate(*rates, reduction="mean")(spikes, labels)
    if mode == "rate":
        return F.cross_entropy(logit_scale * spikes.mean(dim=-1), labels)
    if mode == "tet":
        if currents is None:
            raise ValueError("classification mode 'tet' reads the output currents; pass currents=")
        ce = per_step_ce(currents, labels, 1.0)
    else:
        ce = per_step_ce(spikes, labels, logit_scale)
    return (ce * step_weights).mean() if step_weights is not None else ce.mean()
