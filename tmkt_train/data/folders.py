"""Find the class folders and files of a dataset on disk, failing with the path that is missing or empty.
"""

from __future__ import annotations

from pathlib import Path

from tmkt_common.errors import DatasetError


def require_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise DatasetError(f"{path}: {what} folder not found")
    return path


def first_existing(candidates: list[Path], what: str) -> Path:
    """The first folder of `candidates` that exists; the error lists every place looked at."""
    for path in candidates:
        if path.is_dir():
            return path
    raise DatasetError(f"{what} not found; looked for: {', '.join(str(p) for p in candidates)}")


def class_folders(root: Path) -> dict[str, Path]:
    """Sub-folders of `root` by name, sorted (hidden ones skipped)."""
    require_dir(root, "dataset")
    folders = {p.name: p for p in sorted(root.iterdir()) if p.is_dir() and not p.name.startswith(".")}
    if not folders:
        raise DatasetError(f"{root}: no class folders inside")
    return folders


def files_in(folder: Path, suffix: str) -> list[Path]:
    """Files of `folder` ending in `suffix`, in natural order (numeric stems by number); none is an error."""
    files = [p for p in folder.iterdir() if p.is_file() and p.suffix.lower() == suffix]
    if not files:
        raise DatasetError(f"{folder}: empty class folder (no *{suffix} files)")
    return sorted(files, key=lambda p: (int(p.stem), "") if p.stem.isdigit() else (float("inf"), p.stem))
