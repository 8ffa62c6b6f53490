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


def test_a_gpu_share_caps_the_batch_memory_of_processes_sharing_a_gpu(monkeypatch):
    """A sweep pool's processes share one GPU: each sizes its batches for its share (TMKT_GPU_SHARE) less
    what it holds, not for the whole free memory of the moment (which all of them would then take)."""
    gib = 1 << 30
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda index=None: (60 * gib, 80 * gib))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda dev=None: 3 * gib)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda dev=None: 2 * gib)
    cuda = torch.device("cuda", 0)
    monkeypatch.delenv(device.GPU_SHARE_ENV, raising=False)
    assert device.free_gpu_bytes(cuda) == 61 * gib  # free + cached but unused
    monkeypatch.setenv(device.GPU_SHARE_ENV, "0.125")
    assert device.free_gpu_bytes(cuda) == 8 * gib  # 1/8 of 80 GiB, less the 2 GiB it holds
    monkeypatch.setenv(device.GPU_SHARE_ENV, "0.01")
    assert device.free_gpu_bytes(cuda) == 0  # holds more than its share already
