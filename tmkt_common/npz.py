"""`.npz` files written atomically and deflated at zlib level 1.

numpy's `savez_compressed` deflates at zlib's default level 6: on the GPU deploy check that was 1.7 s of a
12.6 s export (sparse frames, per-neuron spike counts). Level 1 is about 5x faster for about 1.4x the bytes
on those arrays. Same file format (numpy's own `.npy` members in a zip), read with `numpy.load`.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .atomic import atomic_write

LEVEL = 1


def write_npz(path: str | os.PathLike, arrays: Mapping[str, Any]) -> Path:
    """`arrays` (name → array-like; nothing is pickled) into the `.npz` file `path`, atomically."""
    import numpy as np  # here: tmkt_common stays light to import

    with atomic_write(path) as f, zipfile.ZipFile(f, "w", zipfile.ZIP_DEFLATED, compresslevel=LEVEL) as zf:
        for name, value in arrays.items():
            with zf.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(value), allow_pickle=False)
    return Path(path)
