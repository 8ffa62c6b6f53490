"""Pick the torch device, and make lava-dl's CUDA JIT build for the GPU that is actually there.

lava-dl 0.6 forces its CUDA extensions (the CUBA leaky-integrator kernel) to `sm_80` for every GPU of compute
capability 8.x or newer, which fails on Hopper (H100/H200) with "no kernel image is available for execution".
Setting `lava.lib.dl.slayer.jitconfig.TORCH_CUDA_ARCH_LIST` to the device's own `major.minor` before the first
CUDA op fixes that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


def cuda_arch(index: int = 0) -> str:
    """The `major.minor` compute capability of CUDA device `index`, as TORCH_CUDA_ARCH_LIST wants it."""
    import torch

    major, minor = torch.cuda.get_device_capability(index)
    return f"{major}.{minor}"


def configure_lava_cuda(index: int = 0) -> str:
    """Point lava-dl's JIT at this GPU's architecture; returns the arch string it set."""
    from .lavadl import import_slayer

    arch = cuda_arch(index)
    import_slayer().jitconfig.TORCH_CUDA_ARCH_LIST = arch
    return arch


def pick_device(preference: str = "auto") -> torch.device:
    """`auto` → CUDA when present, else CPU; `cuda` without a GPU is an error that says so (torch is
    imported here: this package stays torch-free at import)."""
    import torch

    if preference not in ("auto", "cpu", "cuda"):
        raise ValueError(f"--device must be auto, cpu or cuda, not {preference!r}")
    if preference == "cpu" or (preference == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch sees no CUDA device here")
    index = torch.cuda.current_device()
    configure_lava_cuda(index)
    return torch.device("cuda", index)


GPU_SHARE_ENV = "TMKT_GPU_SHARE"  # share of the GPU's memory this process sizes its batches for


def free_gpu_bytes(device: torch.device) -> int:
    """Bytes a new batch can use on CUDA `device`: the driver's free memory plus what torch's caching
    allocator holds unused (the driver counts that as taken), capped at `$TMKT_GPU_SHARE` of the GPU's
    memory less this process's allocations when set: processes sharing a GPU (a sweep's pool sets it to
    1/jobs) each see the free memory of the moment and would otherwise all size for it at once."""
    import os

    import torch

    free, total = torch.cuda.mem_get_info(device.index)  # index None: the current device
    allocated = torch.cuda.memory_allocated(device)
    usable = free + torch.cuda.memory_reserved(device) - allocated
    share = os.environ.get(GPU_SHARE_ENV)
    return usable if not share else max(0, min(usable, int(float(share) * total) - allocated))
