"""The device helper: CPU fallback, a clear error for a missing GPU, lava-dl's JIT arch from the GPU."""

from __future__ import annotations

import pytest
import torch

from tmkt_common import device


def test_auto_without_gpu_is_cpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert device.pick_device("auto").type == "cpu"


def test_cuda_without_gpu_is_an_error(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(RuntimeError, match="no CUDA device"):
        device.pick_device("cuda")


def test_unknown_preference_names_the_option():
    with pytest.raises(ValueError, match="--device"):
        device.pick_device("tpu")


def test_lava_jit_arch_follows_device_capability(monkeypatch):
    from lava.lib.dl.slayer import jitconfig

    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: (9, 0))
    monkeypatch.setattr(jitconfig, "TORCH_CUDA_ARCH_LIST", None)
    assert device.configure_lava_cuda() == "9.0"
    assert jitconfig.TORCH_CUDA_ARCH_LIST == "9.0"
