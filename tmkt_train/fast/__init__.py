"""Fast training path: fused SLAYER-exact CUBA dynamics (Triton on CUDA, torch on CPU) over time-folded nets.

`FoldedNet(blocks)` runs a chain of SLAYER CUBA blocks with time folded into the batch
(`tmkt_train.models.fast_net.FastSpikingNet` runs our registry `SpikingNet` that way). It shares the SLAYER
modules' parameters; the scan itself (`scan.cuba_forward`/`cuba_backward`) is internal. Imports no model
code: the models dispatch to this path, never the other way round.
"""

from .folded import FoldedNet

__all__ = ["FoldedNet"]
