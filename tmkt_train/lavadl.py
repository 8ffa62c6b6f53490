"""lava-dl's SLAYER for the training code, imported once and quietly (`tmkt_common.lavadl`)."""

from tmkt_common.lavadl import import_slayer

slayer = import_slayer()
block, synapse, neuron, utils = slayer.block, slayer.synapse, slayer.neuron, slayer.utils
