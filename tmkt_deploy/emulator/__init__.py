"""Batched Loihi 2 fixed-point emulator: runs the integer IR bit-exactly like Lava's fixed_pt process models.

`emulate(net, inputs)` is the entry point; `Network.steps_per_sample(T)` is how many steps a sample runs
(T + latency). Lava (`Loihi2SimCfg(select_tag="fixed_pt")`) stays the ground truth; the tests compare the
two spike for spike. The Loihi parameter mapping shared with the Lava builder lives in
`tmkt_deploy.loihi_params`; predictions from output spikes are `tmkt_deploy.check.predict_counts`.
Free-running (`timing="stream"`, lava-dl netx) networks run in `stream.StreamRunner`.
"""

from .engine import EmulatorResult, WindowRunner, emulate

__all__ = ["EmulatorResult", "WindowRunner", "emulate"]
