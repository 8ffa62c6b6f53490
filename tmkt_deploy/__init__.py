"""tmkt-deploy: tmkt checkpoint → integer IR → Lava (Loihi 2 sim / hardware), NIR, ONNX; checks, energy."""

__version__ = "0.1.0"
