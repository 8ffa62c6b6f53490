"""The two light TMKT heads on per-step features (N, C, T) of the mixed stream.

MAG (Modality-Aware Guidance): one linear unit per step predicts whether that frame came from the event
stream. MRP (Mixup Ratio Perception): one linear unit on the time-averaged features regresses the sequence's
realised event ratio r. Both read the feature layer's spikes averaged over space (the global average pool the
papers use); they train the trunk only, they are not part of the deployed network.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


class ModalityHead(torch.nn.Module):
    """MAG: logits (N, T) that frame t is an event frame."""

    def __init__(self, channels: int):
        super().__init__()
        self.linear = torch.nn.Linear(channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.linear(features.transpose(1, 2)).squeeze(-1)

    def loss(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over steps (and batch) of BCE against the mixing mask m_t."""
        return F.binary_cross_entropy_with_logits(self(features), mask)


class RatioHead(torch.nn.Module):
    """MRP: predicted event ratio in (0, 1) per sequence."""

    def __init__(self, channels: int):
        super().__init__()
        self.linear = torch.nn.Linear(channels, 1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.linear(features.mean(dim=2))).squeeze(-1)

    def loss(self, features: torch.Tensor, ratio: torch.Tensor) -> torch.Tensor:
        """MSE between the predicted and realised ratio r."""
        return F.mse_loss(self(features), ratio)
