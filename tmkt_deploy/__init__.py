"""tmkt-deploy: tmkt checkpoint → integer IR → Lava (Loihi 2 sim / hardware), NIR, ONNX; checks, energy."""

from tmkt_common.slayer_import import defer_slayer_detection

defer_slayer_detection()  # SLAYER without torchvision / torch._dynamo at start-up

__version__ = "0.1.0"
