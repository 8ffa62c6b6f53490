"""Start-up: importing tmkt (and SLAYER through it) leaves out lava-dl's object detection, which would import
torchvision and torch._dynamo (seconds on every CLI start), yet that subpackage still works when used; and the
export and sweep stack loads no numba (a GPU box may lack it: only the CPU kernels need it); SLAYER's C++
extension builder and pyplot wait until used."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import sys
import tmkt_deploy.bridge, tmkt_deploy.export, tmkt_sweep.cli, tmkt_train.train.trainer
from tmkt_train.models import build_model
build_model("scnn", num_classes=10, input_shape=(2, 16, 16), width=0.0625)
print("probe:", sorted(name for name in ("torchvision", "torch._dynamo", "numba") if name in sys.modules))
from lava.lib.dl.slayer import obd
print("probe:", obd.bbox.utils.__name__, "torchvision" in sys.modules)
"""


def test_tmkt_imports_slayer_without_torchvision_and_its_detection_loads_on_use():
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    probes = [line for line in done.stdout.splitlines() if line.startswith("probe:")]
    assert probes == ["probe: []", "probe: lava.lib.dl.slayer.object_detection.boundingbox.utils True"]


HELPERS = """
import sys
import tmkt_train.lavadl
import matplotlib
print("probe:", [type(sys.modules[n]).__name__ for n in ("torch.utils.cpp_extension", "matplotlib.pyplot")])
conv = sys.modules["lava.lib.dl.slayer.utils.filter.conv"]
print("probe:", conv.load.__qualname__, matplotlib.pyplot.Figure.__module__)  # pyplot loads on use
import torch.utils.cpp_extension as extension
print("probe:", callable(extension.include_paths), type(sys.modules["torch.utils.cpp_extension"]).__name__,
      type(sys.modules["matplotlib.pyplot"]).__name__)
"""


def test_slayers_extension_builder_and_pyplot_load_on_first_use():
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    env.pop("TMKT_VERBOSE", None)
    done = subprocess.run([sys.executable, "-c", HELPERS], capture_output=True, text=True, env=env, cwd=ROOT,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    probes = [line for line in done.stdout.splitlines() if line.startswith("probe:")]
    assert probes == ["probe: ['_Deferred', '_Deferred']", "probe: _forward.<locals>.call matplotlib.figure",
                      "probe: True module module"]
