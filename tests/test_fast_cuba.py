"""The fast CUBA path against lava-dl SLAYER itself: identical spikes, matching surrogate gradients."""

from __future__ import annotations

import copy

import pytest
import torch
from lava.lib.dl import slayer

from tmkt_train.fast import FastCuba, FastSpikingNet, FoldedNet, use_fast_neurons
from tmkt_train.models import build_model

NEURON = {"threshold": 1.25, "current_decay": 0.25, "voltage_decay": 0.03, "tau_grad": 0.03, "scale_grad": 3}
VARIANTS = [NEURON, {**NEURON, "threshold": 0.5, "current_decay": 1.0, "voltage_decay": 0.1}]


def quantized_drive(shape: tuple[int, ...], seed: int) -> torch.Tensor:
    """Synaptic input on SLAYER's 8-bit weight grid (multiples of 1/32), as a quantized layer produces."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(-40, 90, shape, generator=generator).float() / 32


@pytest.mark.parametrize("params", VARIANTS)
@pytest.mark.parametrize(("shape", "seed"), [((3, 5, 12), 0), ((2, 3, 4, 5, 9), 1), ((4, 7, 20), 2)])
def test_fast_neuron_spikes_equal_slayer(params: dict, shape: tuple[int, ...], seed: int) -> None:
    reference = slayer.neuron.cuba.Neuron(**params)
    fast = FastCuba.from_slayer(slayer.neuron.cuba.Neuron(**params))
    drive = quantized_drive(shape, seed)
    expected = reference(drive)
    got = fast(drive)
    assert 0.05 < expected.mean() < 0.95, "the drive must make the neurons spike sometimes, not always"
    assert torch.equal(got, expected)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_neuron_surrogate_gradient_matches_slayer(seed: int) -> None:
    drive = quantized_drive((3, 6, 15), seed)
    upstream = torch.randn(drive.shape, generator=torch.Generator().manual_seed(seed + 10))
    grads = []
    fast = FastCuba.from_slayer(slayer.neuron.cuba.Neuron(**NEURON))
    for neuron in (slayer.neuron.cuba.Neuron(**NEURON), fast):
        x = drive.clone().requires_grad_()
        (neuron(x) * upstream).sum().backward()
        grads.append(x.grad)
    assert torch.isfinite(grads[1]).all()
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-9)


def test_from_slayer_shares_parameters_and_refuses_unsupported_options() -> None:
    neuron = slayer.neuron.cuba.Neuron(**NEURON)
    fast = FastCuba.from_slayer(neuron)
    assert fast.current_decay is neuron.current_decay
    assert fast.state_dict().keys() == neuron.state_dict().keys()
    with pytest.raises(ValueError, match="conv.neuron: .*graded_spike=True"):
        FastCuba.from_slayer(slayer.neuron.cuba.Neuron(**NEURON, graded_spike=True), "conv.neuron")


def tiny_vgg(seed: int) -> torch.nn.Sequential:
    """Conv-Conv-Pool-Conv-Pool-Flatten-Dense of SLAYER cuba blocks, 8x8 input, small widths."""
    torch.manual_seed(seed)
    cuba = slayer.block.cuba
    return torch.nn.Sequential(
        cuba.Conv(NEURON, 2, 4, 3, padding=1, weight_scale=3),
        cuba.Conv(NEURON, 4, 6, 3, padding=1, weight_scale=3),
        cuba.Pool(NEURON, 2, weight_scale=1.1 * NEURON["threshold"]),
        cuba.Conv(NEURON, 6, 8, 3, padding=1, weight_scale=3),
        cuba.Pool(NEURON, 2, weight_scale=1.1 * NEURON["threshold"]),
        cuba.Flatten(),
        cuba.Dense(NEURON, 8 * 2 * 2, 5, weight_scale=3),
    )


def graded_frames(batch: int, seed: int, steps: int = 12) -> torch.Tensor:
    """Graded input spikes (integers 0..3) in SLAYER layout `(N, C, H, W, T)`."""
    return torch.randint(0, 4, (batch, 2, 8, 8, steps), generator=torch.Generator().manual_seed(seed)).float()


def slayer_layers(blocks: torch.nn.Sequential, x: torch.Tensor) -> list[torch.Tensor]:
    outputs = []
    for block in blocks:
        x = block(x)
        outputs.append(x)
    return outputs


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_folded_net_spikes_equal_slayer_blocks_layer_by_layer(seed: int) -> None:
    blocks = tiny_vgg(seed)
    x = graded_frames(3, seed)
    with torch.no_grad():
        expected = slayer_layers(blocks, x)
        got = FoldedNet(blocks)(x, return_layers=True)
    for index, (want, have) in enumerate(zip(expected, got, strict=True)):
        assert have.shape == want.shape, f"block {index}"
        assert torch.equal(have, want), f"block {index} differs"
    assert expected[0].mean() > 0.02 and expected[-1].sum() > 0, "the check needs spiking activity"


def test_folded_net_weight_gradients_match_slayer() -> None:
    blocks = tiny_vgg(3)
    x = graded_frames(2, 3)
    upstream = torch.randn(2, 5, 12, generator=torch.Generator().manual_seed(4))
    (slayer_layers(blocks, x)[-1] * upstream).sum().backward()
    expected = [p.grad.clone() for p in blocks.parameters() if p.grad is not None]
    blocks.zero_grad()
    (FoldedNet(blocks)(x) * upstream).sum().backward()
    got = [p.grad for p in blocks.parameters() if p.grad is not None]
    assert len(got) == len(expected) == 4
    for have, want in zip(got, expected, strict=True):
        assert torch.isfinite(have).all()
        torch.testing.assert_close(have, want, rtol=1e-4, atol=1e-7)


def test_use_fast_neurons_keeps_block_outputs() -> None:
    blocks = tiny_vgg(5)
    x = graded_frames(2, 5)
    with torch.no_grad():
        expected = blocks(x)
        assert use_fast_neurons(blocks) == 6
        assert isinstance(blocks[0].neuron, FastCuba)
        assert torch.equal(blocks(x), expected)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (Triton kernels)")
def test_fast_neuron_on_cuda_equals_slayer_on_cpu() -> None:
    drive = quantized_drive((4, 3, 5, 5, 16), 11)
    expected = slayer.neuron.cuba.Neuron(**NEURON)(drive)
    x = drive.cuda().requires_grad_()
    got = FastCuba.from_slayer(slayer.neuron.cuba.Neuron(**NEURON).cuda())(x)
    got.sum().backward()
    assert torch.equal(got.cpu(), expected)
    assert torch.isfinite(x.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (Triton kernels)")
def test_triton_scan_equals_torch_scan() -> None:
    blocks = tiny_vgg(6)
    x = graded_frames(4, 6)
    with torch.no_grad():
        expected = FoldedNet(blocks)(x, return_layers=True)
        got = FoldedNet(blocks.cuda())(x.cuda(), return_layers=True)
    for want, have in zip(expected, got, strict=True):
        assert torch.equal(have.float().cpu(), want)


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


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA (Triton kernels)")
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
