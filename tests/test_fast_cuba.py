"""The fast CUBA path against lava-dl SLAYER itself: identical spikes and voltages, matching surrogate
gradients.

The fused scan is tested where the product uses it, inside the time-folded nets (`FoldedNet` over SLAYER
blocks, `FastSpikingNet` over our registry models): the torch scan on CPU against SLAYER's CPU neuron, the
Triton scan on CUDA against the torch scan.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys

import numpy as np
import pytest
import support
import torch
from lava.lib.dl import slayer

from tmkt_train.fast import FoldedNet, scan
from tmkt_train.models import build_model
from tmkt_train.models.fast_net import FastSpikingNet

NEURON = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3}
VARIANTS = [NEURON, {**NEURON, "threshold": 0.5, "current_decay": 1.0, "voltage_decay": 0.1}]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (Triton kernels)")


def tiny_vgg(seed: int, neuron: dict = NEURON) -> torch.nn.Sequential:
    """Conv-Conv-Pool-Conv-Pool-Flatten-Dense of SLAYER cuba blocks, 8x8 input, small widths."""
    torch.manual_seed(seed)
    cuba = slayer.block.cuba
    return torch.nn.Sequential(
        cuba.Conv(neuron, 2, 4, 3, padding=1, weight_scale=3),
        cuba.Conv(neuron, 4, 6, 3, padding=1, weight_scale=3),
        cuba.Pool(neuron, 2, weight_scale=1.1 * neuron["threshold"]),
        cuba.Conv(neuron, 6, 8, 3, padding=1, weight_scale=3),
        cuba.Pool(neuron, 2, weight_scale=1.1 * neuron["threshold"]),
        cuba.Flatten(),
        cuba.Dense(neuron, 8 * 2 * 2, 5, weight_scale=3),
    )


def graded_frames(batch: int, seed: int, steps: int = 12) -> torch.Tensor:
    """Graded input spikes (N, 2, 8, 8, T) in SLAYER layout."""
    frames = support.graded_frames((batch, 2, 8, 8, steps), density=1.0, low=0, high=4, seed=seed)
    return torch.as_tensor(frames, dtype=torch.float32)


def slayer_layers(blocks: torch.nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    outputs = []
    for block in blocks:
        x = block(x)
        outputs.append(x)
    return outputs


@pytest.mark.parametrize("neuron", VARIANTS)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folded_net_spikes_equal_slayer_blocks_layer_by_layer(neuron: dict, seed: int) -> None:
    blocks = tiny_vgg(seed, neuron)
    x = graded_frames(3, seed)
    with torch.no_grad():
        expected = slayer_layers(blocks, x)
        got = FoldedNet(blocks)(x, return_layers=True)
    for index, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have.shape == want.shape, f"block {index}"
        assert torch.equal(have, want), f"block {index} differs"
    assert 0.02 < expected[0].mean() < 0.95 and expected[-1].sum() > 0, "the check needs spiking activity"


def folded_gradients(blocks: torch.nn.Sequential, x: torch.Tensor, upstream: torch.Tensor,
                     net: torch.nn.Module) -> list[torch.Tensor]:
    """Gradients of `(net(x) * upstream).sum()` for the input, then every block parameter that gets one."""
    blocks.zero_grad()
    x = x.clone().requires_grad_()
    (net(x) * upstream).sum().backward()
    return [x.grad, *(p.grad.clone() for p in blocks.parameters() if p.grad is not None)]


@pytest.mark.parametrize("neuron", VARIANTS)
def test_folded_net_input_and_weight_gradients_match_slayer(neuron: dict) -> None:
    blocks = tiny_vgg(3, neuron)
    x = graded_frames(2, 3)
    upstream = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(4))
    expected = folded_gradients(blocks, x, upstream, lambda x: slayer_layers(blocks, x)[-1])
    got = folded_gradients(blocks, x, upstream, FoldedNet(blocks))
    assert len(got) == len(expected) == 5  # the input and four weights (the pools' are frozen)
    assert expected[0].abs().sum() > 0, "the surrogate must pass some gradient to the input"
    for have, want in zip(got, expected, strict=True):
        assert torch.isfinite(have).all()
        torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-7)


def test_folded_net_shares_slayer_parameters_and_refuses_unsupported_options() -> None:
    blocks = tiny_vgg(4)
    folded = FoldedNet(blocks)
    assert all(mine is theirs for mine, theirs in zip(folded.parameters(), blocks.parameters(), strict=True))
    assert folded.state_dict().keys() == {f"blocks.{key}" for key in blocks.state_dict()}
    graded = slayer.block.cuba.Dense({**NEURON, "graded_spike": True}, 4, 3)
    with pytest.raises(ValueError, match=r"block 1 \(Dense\)\.neuron: .*graded_spike=True"):
        FoldedNet([blocks[-1], graded])


@CUDA
@pytest.mark.parametrize("neuron", VARIANTS)
def test_triton_scan_equals_torch_scan(neuron: dict) -> None:
    blocks = tiny_vgg(6, neuron)
    x = graded_frames(4, 6)
    with torch.no_grad():
        expected = FoldedNet(blocks)(x, return_layers=True)
        got = FoldedNet(blocks.cuda())(x.cuda(), return_layers=True)
    for want, have in zip(expected, got, strict=True):
        assert torch.equal(have.float().cpu(), want)


@CUDA
def test_triton_scan_gradients_are_finite() -> None:
    """bf16 backward on CUDA: not equal to SLAYER's float32 gradients, but they must exist and be finite."""
    blocks = tiny_vgg(3).cuda()
    x, upstream = graded_frames(2, 3).cuda(), torch.randn(2, 5, 12, device="cuda")
    grads = folded_gradients(blocks, x, upstream, FoldedNet(blocks))
    assert len(grads) == 5 and all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(("name", "size"), [("vggsnn", 16), ("resnet18", 8)])
def test_fast_spiking_net_matches_registry_model(name: str, size: int) -> None:
    torch.manual_seed(7)
    net = build_model(name, num_classes=4, input_shape=(2, size, size), width=1 / 16)
    fast = FastSpikingNet(net)
    x = torch.poisson(torch.full((2, 2, size, size, 6), 0.4), generator=torch.Generator().manual_seed(8))
    expected = net(x)
    got = fast(x)
    assert torch.equal(got.spikes, expected.spikes)
    assert torch.equal(got.features, expected.features)
    assert torch.equal(got.potentials, expected.potentials)
    torch.testing.assert_close(got.currents, expected.currents)  # float sums: summation order may differ
    assert got.spike_counts == pytest.approx(expected.spike_counts)
    assert sum(expected.spike_counts.values()) > 0
    loss = lambda out: (out.spikes.sum() + out.features.square().sum() + out.potentials.square().sum()  # noqa: E731
                        + out.currents.square().sum())
    weights = [p for p in net.parameters() if p.requires_grad]
    want = torch.autograd.grad(loss(net(x)), weights, allow_unused=True)
    have = torch.autograd.grad(loss(fast(x)), weights, allow_unused=True)
    for w, h in zip(want, have, strict=True):
        if w is None:
            assert h is None or not h.any()
            continue
        torch.testing.assert_close(h, w, rtol=1e-4, atol=1e-6)


@CUDA
def test_fast_spiking_net_on_cuda_equals_registry_model_on_cpu() -> None:
    torch.manual_seed(9)
    net = build_model("resnet18", num_classes=4, input_shape=(2, 8, 8), width=1 / 16)
    x = torch.poisson(torch.full((2, 2, 8, 8, 6), 0.4), generator=torch.Generator().manual_seed(10))
    with torch.no_grad():
        expected = net(x)
        got = FastSpikingNet(net.cuda())(x.cuda())
    assert torch.equal(got.spikes.cpu(), expected.spikes)
    assert torch.equal(got.potentials.cpu(), expected.potentials)


@pytest.mark.parametrize(("name", "size"), [("scnn", 16), ("vggsnn", 16), ("resnet18", 8)])
def test_fast_chip_timed_run_equals_registry_run(name: str, size: int) -> None:
    """The deploy reference on a GPU: shifted delay-free spikes = SLAYER's chip-timed run, every node."""
    torch.manual_seed(11)
    net = build_model(name, num_classes=4, input_shape=(2, size, size), width=1 / 8)
    x = torch.poisson(torch.full((2, 2, size, size, 5), 0.4), generator=torch.Generator().manual_seed(12))
    with torch.no_grad():
        want, want_voltage = net.run(x)
    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:  # on CUDA through SpikingNet.run itself (what export runs there)
        runner = FastSpikingNet(net).run if device == "cpu" else copy.deepcopy(net).cuda().run
        have, have_voltage = runner(x.to(device))
        assert set(have) == set(want)
        for node, spikes in want.items():
            assert torch.equal(have[node].cpu(), spikes), (device, node)
        assert torch.equal(have_voltage.cpu(), want_voltage), device
    assert sum(float(v.sum()) for node, v in want.items() if node != "input") > 0  # not an all-silent net


INTERPRETED = os.environ.get("TRITON_INTERPRET") == "1"


def test_triton_kernels_pass_under_the_cpu_interpreter() -> None:
    """Runs the `interpreted` tests below in a process where Triton interprets its kernels on CPU (the
    variable must be set before Triton is imported)."""
    pytest.importorskip("triton")
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", __file__,
           "-k", "interpreted"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0 and "2 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-2000:]


@pytest.fixture
def interpreted_triton(monkeypatch: pytest.MonkeyPatch):
    """The Triton kernels, run on CPU tensors by Triton's interpreter, in place of the torch scan: the fused
    paths (pools read inside the scan, spike counts) checked without a GPU. Triton 2.3's interpreter lacks
    a few builder types and `div_rn` (exact division there), and its `static_range` wants compiled
    constexprs: patched for the test."""
    if not INTERPRETED:
        pytest.skip("run by test_triton_kernels_pass_under_the_cpu_interpreter (TRITON_INTERPRET=1)")
    import triton
    from triton.runtime import interpreter

    tl = triton.language
    for name, dtype in {"get_int1_ty": tl.int1, "get_int32_ty": tl.int32}.items():
        if not hasattr(interpreter.Builder, name):
            monkeypatch.setattr(interpreter.Builder, name, lambda self, dtype=dtype: dtype, raising=False)
    if not hasattr(interpreter.Builder, "get_int1"):  # Python bools in masks
        monkeypatch.setattr(interpreter.Builder, "get_int1", raising=False,
                            value=lambda self, v: interpreter.TensorHandle(np.array([v]), tl.int1))
        np_dtype = interpreter.Builder.np_dtype
        monkeypatch.setattr(interpreter.Builder, "np_dtype",
                            lambda self, t: np.dtype(bool) if t == tl.int1 else np_dtype(self, t))
    if not hasattr(tl, "div_rn"):
        monkeypatch.setattr(tl, "div_rn", lambda x, y: x / y, raising=False)
    monkeypatch.setattr(tl, "static_range", range)  # its constexpr check fails on the interpreter's ints
    monkeypatch.setattr(scan, "_backend", lambda x: scan.scan_triton)


def test_interpreted_fused_pools_equal_torch_scan(interpreted_triton) -> None:
    """Spikes of every block and all gradients: the fused Triton path (pools inside the scan) on CPU via
    the interpreter against the unfused torch path."""
    blocks = tiny_vgg(5)
    x = graded_frames(2, 5)
    upstream = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        fused = FoldedNet(blocks, fuse=True)(x, return_layers=True)
    with pytest.MonkeyPatch.context() as torch_only:
        torch_only.setattr(scan, "_backend", lambda x: scan.scan_torch)
        with torch.no_grad():
            expected = FoldedNet(blocks, fuse=False)(x, return_layers=True)
        want = folded_gradients(blocks, x, upstream, FoldedNet(blocks, fuse=False))
    for index, (have, ref) in enumerate(zip(fused, expected, strict=True)):
        assert torch.equal(have, ref), f"block {index}"
    assert expected[2].sum() > 0 and expected[4].sum() > 0, "the pools must fire"
    have = folded_gradients(blocks, x, upstream, FoldedNet(blocks, fuse=True))
    for h, w in zip(have, want, strict=True):
        torch.testing.assert_close(h, w, rtol=1e-5, atol=1e-7)


def test_interpreted_spike_counts_equal_counted_spikes(interpreted_triton) -> None:
    """The scan's own per-neuron counts (several programs per sample, the last one partly masked) sum to the
    spikes it wrote, with and without the one-step delay."""
    from tmkt_train.fast.constants import CubaConstants

    constants = CubaConstants.from_neuron(tiny_vgg(0)[0].neuron, "conv0.neuron")
    layout = scan.Layout(6)
    z = torch.rand(2 * 6, 2600, generator=torch.Generator().manual_seed(3)) * 3
    for delay in (False, True):
        spikes, _, _, counts = scan.cuba_forward(z, layout, constants, delay, torch.float32, torch.float32,
                                                 count=True)
        assert counts.numel() == 2 * 2600 and spikes.sum() > 0
        assert int(counts.sum()) == int(spikes.sum()), f"delay={delay}"


@CUDA
def test_scan_spike_counts_equal_counted_spikes() -> None:
    """The Triton scan's own per-layer counts (VGGSNN: fused pools too; several programs per sample in the
    first layers) equal the spikes counted afterwards, and fusing changes no spike."""
    torch.manual_seed(13)
    net = build_model("vggsnn", num_classes=4, input_shape=(2, 32, 32), width=1 / 8).cuda()
    x = torch.poisson(torch.full((2, 2, 32, 32, 5), 0.4), generator=torch.Generator().manual_seed(14)).cuda()
    with torch.no_grad():
        fused, unfused = FastSpikingNet(net, fuse=True)(x), FastSpikingNet(net)(x)
    assert fused.spike_counts == unfused.spike_counts
    assert sum(fused.spike_counts.values()) > 0
    assert torch.equal(fused.spikes, unfused.spikes) and torch.equal(fused.potentials, unfused.potentials)

