"""The emulator's Triton LIF kernel (its GPU path) against the numba CPU kernel, run in Triton's interpreter
on the CPU: same spikes and changed-state counts for the neuron kinds the IR allows (decays 0..4096, bias,
thresholds), inputs up to the int32-safe limit (24-bit wraps of `u` included), any strides, float or int32
inputs; its spike counts per sample and per neuron too. On a GPU,
tests/test_emulator.py's CPU↔CUDA test and benchmarks/gpu_round2.py check the compiled kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("triton")
pytest.importorskip("numba")  # the reference kernel
ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import numpy as np, torch
from tmkt_deploy.emulator import lif_triton
from tmkt_deploy.emulator.engine import INT32_SAFE_INPUT
from tmkt_deploy.emulator.lif_kernel import lif_window
from tmkt_deploy.ir import Cuba
from tmkt_deploy.loihi_params import lif_params

lif_triton.BLOCK = 64  # several programs per sample over 100 neurons
lif_triton.GROUP, lif_triton.MIN_PROGRAMS = 2, 0  # two groups of samples, the second one half padding
rng = np.random.default_rng(0)
neurons = [Cuba(i_decay=1024, v_decay=128, vth_mant=40), Cuba(i_decay=0, v_decay=0, vth_mant=10),
           Cuba(i_decay=4096, v_decay=4095, vth_mant=200), Cuba(i_decay=300, v_decay=4096, vth_mant=900,
           bias_mant=-700, bias_exp=3), Cuba(i_decay=50, v_decay=20, vth_mant=5000, bias_mant=900)]
for k, neuron in enumerate(neurons):
    params = lif_params(neuron, "x")
    top = INT32_SAFE_INPUT if k % 2 else 3000
    a_in = torch.as_tensor(rng.integers(-top, top + 1, (3, 100, 9)).astype(np.float32)).transpose(1, 2)
    window = lif_window(params, a_in.numpy(), spike_dtype=np.int64)
    expected = window.spikes
    for frames in (None, 5):  # of 9 steps
        fused = lif_triton.lif_window(params, a_in, spike_dtype=torch.int64, frames=frames)  # no 8-bit here
        got = fused.spikes.numpy()
        assert expected.any() and not expected.all(), k
        assert np.array_equal(got, expected), (k, int((got != expected).sum()))
        assert np.array_equal(fused.changed.numpy(), window.changed), k  # the energy report's counts
        assert np.array_equal(fused.counts.numpy(), window.counts), k
        if frames is None:
            assert fused.sums is None
        else:  # per neuron over the batch: every step, the first `frames` steps
            assert np.array_equal(fused.sums[0].numpy(), expected.sum(axis=(0, 1))), k
            assert np.array_equal(fused.sums[1].numpy(), expected[:, :frames].sum(axis=(0, 1))), k
    int_input = lif_triton.lif_window(params, a_in.to(torch.int32), spike_dtype=torch.int64)  # int8 GEMMs'
    assert np.array_equal(int_input.spikes.numpy(), expected), k
print("probe: ok")
"""

# The whole GPU path of `emulate` here: GEMM convs (an int32 matmul for torch._int_mm), the Triton LIF kernel
# (spikes as int64, then bytes: the interpreter has no 8-bit type), counts and sums from the kernel.
ENGINE_PROBE = """
import sys, warnings
sys.path.insert(0, "tests")
import numpy as np, torch
from test_emulator import frames, gemm_net
from tmkt_deploy.emulator import emulate, engine, lif_triton, synapse

torch.set_num_threads(1)  # batches one at a time, as on a GPU: the interpreter's state is process-wide
net, x = gemm_net(), frames(samples=3, time_steps=5)
cpu = emulate(net, x, record=True, digests=True, activity=True)
plain_kernel, plain_window, fused = engine._kernel, lif_triton.lif_window, []
engine._kernel = lambda name: None if name == "lif_kernel" else plain_kernel(name)


def window_in_bytes(params, a_in, spike_dtype=torch.uint8, frames=None):
    fused.append(a_in.dtype)
    out = plain_window(params, a_in, torch.int64, frames)
    out.spikes = out.spikes.to(spike_dtype)
    return out


lif_triton.lif_window = window_in_bytes
synapse.runs_gemm = lambda device: True
synapse.int_matmul = lambda columns, kernel, out: out.copy_(columns.int() @ kernel.int())
with warnings.catch_warnings():
    warnings.simplefilter("error", RuntimeWarning)  # the int8 convs stay on
    gpu = emulate(net, x, record=True, digests=True, activity=True, batch_size=2)  # two batches
assert len(fused) == 2 * len(net.layers) and torch.int32 in fused, fused
assert np.array_equal(cpu.output_spikes, gpu.output_spikes)
for field in ("layer_spikes", "layer_digests", "spike_counts", "window_spikes", "frame_spikes", "changed"):
    mine, theirs = getattr(cpu, field), getattr(gpu, field)
    assert mine.keys() == theirs.keys() and mine, field
    for name in mine:
        assert np.array_equal(mine[name], theirs[name]), (field, name)
print("probe: ok")
"""


@pytest.mark.parametrize("probe", [PROBE, ENGINE_PROBE], ids=["kernel", "emulate"])
def test_triton_lif_kernel_gives_the_cpu_kernels_spikes(probe):
    env = {**os.environ, "TRITON_INTERPRET": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    strict = ["-W", "error:Conversion of an array:DeprecationWarning"]  # numpy 2's error, on numpy 1.25+
    done = subprocess.run([sys.executable, *strict, "-c", probe], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "probe: ok" in done.stdout
