"""Fast training path: fused SLAYER-exact CUBA dynamics (Triton on CUDA, torch on CPU) over time-folded nets.

`FoldedNet(blocks)` runs a chain of SLAYER CUBA blocks with time folded into the batch;
`FastSpikingNet(net)` runs our registry `SpikingNet` that way, returning the same `NetOutput`. Both share
the SLAYER modules' parameters; the scan itself (`scan.cuba_forward`/`cuba_backward`) is internal.
"""

from .folded import FoldedNet
from .spiking_net import FastSpikingNet

__all__ = ["FastSpikingNet", "FoldedNet"]
