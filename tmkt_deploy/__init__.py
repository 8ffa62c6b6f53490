"""tmkt-deploy: a tmkt checkpoint → integer IR → Lava processes (Loihi 2 sim / hardware), NIR, ONNX; checks and energy."""

__version__ = "0.1.0"
