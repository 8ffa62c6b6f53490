"""Start-up: importing tmkt (and SLAYER through it) leaves out lava-dl's object detection, which would import
torchvision and torch._dynamo (seconds on every CLI start), yet that subpackage still works when used; and the
export and sweep stack loads no numba (a GPU box may lack it: only the CPU kernels need it)."""

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
