"""Fast training path: fused SLAYER-exact CUBA dynamics (Triton on CUDA, torch on CPU) and a time-folded net.

`FastCuba.from_slayer(neuron)` / `use_fast_neurons(model)` swap the neuron only (SLAYER layout kept);
`FoldedNet(blocks)` runs a chain of SLAYER CUBA blocks with time folded into the batch;
`FastSpikingNet(net)` runs our registry `SpikingNet` that way, returning the same `NetOutput`.
"""

from .constants import CubaConstants
from .folded import FoldedNet
from .neuron import FastCuba, use_fast_neurons
from .scan import CubaScan, Layout, cuba_backward, cuba_forward
from .spiking_net import FastSpikingNet

__all__ = [
    "CubaConstants", "CubaScan", "FastCuba", "FastSpikingNet", "FoldedNet", "Layout", "cuba_backward",
    "cuba_forward",
    "use_fast_neurons",
]
