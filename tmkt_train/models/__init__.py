"""SLAYER CUBA backbones as `SpikingNet` graphs and their registry (checkpoints: `tmkt_train.checkpoint`)."""

from .graph import NetOutput, SpikingNet, predict
from .neuron import encode_input
from .registry import build_model, list_models
from .residual import ResidualCuba

__all__ = ["NetOutput", "ResidualCuba", "SpikingNet", "build_model", "encode_input", "list_models", "predict"]
