"""The emulator's own contract, without Lava: input checks, record selection, result layout, predictions, and
results that do not depend on batch size, chunking or device. Bit-exactness against Lava is in
test_emulator_lava.py and test_emulator_lava_graph.py.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import support
import torch
from test_emulator_exact_sums import int64_sums

from tmkt_deploy.check import SpikeRecord, predict_counts
from tmkt_deploy.check.digest import pack_words, spike_digests
from tmkt_deploy.emulator import EmulatorResult, WindowRunner, emulate, engine
from tmkt_deploy.emulator import synapse as synapse_module
from tmkt_deploy.ir import INPUT, Cuba, Layer, Network, Synapse


def small_net(time_steps: int = 4) -> Network:
    """conv → grouped sum-pool → dense output, plus a delayed dense shortcut from the conv into the output."""
    rng = np.random.default_rng(0)
    neuron = Cuba(i_decay=1024, v_decay=128, vth_mant=40)
    layers = [
        Layer("conv", (3, 6, 6), neuron, [Synapse(INPUT, "conv", rng.integers(-80, 120, (3, 2, 3, 3)),
                                                  padding=(1, 1))]),
        Layer("pool", (3, 3, 3), neuron, [Synapse("conv", "conv", np.full((3, 1, 2, 2), 60), stride=(2, 2),
                                                  groups=3)]),
        Layer("out", (4,), neuron, [Synapse("pool", "dense", rng.integers(-100, 200, (4, 27))),
                                    Synapse("conv", "dense", rng.integers(-30, 60, (4, 108)), delay=1)]),
    ]
    return Network("small", (2, 6, 6), time_steps, layers, output="out")


def gemm_net(time_steps: int = 5) -> Network:
    """A conv whose K = 18 takes the float GEMM, convs with even weights (int8 GEMMs, scale 2) on 6x6 and
    3x3 frames (9 rows a frame: chunks of 16 rows or fewer fall back to the float GEMM), a pool, a dense."""
    rng = np.random.default_rng(3)
    neuron = Cuba(i_decay=1024, v_decay=128, vth_mant=40)
    even = lambda shape: 2 * rng.integers(-60, 60, shape)  # noqa: E731
    layers = [
        Layer("conv1", (8, 6, 6), neuron, [Synapse(INPUT, "conv", rng.integers(-80, 120, (8, 2, 3, 3)),
                                                   padding=(1, 1))]),
        Layer("conv2", (8, 6, 6), neuron, [Synapse("conv1", "conv", even((8, 8, 3, 3)), padding=(1, 1))]),
        Layer("pool", (8, 3, 3), neuron, [Synapse("conv2", "conv", np.full((8, 1, 2, 2), 60), stride=(2, 2),
                                                  groups=8)]),
        Layer("conv3", (8, 3, 3), neuron, [Synapse("pool", "conv", even((8, 8, 3, 3)), padding=(1, 1))]),
        Layer("out", (4,), neuron, [Synapse("conv3", "dense", rng.integers(-100, 200, (4, 72)))]),
    ]
    return Network("gemm", (2, 6, 6), time_steps, layers, output="out")


def frames(samples: int = 5, time_steps: int = 4, seed: int = 1) -> np.ndarray:
    return support.graded_frames((samples, 2, 6, 6, time_steps), seed=seed)


def test_steps_cover_frames_plus_latency_and_output_is_masked_before_it():
    net = small_net()
    result = emulate(net, frames(), record=["pool"])
    assert net.steps_per_sample() == result.time_steps == 4 + net.latency() == 7
    assert result.output_spikes.shape == (5, 4, 7)
    assert result.layer_spikes["pool"].shape == (5, 3, 3, 3, 7)
    assert not result.output_spikes[..., : net.latency()].any()
    assert result.output_spikes.any()
    assert set(result.spike_counts) == {INPUT, "conv", "pool", "out"}
    assert np.array_equal(result.spike_counts[INPUT], np.count_nonzero(frames().reshape(5, -1), axis=1))


def test_counts_are_whole_windows_and_the_record_is_their_shifted_start():
    net, x = small_net(), frames()
    result = emulate(net, x, record=True)
    windows = WindowRunner(net, torch.device("cpu"))(torch.as_tensor(x))
    for layer in net.layers:
        window = windows[layer.name].spikes.movedim(1, -1).numpy()
        latency = net.latency(layer.name)
        assert np.array_equal(result.layer_spikes[layer.name][..., latency:], window[..., :7 - latency])
        assert np.array_equal(result.spike_counts[layer.name], window.reshape(5, -1).sum(axis=1))


def test_results_do_not_depend_on_batch_size_or_chunking(monkeypatch):
    net, x = small_net(), frames(samples=7)
    whole = emulate(net, x, record=True, batch_size=7)
    monkeypatch.setattr(synapse_module, "CHUNK_ELEMENTS", 50)  # many tiny conv/matmul calls
    pieces = emulate(net, torch.as_tensor(x), record=True, batch_size=2)
    assert np.array_equal(whole.output_spikes, pieces.output_spikes)
    for name in whole.layer_spikes:
        assert np.array_equal(whole.layer_spikes[name], pieces.layer_spikes[name])
        assert np.array_equal(whole.spike_counts[name], pieces.spike_counts[name])


@pytest.mark.parametrize("retire", [False, True])
def test_results_do_not_depend_on_threads_or_threads_that_stop(monkeypatch, retire):
    """One thread, two, and two where every thread but the last stops after one batch (as on a busy box)."""
    net, x = small_net(), frames(samples=7)
    saved = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = emulate(net, x, record=True, digests=True, activity=True, batch_size=1)
        torch.set_num_threads(2)
        monkeypatch.setattr(engine, "spare_cores", lambda: 1)  # a helper even on a busy test box
        if retire:
            monkeypatch.setattr(engine, "MIN_CORE_SHARE", 2.0)  # no thread ever gets two cores' share
        two = emulate(net, x, record=True, digests=True, activity=True, batch_size=1)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(saved)
    assert np.array_equal(one.output_spikes, two.output_spikes)
    for field_name in ("layer_spikes", "spike_counts", "layer_digests", "window_spikes", "frame_spikes",
                       "changed"):
        a, b = getattr(one, field_name), getattr(two, field_name)
        assert a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a), field_name


def test_threads_return_results_in_order_and_raise_the_first_error(monkeypatch):
    monkeypatch.setattr(engine, "spare_cores", lambda: 1)
    assert engine.in_threads(lambda i: i * i, range(50), 2) == [i * i for i in range(50)]

    def fail_at_seven(i: int) -> int:
        if i == 7:
            raise ValueError("item 7")
        return i

    with pytest.raises(ValueError, match="item 7"):
        engine.in_threads(fail_at_seven, range(50), 2)


def test_spare_cores_are_the_cores_nothing_runs_on(monkeypatch, tmp_path):
    loadavg = tmp_path / "loadavg"
    monkeypatch.setattr(engine, "Path", lambda _name: loadavg)
    monkeypatch.setattr(engine.os, "sched_getaffinity", lambda _pid: {0, 1}, raising=False)
    for running, spare in ((1, 1), (2, 0), (5, 0)):  # this thread counts as running
        loadavg.write_text(f"0.50 0.40 0.30 {running}/120 4242\n")
        assert engine.spare_cores() == spare
    loadavg.unlink()  # no /proc: all cores but this thread's
    assert engine.spare_cores() == 1


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("make_net", [small_net, gemm_net])
def test_gpu_gives_the_cpu_spikes(make_net):
    """Spikes, digests (packed on the GPU), counts and energy counts (summed by the GPU's LIF kernel)."""
    net, x = make_net(), frames(samples=6)
    cpu = emulate(net, x, record=True, digests=True, activity=True)
    gpu = emulate(net, x, record=True, digests=True, activity=True, device=torch.device("cuda"))
    for name in cpu.layer_spikes:
        assert np.array_equal(cpu.layer_spikes[name], gpu.layer_spikes[name])
        assert np.array_equal(cpu.layer_digests[name], gpu.layer_digests[name])
    for field in ("spike_counts", "window_spikes", "frame_spikes", "changed"):
        for name, counts in getattr(cpu, field).items():
            assert np.array_equal(counts, getattr(gpu, field)[name]), (field, name)


def test_other_frame_counts_run_for_their_own_length():
    result = emulate(small_net(), frames(time_steps=6, samples=2))
    assert result.time_steps == 6 + 3


def test_predictions_take_the_most_spikes_and_ties_go_to_the_lowest_index():
    spikes = np.zeros((3, 4, 5), dtype=np.uint8)
    spikes[0, 2, :3] = 1  # class 2 alone
    spikes[1, 1, :2] = spikes[1, 3, 2:4] = 1  # tie between 1 and 3
    result = EmulatorResult(output_spikes=spikes, spike_counts={}, time_steps=5, latency=1)
    assert predict_counts(result.output_spikes, latency=0).tolist() == [2, 1, 0]


@pytest.mark.parametrize(("bad", "message"), [
    (np.zeros((2, 2, 6, 5, 4)), r"\(N, C, H, W, T\)"),
    (np.full((1, 2, 6, 6, 4), 256), r"0\.\.255"),
    (np.full((1, 2, 6, 6, 4), -1), r"0\.\.255"),
    (np.full((1, 2, 6, 6, 4), 0.5), "integer"),
])
def test_bad_inputs_are_refused_with_the_reason(bad, message):
    with pytest.raises(ValueError, match=message):
        emulate(small_net(), bad)


def test_unknown_record_names_are_listed():
    with pytest.raises(ValueError, match=r"no layer\(s\) \['nope'\]"):
        emulate(small_net(), frames(), record=["pool", "nope"])


def test_features_lava_cannot_run_name_the_layer():
    net = small_net()
    net.layers[0].synapses[0].weight_exp = 1
    with pytest.raises(ValueError, match="'conv'.*weight exponent"):
        emulate(net, frames())
    net = small_net()
    net.layers[1].neuron = Cuba(1024, 128, 40, graded=True)
    with pytest.raises(ValueError, match="'pool'.*graded"):
        emulate(net, frames())


@pytest.mark.parametrize(("in_ch", "out_ch", "kernel", "stride", "groups"),
                         [(2, 16, 3, 1, 1), (16, 32, 3, 1, 1), (16, 16, 2, 2, 16), (8, 8, 3, 2, 2)])
def test_synapse_sums_are_exact_at_backbone_sizes(in_ch, out_ch, kernel, stride, groups):
    """At real sizes torch's conv may pick Winograd/NNPACK, which round: ours must equal int64 arithmetic."""
    rng = np.random.default_rng(in_ch + out_ch)
    weight = rng.integers(-256, 256, (out_ch, in_ch // groups, kernel, kernel))
    syn = Synapse(INPUT, "conv", weight, stride=(stride, stride), padding=(kernel // 2,) * 2, groups=groups)
    shape = (32, in_ch, 48, 48)
    frames = torch.as_tensor(support.graded_frames(shape, seed=in_ch + out_ch + 1, dtype=np.int64))
    mine = synapse_module.SynapseOp.build(syn, "probe", torch.device("cpu"))(frames, 255)
    assert torch.equal(mine, int64_sums(syn, frames).to(mine.dtype))


def test_digests_match_the_records_digests_and_do_not_depend_on_batching():
    net, x = small_net(), frames(samples=5)
    result = emulate(net, x, record=True, digests=True, batch_size=2)
    whole = emulate(net, x, digests=True, batch_size=5)
    record = SpikeRecord.from_layers(net, result.layer_spikes)
    assert set(result.layer_digests) == {layer.name for layer in net.layers}
    for name, digests in result.layer_digests.items():
        assert np.array_equal(digests, record.digests[name])
        assert np.array_equal(digests, whole.layer_digests[name])
    assert not whole.layer_spikes  # digests alone keep no layer's spikes


def test_digests_are_the_same_for_any_array_type_and_see_graded_values():
    rng = np.random.default_rng(0)
    spikes = (rng.random((4, 3, 5, 9)) < 0.3).astype(np.uint8)
    expected = spike_digests(spikes)
    assert len(set(expected)) == 4
    for same in (spikes.astype(bool), spikes.astype(np.int8), torch.as_tensor(spikes).float()):
        assert np.array_equal(spike_digests(same), expected)
    graded = spikes.copy()
    graded[1] *= 2
    got = spike_digests(graded)
    assert got[1] != expected[1] and np.array_equal(got[[0, 2, 3]], expected[[0, 2, 3]])


def test_word_packing_is_numpys_little_endian_packbits():
    bits = torch.as_tensor(np.random.default_rng(1).random((3, 2, 129)) < 0.5)
    expected = np.packbits(np.pad(bits.numpy(), ((0, 0), (0, 0), (0, 63))), axis=2, bitorder="little")
    assert np.array_equal(pack_words(bits).numpy(), expected.view("<i8"))
    assert torch.equal(pack_words(bits.float()[:, :, :128]), pack_words(bits[:, :, :128]))


@pytest.mark.parametrize(("stride", "padding", "dilation", "kernel", "channels"),
                         [((1, 1), (1, 1), (1, 1), 3, 5), ((2, 2), (0, 0), (1, 1), 2, 8),
                          ((2, 1), (2, 1), (2, 1), 3, 16), ((1, 1), (1, 1), (1, 1), 3, 2)])
def test_gpu_conv_columns_give_torchs_exact_sums(stride, padding, dilation, kernel, channels):
    """The GPU's im2col + GEMM conv, run here on CPU: channels-last, and equal to conv2d's integer sums
    (pixels' channels copied as 1, 2, 4 or 8 bytes at a time, by the channel count and dtype)."""
    gen = torch.Generator().manual_seed(0)
    spikes = (torch.rand(7, channels, 9, 8, generator=gen) < 0.4).float()
    x = spikes.contiguous(memory_format=torch.channels_last)[1:]  # a view at a storage offset, as chunks are
    weight = torch.randint(-128, 128, (11, channels, kernel, kernel), generator=gen).float()
    got = synapse_module.gemm_conv(x, weight, stride, padding, dilation)
    assert got.is_contiguous(memory_format=torch.channels_last)
    expected = torch.nn.functional.conv2d(x, weight, stride=stride, padding=padding, dilation=dilation)
    assert torch.equal(got, expected)
    # the int8 path's plumbing (on a GPU the product is torch._int_mm's int32; here an int64 matmul)
    int8 = synapse_module.gemm_conv(x.to(torch.int8), weight.to(torch.int8), stride, padding, dilation,
                                    matmul=lambda cols, kernel, out: out.copy_(cols.int() @ kernel.int()))
    assert int8.dtype == torch.int32 and torch.equal(int8.float(), expected)


def test_without_numba_the_cpu_gives_the_same_spikes(monkeypatch):
    """A box without numba (a GPU box, say) steps the neurons in torch: same spikes, counts and digests."""
    net, x = small_net(), frames(samples=3)
    fused = emulate(net, x, record=True, digests=True)
    monkeypatch.setattr(engine, "_kernel", lambda name: None)
    stepped = emulate(net, x, record=True, digests=True)
    for name in fused.layer_spikes:
        assert np.array_equal(fused.layer_spikes[name], stepped.layer_spikes[name])
        assert np.array_equal(fused.spike_counts[name], stepped.spike_counts[name])
        assert np.array_equal(fused.layer_digests[name], stepped.layer_digests[name])


@pytest.mark.parametrize("numba", [True, False])
def test_activity_counts_are_the_windows_spike_sums(monkeypatch, numba):
    """The energy report's per-neuron sums (float spikes in one GEMM on CPU, bool spikes per step without
    numba or on a GPU) equal plain int64 sums of the windows, over all steps and over the frames' steps."""
    net, x = small_net(), frames(samples=5)
    windows = WindowRunner(net, torch.device("cpu"))(torch.as_tensor(x))
    if not numba:
        monkeypatch.setattr(engine, "_kernel", lambda name: None)
    result = emulate(net, x, activity=True, batch_size=2)
    assert set(result.window_spikes) == set(windows)
    for name, window in windows.items():
        spikes = (window.spikes != 0).to(torch.int64)
        assert np.array_equal(result.window_spikes[name], spikes.sum(dim=(0, 1)).numpy()), name
        assert np.array_equal(result.frame_spikes[name], spikes[:, :4].sum(dim=(0, 1)).numpy()), name


@pytest.mark.parametrize("broken", [False, True])
def test_the_gpus_conv_path_gives_the_cpu_spikes(monkeypatch, broken):
    """The GPU's convs (im2col GEMMs into one int32 result per layer, int8 operands checked once against
    float32, chunk by chunk) run here on CPU through the module's seams, an int32 matmul standing in for
    `torch._int_mm`: same spikes, counts, digests and activity as the CPU's own convs. A wrong int8 product
    is caught by the check, warned about, and replaced by the float GEMM."""
    net, x = gemm_net(), frames(samples=3, time_steps=5)
    cpu = emulate(net, x, record=True, digests=True, activity=True)
    products = []

    def int_matmul(columns, kernel, out):
        assert columns.dtype == kernel.dtype == torch.int8 and out.dtype == torch.int32
        products.append(len(columns))
        out.copy_(columns.int() @ kernel.int() + int(broken))

    monkeypatch.setattr(synapse_module, "runs_gemm", lambda device: True)
    monkeypatch.setattr(synapse_module, "int_matmul", int_matmul)
    monkeypatch.setattr(synapse_module, "CHUNK_ELEMENTS", 200)  # many chunks, some of 9 rows
    gemm = emulate_int8(net, x, broken)
    assert products and min(products) > 16
    assert_same_emulation(cpu, gemm)
    assert cpu.layer_spikes["conv3"].any() and not cpu.layer_spikes["conv3"].all()


def emulate_int8(net: Network, x: np.ndarray, broken: bool) -> EmulatorResult:
    """Every record of an emulation whose int8 path is `broken` (then its check must warn that it is off) or
    not (then it must stay on: no warning)."""
    if broken:
        with pytest.warns(RuntimeWarning, match="int8 conv path off"):
            return emulate(net, x, record=True, digests=True, activity=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        return emulate(net, x, record=True, digests=True, activity=True)


def assert_same_emulation(a: EmulatorResult, b: EmulatorResult) -> None:
    """Same output, and per layer the same spikes, digests, counts and activity."""
    assert np.array_equal(a.output_spikes, b.output_spikes)
    for name in a.layer_spikes:
        assert np.array_equal(a.layer_spikes[name], b.layer_spikes[name]), name
        assert np.array_equal(a.layer_digests[name], b.layer_digests[name]), name
        assert np.array_equal(a.spike_counts[name], b.spike_counts[name]), name
        assert np.array_equal(a.window_spikes[name], b.window_spikes[name]), name
        assert np.array_equal(a.changed[name], b.changed[name]), name


@pytest.mark.skipif(not synapse_module.CPU_INT8, reason="oneDNN int8 ops do not run here")
@pytest.mark.parametrize("broken", [False, True])
def test_the_cpus_int8_ops_give_the_float_sums_spikes(monkeypatch, broken):
    """On CPU the synapses whose weights fit int8 (here every conv and the pool) run as oneDNN int8 ops on
    1-byte spikes: same spikes, digests, counts and activity as float32 sums. A wrong int8 sum is caught by
    the once-per-synapse check, warned about, and replaced by the float sum."""
    net, x = gemm_net(), frames(samples=3, time_steps=5)
    ops = [op for ops in WindowRunner(net, torch.device("cpu")).ops.values() for op in ops]
    assert sum(op.onednn is not None for op in ops) >= 4
    with monkeypatch.context() as float_only:
        float_only.setattr(synapse_module, "_onednn_int8", lambda *args: None)
        floats = emulate(net, x, record=True, digests=True, activity=True)
    real = synapse_module.onednn_int8_sum
    monkeypatch.setattr(synapse_module, "onednn_int8_sum", lambda *args: real(*args) + int(broken))
    int8 = emulate_int8(net, x, broken)
    assert_same_emulation(floats, int8)
    assert int8.layer_spikes["conv3"].any() and not int8.layer_spikes["conv3"].all()


def test_exact_kernels_hold_until_the_last_caller_leaves():
    """The settings are process-wide: the first caller in sets them, one leaving while another (a thread, a
    nested synapse op) is still inside changes nothing, and the last one out restores what was there."""
    saved = torch.get_float32_matmul_precision(), torch.backends.mkldnn.enabled
    torch.set_float32_matmul_precision("high")
    try:
        first, second = synapse_module.exact_kernels(), synapse_module.exact_kernels()
        first.__enter__()
        second.__enter__()
        first.__exit__(None, None, None)
        assert torch.get_float32_matmul_precision() == "highest" and not torch.backends.mkldnn.enabled
        second.__exit__(None, None, None)
        assert torch.get_float32_matmul_precision() == "high" and torch.backends.mkldnn.enabled == saved[1]
    finally:
        torch.set_float32_matmul_precision(saved[0])
