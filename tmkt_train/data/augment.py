"""Train-time augmentation of framed batches: a random left-right flip and a random translation per sample.

Written here in tonic's style (small frozen dataclasses, composed), because tonic's transforms act on event
arrays before framing, while our trainer holds framed `(B, C, H, W, T)` tensors already on the GPU. Every
transform is vectorised over the batch on the batch's device, draws from the `torch.Generator` it is given
(the trainer seeds it from the run's generator, so runs stay reproducible), and applies one draw per sample
to all of that sample's time steps and channels. The trainer augments RGB and DVS batches with separate calls
(a pair is two different samples of one class) and never augments evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

PAD_PER_PIXEL = 4 / 48  # translation pad: 4 px at 48×48, scaled with the frame size


class Transform(Protocol):
    def __call__(self, frames: Tensor, generator: torch.Generator) -> Tensor: ...


@dataclass(frozen=True)
class RandomFlipLR:
    """Mirror each sample's frames left-right (the width axis) with probability `p`."""

    p: float = 0.5

    def __call__(self, frames: Tensor, generator: torch.Generator) -> Tensor:
        flip = torch.rand(len(frames), generator=generator, device=frames.device) < self.p
        return torch.where(flip.view(-1, 1, 1, 1, 1), frames.flip(-2), frames)


@dataclass(frozen=True)
class RandomTranslate:
    """Shift each sample by up to `pad` px along height and width: a random crop of the zero-padded frame."""

    pad: int

    def __call__(self, frames: Tensor, generator: torch.Generator) -> Tensor:
        if self.pad == 0:
            return frames
        batch, channels, height, width, steps = frames.shape
        padded_width = width + 2 * self.pad
        padded = torch.nn.functional.pad(frames, (0, 0, self.pad, self.pad, self.pad, self.pad))
        dy, dx = torch.randint(0, 2 * self.pad + 1, (2, batch, 1, 1), generator=generator,
                               device=frames.device)
        rows = dy + torch.arange(height, device=frames.device).view(1, -1, 1)
        cols = dx + torch.arange(width, device=frames.device).view(1, 1, -1)
        # each output pixel's flat position in the padded frame, expanded (a view) over channels and steps
        source = (rows * padded_width + cols).view(batch, 1, height * width, 1)
        index = source.expand(batch, channels, height * width, steps)
        flat = padded.view(batch, channels, -1, steps)
        return flat.gather(2, index).view(batch, channels, height, width, steps)


@dataclass(frozen=True)
class Compose:
    """Apply `transforms` in order (tonic.transforms.Compose, with the generator passed along)."""

    transforms: tuple[Transform, ...]

    def __call__(self, frames: Tensor, generator: torch.Generator) -> Tensor:
        for transform in self.transforms:
            frames = transform(frames, generator)
        return frames


def train_augmentation(size: int) -> Compose:
    """`data.augment`'s transforms for `size`×`size` frames: flip (p=0.5), then translate by ≤ 4 px at 48."""
    return Compose((RandomFlipLR(), RandomTranslate(pad=max(1, round(size * PAD_PER_PIXEL)))))
