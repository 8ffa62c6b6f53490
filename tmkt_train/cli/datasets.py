"""`tmkt-train datasets`: list the datasets, or load one (every file read once) and show its counts."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from tmkt_common.atomic import atomic_write
from tmkt_common.cli import fail, make_console

from . import app

MAX_CLASS_ROWS = 30


@app.command("datasets")
def datasets(
    name: str | None = typer.Argument(None, help="Dataset to load; leave out to list them."),
    data_dir: Path | None = typer.Option(None, "--data-dir", help="Folder with the dataset's files."),
    cache_dir: Path | None = typer.Option(
        None, "--cache-dir", help="Frame cache (default: $TMKT_CACHE, else ~/.cache/tmkt)."
    ),
    time_steps: int = typer.Option(10, "--time-steps", help="Frames per sequence (T)."),
    size: int = typer.Option(48, "--size", help="Frame height and width."),
    limit: int | None = typer.Option(None, "--limit", help="Keep the first N event samples per class."),
    preview: Path | None = typer.Option(None, "--preview", help="Write a PNG of RGB vs event frames."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the counts as JSON."),
) -> None:
    """List the datasets, or load NAME and print its counts per split and class."""
    from ..data import DATASETS, DatasetError, build_dataset
    from ..data.preview import write_preview
    from ..data.summary import summarize

    console = make_console()
    if name is None:
        table = Table("dataset", "needs --data-dir", "what", title="tmkt datasets")
        for spec in DATASETS.values():
            table.add_row(spec.name, "yes" if spec.needs_data_dir else "no", spec.summary)
        console.print(table)
        return
    try:
        options = dict(data_dir=data_dir, time_steps=time_steps, size=size, cache_dir=cache_dir, limit=limit)
        train, test = build_dataset(name, "train", **options), build_dataset(name, "test", **options)
    except DatasetError as err:
        raise fail(str(err)) from err
    summary = summarize(name, train, test)
    console.print(class_table(summary))
    if summary["source"]:
        console.print("source:", json.dumps(summary["source"]))
    if preview is not None:
        console.print(f"preview: {write_preview(train, preview)}")
    if json_out is not None:
        with atomic_write(json_out, "w") as f:
            json.dump(summary, f, indent=2)
        console.print(f"json: {json_out}")


def class_table(summary: dict) -> Table:
    """Counts per class (the first MAX_CLASS_ROWS classes) and totals."""
    geometry = summary["geometry"]
    table = Table(
        "class", "train events", "train images", "test events",
        title=f"{summary['dataset']}: {summary['num_classes']} classes, "
        f"{geometry['channels']}×{geometry['height']}×{geometry['width']}×T={geometry['time_steps']}",
    )
    for cls, counts in list(summary["per_class"].items())[:MAX_CLASS_ROWS]:
        table.add_row(cls, str(counts["train_dvs"]), str(counts["train_rgb"]), str(counts["test_dvs"]))
    hidden = summary["num_classes"] - MAX_CLASS_ROWS
    if hidden > 0:
        table.add_row(f"… {hidden} more", "", "", "")
    totals = (summary["train"]["dvs"], summary["train"]["rgb"], summary["test"]["dvs"])
    table.add_row("total", *map(str, totals), style="bold")
    return table
