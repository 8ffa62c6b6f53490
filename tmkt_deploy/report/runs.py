"""What the energy report reads: an export run directory, or a netx file plus input spikes (emulated).

Export run directory (written by `tmkt-deploy export`); every key below is required, extra keys are ignored:

    RUN_DIR/ir/                 Network.save(): network.json + weights.npz
    RUN_DIR/check.json          {"accuracy": {"float": f, "quantized": f, "deployed": f},
                                 "agreement": f, "samples": n}
                                accuracies and agreement are fractions in [0, 1], or null when that stage
                                did not run; agreement = share of samples whose deployed prediction equals
                                the quantized model's; samples = how many samples were checked.
    RUN_DIR/activity.npz        per-neuron spike sums per schedule (`tmkt_deploy.energy.records`): what
                                exact synaptic ops need. `spikes.json` (per-layer totals) is for people;
                                the report does not read it.

A netx HDF5 or NIR graph trained elsewhere has no check.json: it is read by `interop.netx_import.read_netx` or
`interop.nir_import.read_nir`, run by the emulator on the user's inputs, and reported without accuracies. NIR
inputs are graded spikes `(N, C, H, W, T)`; netx inputs are in netx's layout (`(x, y, c, T)` or `(k, T)`,
optional leading N), and a netx run's counts are messages (a graded or sigma-delta output counts once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tmkt_common.documents import read_table
from tmkt_common.errors import RunError
from tmkt_deploy.energy.records import ActivityRecord
from tmkt_deploy.export_folder import ACTIVITY_FILE, CHECK_FILE, IR_DIR
from tmkt_deploy.interop.netx_inputs import read_array
from tmkt_deploy.ir import Network

if TYPE_CHECKING:
    from tmkt_deploy.interop.netx_import import NetxOptions

ACCURACY_KEYS = ("float", "quantized", "deployed")


MISSING = "missing (an export run directory holds ir/, check.json and spikes.json)"


@dataclass(frozen=True)
class Run:
    """One backbone to report: its IR, its per-neuron activity, and (export runs) its checked accuracies."""

    name: str
    source: str
    net: Network
    activity: ActivityRecord
    samples: int
    accuracy: dict[str, float | None]
    agreement: float | None


def _fraction(value: object, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise RunError(f"{where}: {value!r} is not a fraction in [0, 1] or null")
    return float(value)


def load_export_run(run_dir: str | Path) -> Run:
    """Read one export run directory (layout in the module docstring); RunError names what is wrong."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunError(f"{run_dir}: not a directory")
    try:
        net = Network.load(run_dir / IR_DIR)
    except (FileNotFoundError, ValueError, KeyError) as e:
        raise RunError(f"{run_dir / 'ir'}: {e}") from e
    check_path = run_dir / CHECK_FILE
    check = read_table(check_path, "JSON", RunError, MISSING)
    accuracy_doc = check.get("accuracy")
    if not isinstance(accuracy_doc, dict):
        raise RunError(f"{check_path}: missing key 'accuracy' (an object with {list(ACCURACY_KEYS)})")
    for key in ACCURACY_KEYS:
        if key not in accuracy_doc:
            raise RunError(f"{check_path}: missing key 'accuracy.{key}'")
    for key in ("agreement", "samples"):
        if key not in check:
            raise RunError(f"{check_path}: missing key {key!r}")
    try:
        activity = ActivityRecord.load(run_dir / ACTIVITY_FILE, net)
    except (FileNotFoundError, ValueError) as e:
        raise RunError(str(e)) from e
    return Run(
        name=net.name,
        source=str(run_dir),
        net=net,
        activity=activity,
        samples=activity.samples,
        accuracy={k: _fraction(accuracy_doc[k], f"{check_path}: accuracy.{k}") for k in ACCURACY_KEYS},
        agreement=_fraction(check["agreement"], f"{check_path}: agreement"),
    )


def _load_inputs(inputs_file: Path) -> np.ndarray:
    inputs = read_array(inputs_file)
    if inputs.ndim != 5 or len(inputs) == 0:
        raise RunError(f"{inputs_file}: expected graded input spikes (N, C, H, W, T), got {inputs.shape}")
    return inputs


def _emulated_run(net: Network, source: Path, inputs: np.ndarray) -> Run:
    """A network from another tool run by the emulator on `inputs`: spikes, no accuracies (no labels)."""
    from tmkt_deploy.emulator import emulate  # imports torch: only when such a file is reported

    result = emulate(net, inputs, activity=True, progress=True)
    return Run(name=net.name, source=str(source), net=net,
               activity=ActivityRecord.from_emulation(net, [result]), samples=len(inputs),
               accuracy=dict.fromkeys(ACCURACY_KEYS), agreement=None)


def load_netx_run(netx_file: str | Path, inputs_file: str | Path, options: NetxOptions | None = None) -> Run:
    """Read a netx HDF5 into the IR (netx's `options`) and count its messages on `inputs_file`, inputs in
    netx's layout (`interop.netx_inputs`): nonzero outputs per layer, i.e. spikes, or graded messages."""
    from tmkt_deploy.interop.netx_import import read_netx
    from tmkt_deploy.interop.netx_inputs import read_array, spatial_shape, to_ir_frames

    netx_file, array = Path(netx_file), read_array(inputs_file)
    net = read_netx(netx_file, input_shape=spatial_shape(array), time_steps=array.shape[-1], options=options)
    return _emulated_run(net, netx_file, to_ir_frames(net, array, str(inputs_file)))


def load_nir_run(nir_file: str | Path, inputs_file: str | Path) -> Run:
    """Read a NIR graph into the IR (`interop.nir_import`, quantised to Loihi weights) and count its spikes on
    `inputs_file` (N, C, H, W, T graded spikes)."""
    from tmkt_deploy.interop.nir_import import read_nir

    nir_file, inputs = Path(nir_file), _load_inputs(Path(inputs_file))
    net = read_nir(nir_file, input_shape=tuple(inputs.shape[1:4]), time_steps=inputs.shape[-1]).net
    return _emulated_run(net, nir_file, inputs)
