"""The end-to-end chain every grid run and example uses: train → export to loihi2-sim with spike checks
(→ energy report, for the examples).

Only chains the project's stages (trainer.fit, tmkt_deploy.export_checkpoint, report.make_report).
Lava's fixed-point simulation needs lava-nc, which imports on Python 3.10 only; where it does not import
(the GPU device's Python 3.12) the check runs the bit-exact emulator alone and says why Lava was skipped.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from tmkt_train.checkpoint import CHECKPOINT
from tmkt_train.config import TrainConfig
from tmkt_train.train.curves import CURVES
from tmkt_train.train.selection import chosen_checkpoint

if TYPE_CHECKING:  # tmkt_deploy is imported lazily: the sweep's table needs none of it
    from tmkt_deploy.check import CheckResult

LAVA_PROBE = "tmkt_deploy.lava.simulate"  # what a Lava run imports (lava.proc, lava.magma)
REPORT_PROFILES = ("loihi2", "loihi1", "snn-45nm-paper", "ann-45nm", "ann-int8-45nm")


def lava_unavailable() -> str | None:
    """None when Lava's simulator imports here, else the import error (the reason Lava was skipped)."""
    try:
        __import__(LAVA_PROBE)
    except Exception as exc:  # any import failure (missing package, Python version) means: no Lava here
        return f"lava-nc does not import on Python {platform.python_version()}: {type(exc).__name__}: {exc}"
    return None


@dataclass
class Deployed:
    """What one train → export produced: the metrics lines, the check result, wall times and Lava's status."""

    history: list[dict]
    check: CheckResult
    lava_skipped: str | None
    train_s: float
    export_s: float


def train_and_deploy(cfg: TrainConfig, train_dir: Path, deploy_dir: Path, *, device: str = "auto",
                     lava_samples: int = 4) -> Deployed:
    """Train `cfg` into `train_dir` (resuming a checkpoint there), export the checkpoint it reports (the
    best validation epoch's for `eval.select = best-val`) to `deploy_dir` on loihi2-sim: the emulator over
    the whole test set, Lava on the first `lava_samples` when it imports."""
    from tmkt_deploy.export import export_checkpoint
    from tmkt_train.data.build import build_datasets
    from tmkt_train.train.trainer import fit

    started = time.time()
    train_set, test_set = build_datasets(cfg.data, cfg.seed)
    history = fit(cfg, train_dir, train_set=train_set, test_set=test_set, device=device, resume=True)
    trained = time.time()
    skipped = lava_unavailable() if lava_samples > 0 else "--lava-samples 0"
    check = export_checkpoint(chosen_checkpoint(train_dir), target="loihi2-sim", out=deploy_dir,
                              lava_samples=0 if skipped else lava_samples, data_dir=cfg.data.data_dir or None,
                              cache_dir=cfg.data.cache_dir or None)
    return Deployed(history, check, skipped, round(trained - started, 2), round(time.time() - trained, 2))


def train_only(cfg: TrainConfig, train_dir: Path, *, device: str = "auto") -> tuple[list[dict], float]:
    """Train and select `cfg` (it needs a validation split) without loading or scoring the test split;
    returns the metrics lines and the wall time."""
    from tmkt_train.data.build import build_split
    from tmkt_train.train.trainer import fit

    started = time.time()
    train_set = build_split(cfg.data, cfg.seed, "train")
    history = fit(cfg, train_dir, train_set=train_set, test_set=None, device=device, resume=True)
    return history, round(time.time() - started, 2)


def report_and_print(done: Deployed, train_dir: Path, deploy_dir: Path, report_dir: Path, *,
                     profiles: tuple[str, ...] = REPORT_PROFILES) -> dict:
    """The energy/accuracy report of one deployment on `profiles`, then what a person wants to read after a
    run: the report table, accuracies at each stage, whether the spikes matched, and where the files are."""

    from tmkt_common.cli import make_console
    from tmkt_deploy.report.make import make_report
    from tmkt_deploy.report.table import summary_table

    report = make_report([deploy_dir], report_dir, profiles=list(profiles))
    console, check = make_console(), done.check
    acc = check.accuracy
    lava = f"; Lava on {check.lava_samples} samples {acc['lava']:.1%}" if check.lava_samples else \
        f"; Lava skipped ({done.lava_skipped})"
    console.print(summary_table(report))
    console.print(
        f"test accuracy on events, {check.samples} samples: float {acc['float']:.1%}, 8-bit SLAYER "
        f"{acc['quantized']:.1%}, deployed (emulated Loihi 2) {acc['deployed']:.1%}{lava}\n"
        f"spike-exact (emulator = quantized model{' = Lava' if check.lava_samples else ''}, every layer and "
        f"step): {'yes' if check.exact else 'NO, see check.json'}; {len(done.history)} epochs; "
        f"train {done.train_s:.0f} s, export {done.export_s:.0f} s")
    console.print(f"files:\n  checkpoint  {Path(train_dir) / CHECKPOINT} (+ metrics.jsonl, config.toml)\n"
                  f"  curves      {Path(train_dir) / CURVES}\n"
                  f"  deployment  {deploy_dir} (ir/, network.net, check.json, spikes.json, activity.npz)\n"
                  f"  report      {Path(report_dir) / 'report.md'} (report.json, PNGs)")
    return report
