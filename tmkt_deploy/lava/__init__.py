"""Lava: process graphs built from the integer IR (builder.py: layout, latency, reset) and run (simulate.py,
imported on its own: it loads Lava's runtime)."""

from .builder import (
           LavaGraph,
           build_graph,
           frames_to_stream,
           lava_shape,
)
from .delay import SpikeDelay

__all__ = ["LavaGraph", "SpikeDelay", "build_graph", "frames_to_stream", "lava_shape"]
