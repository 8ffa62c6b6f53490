"""The emulator's Triton LIF kernel (its GPU path) against the numba CPU kernel, run in Triton's interpreter
on the CPU: same spikes and changed-state counts for the neuron kinds the IR allows (decays 0..4096, bias,
thresholds), inputs up to the int32-safe limit (24-bit wraps of `u` included), any strides. On a GPU,
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
    got, changed = lif_triton.lif_window(params, a_in, spike_dtype=torch.int64)  # no 8-bit type here
    got = got.numpy()
    assert expected.any() and not expected.all(), k
    assert np.array_equal(got, expected), (k, int((got != expected).sum()))
    assert np.array_equal(changed.numpy(), window.changed), k  # the energy report's state-change counts
print("probe: ok")
"""


def test_triton_lif_kernel_gives_the_cpu_kernels_spikes():
    env = {**os.environ, "TRITON_INTERPRET": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    strict = ["-W", "error:Conversion of an array:DeprecationWarning"]  # numpy 2's error, on numpy 1.25+
    done = subprocess.run([sys.executable, *strict, "-c", PROBE], capture_output=True, text=True, env=env,
                          cwd=ROOT, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "probe: ok" in done.stdout
