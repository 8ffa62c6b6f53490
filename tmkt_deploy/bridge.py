"""The one door from deployment into training: load a checkpoint's model, quantize it, run the PyTorch
reference, get its test set. No other `tmkt_deploy` module imports `tmkt_train` (tests/test_layering.py).

Reference spikes come from the trained model's own `SpikingNet.run` (T frames, then the latency tail; every
node's spikes), so the deploy reference is the training code itself.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from tmkt_common.lavadl import import_slayer
from tmkt_train.checkpoint import Checkpoint, load_model
from tmkt_train.data.build import build_split
from tmkt_train.models.graph import has_neuron
from tmkt_train.models.neuron import encode_input

from .ir import Network
from .quantize import quantize_net


def load_quantized(checkpoint: str | os.PathLike) -> tuple[torch.nn.Module, Checkpoint, Network]:
    """The checkpoint's model (eval mode, CPU), the checkpoint, and the model quantized to the IR (named
    after the run folder)."""
    model, ckpt = load_model(checkpoint)
    net = quantize_net(model, name=Path(checkpoint).parent.name or ckpt.train.model.backbone,
                       time_steps=ckpt.time_steps, class_names=list(ckpt.class_names))
    return model, ckpt, net


def test_set(ckpt: Checkpoint, data_dir: str | None, cache_dir: str | None = None):
    """The test split `tmkt-train eval` measures: the run's data settings (`limit` included), read from
    `data_dir` and cached in `cache_dir` (None: the dataset's default, the user's cache). Folders stored in
    the checkpoint are never used: a checkpoint from elsewhere must not choose where export reads or
    writes."""
    data = replace(ckpt.train.data, data_dir=data_dir or "", cache_dir=cache_dir or "")
    dataset = build_split(data, ckpt.train.seed, "test")
    if len(dataset) == 0:
        raise ValueError(f"dataset {data.dataset!r} has no test samples")
    return dataset


def graded_frames(net: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """Raw frames (N, C, H, W, T) → the model's own graded input spikes, int32 (what the chip receives)."""
    return encode_input(x, net.input_scale).numpy().astype(np.int32)


@torch.no_grad()
def reference_tensors(net: torch.nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Spikes (N, *shape, P) of every neuron node for raw frames `x` (N, C, H, W, T), over the
    P = T + output-latency steps `SpikingNet.run` runs (frames, then empty steps), left on x's device."""
    values, _ = net.run(x)
    return {name: values[name] for name, _ in net.graph if has_neuron(net.nodes[name])}


@contextmanager
def float_weights(net: torch.nn.Module) -> Iterator[None]:
    """Run `net` with its synapses' quantization pre-hooks off (the float model), then restore them."""
    hooked = [m for m in net.modules()
              if isinstance(m, import_slayer().synapse.layer.GenericLayer) and m.pre_hook_fx is not None]
    saved = [m.pre_hook_fx for m in hooked]
    for m in hooked:
        m.pre_hook_fx = None
    try:
        yield
    finally:
        for m, fx in zip(hooked, saved, strict=True):
            m.pre_hook_fx = fx
