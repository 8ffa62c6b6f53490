"""Train-time augmentation of framed batches: random rotation, left-right flip and translation per sample.

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
class RandomRotate:
    """Rotate each sample's frames by an angle drawn uniformly from ±`degrees` about the frame centre,
    nearest-neighbour, zeros outside (torchvision's RandomRotation defaults; event counts stay integers)."""

    degrees: float

    def __call__(self, frames: Tensor, generator: torch.Generator) -> Tensor:
        batch, channels, height, width, steps = frames.shape
        angle = (torch.rand(batch, generator=generator, device=frames.device) * 2 - 1) * self.degrees
        cos, sin = torch.cos(torch.deg2rad(angle)), torch.sin(torch.deg2rad(angle))
        zero = torch.zeros_like(cos)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        images = frames.permute(0, 1, 4, 2, 3).reshape(batch, channels * steps, height, width)
        grid = torch.nn.functional.affine_grid(theta, list(images.shape), align_corners=False)
        rotated = torch.nn.functional.grid_sample(images, grid, mode="nearest", padding_mode="zeros",
                                                  align_corners=False)
        return rotated.reshape(batch, channels, steps, height, width).permute(0, 1, 3, 4, 2).contiguous()


@dataclass(frozen=True)
class Compose:
    """Apply `transforms` in order (tonic.transforms.Compose, with the generator passed along)."""

    transforms: tuple[Transform, ...]

    def __call__(self, frames: Tensor, generator: torch.Generator) -> Tensor:
        for transform in self.transforms:
            frames = transform(frames, generator)
        return frames


def train_augmentation(size: int, *, augment: bool = True, flip: bool = False, crop_padding: int = 0,
                       rotate_degrees: float = 0.0) -> Compose | None:
    """The training transforms for `size`×`size` frames, None when there are none. `augment`
    (`data.augment`): flip (p=0.5), then translate by ≤ 4 px at 48. The protocols' pieces (`data.flip`,
    `data.crop_padding`: random crop of the frame padded by that many px, `data.rotate_degrees`) come on top:
    rotate, then flip, then crop, as the KT code's torchvision pipeline orders them."""
    transforms: list[Transform] = [RandomRotate(rotate_degrees)] if rotate_degrees > 0 else []
    if augment or flip:
        transforms.append(RandomFlipLR())
    pad = crop_padding or (max(1, round(size * PAD_PER_PIXEL)) if augment else 0)
    if pad:
        transforms.append(RandomTranslate(pad=pad))
    return Compose(tuple(transforms)) if transforms else None
