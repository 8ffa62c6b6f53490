"""Build Lava process graphs from the integer IR (see builder.py for layout, latency and reset)."""

from .builder import (
           LavaGraph,
           UnsupportedForLava,
           build_graph,
           frames_to_stream,
           lava_shape,
)
from .delay import SpikeDelay

__all__ = ["LavaGraph", "SpikeDelay", "UnsupportedForLava", "build_graph", "frames_to_stream", "lava_shape"]
