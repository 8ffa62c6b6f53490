"""The one place tmkt imports lava-dl's SLAYER, quietly.

lava-dl's import prints lines that are not ours and read like errors: torch's "No CUDA runtime is found, using
CUDA_HOME=..." (lava-dl loads torch.utils.cpp_extension) and a three-line "WARNING: Prophesee Dataset Toolbox
could not be found!" (an object-detection demo we do not use). They are captured here and dropped; anything
else printed during the import is passed on, and an import error still raises. Set TMKT_VERBOSE=1 (or give
`--verbose` to tmkt-train / tmkt-deploy) to see everything. Every module uses SLAYER through this one:
`tmkt_train.lavadl` at import, `tmkt_common.device` inside a function (tmkt_common loads no lava at import).
"""

from __future__ import annotations

import io
import sys
from contextlib import redirect_stderr, redirect_stdout
from typing import TextIO

from tmkt_common.cli import verbose
from tmkt_common.slayer_import import defer_slayer_detection, defer_slayer_helpers

NOISE = (
    "No CUDA runtime is found, using CUDA_HOME=",
    "WARNING: Prophesee Dataset Toolbox could not be found!",
    "Only Prophesee DVS demo will not run properly.",
    "Please install it from https://github.com/prophesee-ai/prophesee-automotive-dataset-toolbox",
)


def pass_on(text: str, stream: TextIO) -> None:
    """Write `text` to `stream` without the known noise lines."""
    kept = [line for line in text.splitlines(keepends=True) if not line.strip().startswith(NOISE)]
    if kept:
        stream.write("".join(kept))
        stream.flush()


def import_slayer():
    """lava.lib.dl.slayer, imported (once) without its import-time noise and with its object-detection
    subpackage, C++ extension builder and pyplot deferred until used (`slayer_import`; with `--verbose` only
    the subpackage)."""
    defer_slayer_detection()
    if verbose():  # everything SLAYER's import does and says (its helpers too)
        import lava.lib.dl.slayer as module
        return module
    out, err = io.StringIO(), io.StringIO()
    try:
        with redirect_stdout(out), redirect_stderr(err), defer_slayer_helpers():
            import lava.lib.dl.slayer as module
    finally:
        pass_on(out.getvalue(), sys.stdout)
        pass_on(err.getvalue(), sys.stderr)
    return module
