"""SLAYER CUBA backbones as `SpikingNet` graphs, their registry, and checkpoint loading (contract 1)."""

from .graph import INPUT, NetOutput, SpikingNet, encode_input, predict
from .registry import build_model, list_models, load_model
from .residual import ResidualCuba

__all__ = ["INPUT", "NetOutput", "ResidualCuba", "SpikingNet", "build_model", "encode_input", "list_models",
           "load_model", "predict"]
