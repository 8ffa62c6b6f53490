"""Spike records: one run's spikes over many samples, kept small enough for a whole test set.

A whole test set of per-layer spike records does not fit in memory (a VGGSNN sample alone is tens of MB), so
each run (the quantized PyTorch model, Lava, the emulator, an interop file) is kept as a `SpikeRecord`: its
output spikes in full (predictions, mismatch counts) and a digest of every layer's spikes per sample
(`digest.spike_digests`, computed on the device that holds the spikes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..ir import Network
from .digest import DIGEST_FORMAT, spike_digests


def predict_counts(spikes: np.ndarray, latency: int) -> np.ndarray:
    """Class per sample = argmax of output spike counts in the window after the latency (the model's output),
    ties to the lowest index (contract 1)."""
    window = spikes[..., latency:]
    return window.reshape(window.shape[0], -1, window.shape[-1]).sum(axis=-1).argmax(axis=1)


@dataclass
class SpikeRecord:
    """One run's spikes over some samples: output spikes (N, *output shape, P) uint8 and, per recorded layer,
    one digest per sample of its whole spike record."""

    output: np.ndarray
    digests: dict[str, np.ndarray]

    @classmethod
    def from_layers(cls, ir: Network, layers: dict[str, np.ndarray | torch.Tensor]) -> SpikeRecord:
        """From full per-layer spikes (N, *shape, P), numpy or torch on any device; must include the output
        layer."""
        output = torch.as_tensor(layers[ir.output]).to(torch.uint8).cpu().numpy()
        return cls(output=output, digests={name: spike_digests(spikes) for name, spikes in layers.items()})

    @classmethod
    def concat(cls, records: list[SpikeRecord]) -> SpikeRecord:
        return cls(output=np.concatenate([r.output for r in records]),
                   digests={k: np.concatenate([r.digests[k] for r in records]) for k in records[0].digests})

    def __len__(self) -> int:
        return len(self.output)

    def head(self, count: int) -> SpikeRecord:
        """The first `count` samples."""
        return SpikeRecord(self.output[:count], {k: v[:count] for k, v in self.digests.items()})

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        """Flat arrays for an .npz (see `from_arrays`)."""
        digests = {f"{prefix}/digest/{k}": v for k, v in self.digests.items()}
        fmt = {f"{prefix}/digest_format": np.array(DIGEST_FORMAT)}
        return {f"{prefix}/output": self.output, **fmt, **digests}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], prefix: str) -> SpikeRecord:
        """Back from `to_arrays`; a ValueError for digests of another format (they would all differ)."""
        found = int(arrays.get(f"{prefix}/digest_format", 1))
        if found != DIGEST_FORMAT:
            raise ValueError(f"spike digests of format {found} (an older tmkt-deploy); this one compares "
                             f"format {DIGEST_FORMAT}: export again")
        tag = f"{prefix}/digest/"
        return cls(output=arrays[f"{prefix}/output"],
                   digests={k.removeprefix(tag): v for k, v in arrays.items() if k.startswith(tag)})
