"""`nomniglot`: N-Omniglot events (AEDAT4 + CSV of sample windows) paired with Omniglot images.

Each character has one AEDAT4 recording and a CSV of start/end timestamps; they pair with the Omniglot images
of the same character.

Layout (the public archives unpacked into one folder): events at
`DIR/dvs_background/<alphabet>/<character>/` and `DIR/dvs_evaluation/…`, each character folder holding one
`*.aedat4` recording of its 20 drawings and one `*.csv` with a header row and one row per drawing: `index,
start_timestamp, end_timestamp` (µs, the camera's clock). Images at
`DIR/images_background/<alphabet>/<character>/*.png` (and `images_evaluation`), also found under
`DIR/omniglot-py/` (torchvision's extraction). Each character is a class; per character the first 15
drawings train and the rest test (the KT protocol), and the RGB pool is the first 75% of the images in name
order.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path

import numpy as np

from tmkt_common.errors import DatasetError, DatasetWarning

from .assemble import load_images
from .events_io import read_aedat4
from .folders import class_folders, files_in, first_existing
from .framing import frame_events
from .splits import first_per_class
from .store import FrameStore, progress, stack_store

SENSOR_SIZE = (346, 260)  # DAVIS346 (width, height)
TRAIN_FRACTION = 15 / 20  # 15 of each character's 20 drawings train
PARTS = ("background", "evaluation")


def read_sample_windows(path: Path) -> np.ndarray:
    """`(n, 2)` int64 start/end timestamps from an N-Omniglot CSV (header row, then index, start, end).

    Our check (the CSV has no reader in tonic): every window ends after it starts, and the windows come in
    recording order (starts increasing), as the drawings were shown one after another.
    """
    try:
        with path.open(newline="") as f:
            rows = list(csv.reader(f))[1:]
        windows = np.array([[int(float(r[1])), int(float(r[2]))] for r in rows if r], dtype=np.int64)
    except (OSError, ValueError, IndexError, OverflowError, csv.Error) as err:
        raise DatasetError(f"{path}: unreadable sample CSV, expected 'index,start,end' rows ({err})") from err
    if len(windows) == 0:
        raise DatasetError(f"{path}: no sample rows")
    reversed_rows = np.flatnonzero(windows[:, 1] <= windows[:, 0])
    if len(reversed_rows):
        row = int(reversed_rows[0])
        raise DatasetError(
            f"{path}: sample {row + 1} ends ({windows[row, 1]}) before it starts ({windows[row, 0]})"
        )
    unordered = np.flatnonzero(np.diff(windows[:, 0]) <= 0)
    if len(unordered):
        row = int(unordered[0]) + 1
        raise DatasetError(f"{path}: sample {row + 1} starts ({windows[row, 0]}) no later than sample {row} "
                           f"({windows[row - 1, 0]}): windows out of order")
    return windows


def split_recording(
    events: np.ndarray, windows: np.ndarray, csv_path: Path, recording: Path
) -> list[np.ndarray]:
    """Cut one character's recording into its drawings by `[start, end)` timestamp windows.

    A window holding no event (outside the recording, e.g. a CSV of another recording or a cut file) is a
    `DatasetError`; one that only sticks out of the recording loads with a `DatasetWarning`; both name the
    CSV.
    """
    first, last = int(events["t"][0]), int(events["t"][-1])
    bounds = np.searchsorted(events["t"], windows)
    for row, ((start, end), (a, b)) in enumerate(zip(windows.tolist(), bounds.tolist(), strict=True), 1):
        where = f"{csv_path}: sample {row} [{start}, {end}) µs"
        if a == b:
            raise DatasetError(f"{where} holds no event of {recording.name} (recorded {first}…{last} µs)")
        if start < first or end > last + 1:
            warnings.warn(f"{where} reaches outside {recording.name} (recorded {first}…{last} µs)",
                          DatasetWarning, stacklevel=2)
    return [events[a:b] for a, b in bounds]


def character_folders(data_dir: Path) -> dict[str, tuple[Path, str]]:
    """Class name `alphabet/character` → (event folder, part) over whichever parts are present."""
    found = {}
    for part in PARTS:
        part_root = data_dir / f"dvs_{part}"
        if part_root.is_dir():
            for alphabet, alphabet_dir in class_folders(part_root).items():
                for character, folder in class_folders(alphabet_dir).items():
                    found[f"{alphabet}/{character}"] = (folder, part)
    if not found:
        raise DatasetError(f"{data_dir}: no dvs_background/ or dvs_evaluation/ folder with N-Omniglot events")
    return found


def image_folder(data_dir: Path, part: str, name: str) -> Path:
    return first_existing(
        [data_dir / f"images_{part}" / name, data_dir / "omniglot-py" / f"images_{part}" / name],
        f"Omniglot images of {name}",
    )


def build_store(data_dir: Path, *, time_steps: int, size: int, limit: int | None = None) -> FrameStore:
    """Read each character's AEDAT4 once, cut and frame its drawings; `limit`: N drawings per character."""
    characters = character_folders(data_dir)
    classes = sorted(characters)
    frames, labels, images, image_labels = [], [], [], []
    for label in progress(range(len(classes)), "framing N-Omniglot", len(classes)):
        folder, part = characters[classes[label]]
        csv_path, recording = files_in(folder, ".csv")[0], files_in(folder, ".aedat4")[0]
        windows = read_sample_windows(csv_path)[:limit]
        recorded = read_aedat4(recording, sensor_size=SENSOR_SIZE)
        for events in split_recording(recorded, windows, csv_path, recording):
            frames.append(frame_events(events, time_steps=time_steps, size=size, sensor_size=SENSOR_SIZE))
            labels.append(label)
        pngs = files_in(image_folder(data_dir, part, classes[label]), ".png")
        pool = pngs[: int(TRAIN_FRACTION * len(pngs))]
        images += pool
        image_labels += [label] * len(pool)
    rgb = load_images(images, size, "loading Omniglot images")
    report = {"characters": len(classes), "parts": sorted({p for _, p in characters.values()})}
    train = first_per_class(labels, TRAIN_FRACTION).tolist()
    return stack_store(classes, frames, labels, train, rgb, image_labels, report)
