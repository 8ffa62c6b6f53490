"""Classification of the output layer: TET (mean over steps of per-step CE) on the output neurons' synaptic
current, TET on output spike counts, CE of the time-averaged spike rate, or SLAYER's SpikeRate loss (MSE of
each output's rate to a true/false target rate).

Default `tet` reads the output neurons' input current, the linear readout TET's own loss reads (its last layer
is a non-spiking FC). CE on output *spikes* has a silent attractor: a quiet output layer scores ln K, better
than the loss of a fresh net whose wrong classes fire, so a deep net (VGGSNN, ResNet-18 here) learns to
silence its output within a few dozen steps and then gets no signal. The current keeps its gradient whatever
the output fires, and the chip's output neurons integrate exactly that current, so spike counts (what the
chip reports) follow it. Spike-based modes use `logit_scale`: a binary spike per step gives a logit gap of at
most 1, too flat for softmax CE without a scale. TET's regulariser λ·MSE(o_t, θ), which pulls the outputs
towards the threshold, is `mse_weight` (MethodConfig.tet_mse, off by default), on the output currents.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..config import CLS_MODES
from ..lavadl import slayer

MODES = CLS_MODES


def per_step_ce(spikes: torch.Tensor, labels: torch.Tensor, logit_scale: float) -> torch.Tensor:
    """(T,) cross-entropy at each step of (N, K, T) output spikes."""
    logits = logit_scale * spikes.permute(0, 2, 1)  # N, T, K
    n, t, k = logits.shape
    ce = F.cross_entropy(logits.reshape(n * t, k), labels.repeat_interleave(t), reduction="none")
    return ce.reshape(n, t).mean(dim=0)


def classification_loss(spikes: torch.Tensor, labels: torch.Tensor, *, currents: torch.Tensor | None = None,
                        mode: str = "tet", logit_scale: float = 4.0, step_weights: torch.Tensor | None = None,
                        rates: tuple[float, float] = (0.2, 0.03), mse_weight: float = 0.0,
                        threshold: float = 1.0) -> torch.Tensor:
    """Loss of (N, K, T) output spikes, or for `tet` of the (N, K, T) output `currents`. `step_weights` (T,)
    weight TET's per-step terms (KT's 1 − σ(c_t)); `rates` are spike_rate's (true, false) target rates;
    `mse_weight` > 0 adds mse_weight·mean((currents − threshold)²) (TET's λ·MSE term)."""
    if mode not in MODES:
        raise ValueError(f"classification mode must be one of {MODES}, not {mode!r}")
    loss = _readout_loss(spikes, labels, currents, mode, logit_scale, step_weights, rates)
    if mse_weight > 0:
        if currents is None:
            raise ValueError("TET's MSE term reads the output currents; pass currents=")
        loss = loss + mse_weight * (currents - threshold).square().mean()
    return loss


def _readout_loss(spikes, labels, currents, mode, logit_scale, step_weights, rates) -> torch.Tensor:
    if mode == "spike_rate":
        return slayer.loss.SpikeRate(*rates, reduction="mean")(spikes, labels)
    if mode == "rate":
        return F.cross_entropy(logit_scale * spikes.mean(dim=-1), labels)
    if mode == "tet":
        if currents is None:
            raise ValueError("classification mode 'tet' reads the output currents; pass currents=")
        ce = per_step_ce(currents, labels, 1.0)
    else:
        ce = per_step_ce(spikes, labels, logit_scale)
    return (ce * step_weights).mean() if step_weights is not None else ce.mean()
