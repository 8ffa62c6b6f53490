"""Tiny dataset trees in each real archive's layout, written by code into a test's tmp folder.

Imported as `real_trees` (pytest puts tests/ on the path). The events are random but valid in each format
(N-Caltech101's ATIS `.bin`, CEP-DVS's `.mat`); N-Omniglot reuses the repo's real DAVIS AEDAT4 recording,
cut into drawings by a CSV as the archive does.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import scipy.io
from PIL import Image
from support import AEDAT4_SAMPLE as AEDAT4

from tmkt_train.data.events_io import encode_atis, make_events, read_aedat4


def atis_bytes(seed: int, width: int = 60, height: int = 40, count: int = 400) -> bytes:
    """Random events in N-Caltech101's ATIS byte format."""
    rng = np.random.default_rng(seed)
    x, y = rng.integers(0, width, count), rng.integers(0, height, count)
    t, p = np.sort(rng.integers(0, 300_000, count)), rng.integers(0, 2, count)
    return encode_atis(make_events(x, y, t, p))


def write_image(path: Path, grey: int, mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((30, 40, 3), grey, dtype=np.uint8)).convert(mode).save(path)


def write_ncaltech101(root: Path, events: dict[str, int], images: dict[str, int]) -> Path:
    """`events[class]` ATIS recordings under N-Caltech101/, `images[class]` JPEGs under torchvision's
    Caltech101/101_ObjectCategories/ (grey level 40·i for image i)."""
    for cls, count in events.items():
        for i in range(1, count + 1):
            path = root / "N-Caltech101" / cls / f"image_{i:04d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(atis_bytes(i))
    for cls, count in images.items():
        for i in range(1, count + 1):
            path = root / "Caltech101" / "101_ObjectCategories" / cls / f"image_{i:04d}.jpg"
            write_image(path, 40 * i % 256)
    return root


def write_cepdvs(root: Path, classes: tuple[str, ...], per_class: int, events: int = 300) -> Path:
    """`per_class` recordings `events/<class>/<i>.mat` per class, each with its image `images/<class>/<i>.jpg`
    (grey level 50·(i+1) mod 256, so the index is visible in the image)."""
    rng = np.random.default_rng(0)
    for cls in classes:
        (root / "events" / cls).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            scipy.io.savemat(root / "events" / cls / f"{i}.mat", {
                "x": rng.integers(0, 128, events), "y": rng.integers(0, 96, events),
                "ts": np.sort(rng.integers(0, 200_000, events)), "p": rng.choice([-1, 1], events),
            })
            write_image(root / "images" / cls / f"{i}.jpg", 50 * (i + 1) % 256)
    return root


def write_nomniglot(root: Path, characters: tuple[str, ...], drawings: int = 20) -> Path:
    """Each character: the real DAVIS AEDAT4 recording cut into `drawings` windows by a CSV, plus PNGs."""
    t0 = int(read_aedat4(AEDAT4)["t"][0])
    for character in characters:
        folder = root / "dvs_background" / "Latin" / character
        folder.mkdir(parents=True)
        shutil.copy(AEDAT4, folder / "0001.aedat4")
        rows = ["index,start,end"] + [f"{i},{t0 + i * 28_000},{t0 + i * 28_000 + 25_000}"
                                      for i in range(drawings)]
        (folder / "0001.csv").write_text("\n".join(rows) + "\n")
        for i in range(1, drawings + 1):
            write_image(root / "images_background" / "Latin" / character / f"0001_{i:02d}.png", 255, "L")
    return root
