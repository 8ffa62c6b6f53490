"""Write a report directory: report.json, report.md and the PNGs, atomically, once all have rendered."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tmkt_common.atomic import atomic_write, remove_leftovers
from tmkt_deploy.report.markdown import render_markdown
from tmkt_deploy.report.plots import FIGURES


def write_report(report: dict, out_dir: str | os.PathLike) -> list[Path]:
    """Render everything first (a failure writes nothing), then put each file in place; returns the paths."""
    files: dict[str, bytes] = {
        "report.json": json.dumps(report, indent=1).encode(),
        "report.md": render_markdown(report).encode(),
        **{name: draw(report) for name, draw in FIGURES.items()},
    }
    out_dir = Path(out_dir)
    remove_leftovers(out_dir)  # temp files of a report run that crashed
    for name, data in files.items():
        with atomic_write(out_dir / name) as f:
            f.write(data)
    return [out_dir / name for name in files]
