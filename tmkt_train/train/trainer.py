"""The epoch loop: any method on any backbone, AdamW + warm-up/cosine, metrics.jsonl, checkpoints, resume.

Randomness is re-seeded from (seed, epoch, rank) at the start of every epoch and the sampler shuffles by
(seed, epoch), so a run is deterministic on CPU and a resumed run continues exactly as an uninterrupted one.
Test (and, with `data.val_fraction`, validation) accuracy is always on pure event input (what the chip sees);
`data.augment` augments training batches only. With a validation split, epochs are scored on it alone and the
test split once, after training, on the weights `eval.select` chose (selection.py). `optim.steps` > 0 gives
every method the same number of optimiser steps (see `plan`).
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from torch import Tensor
from torch.optim import Optimizer
from torch.utils.data import DataLoader, Dataset

from tmkt_common.atomic import remove_leftovers
from tmkt_common.cli import make_console, progress

from ..checkpoint import CHECKPOINT, Checkpoint, read_checkpoint, write_checkpoint
from ..config import TrainConfig, check_config, save_config
from ..methods.registry import Method, build_method
from ..models import NetOutput, SpikingNet, build_model, predict
from ..models.calibrate import calibrate_rates
from . import distributed
from .batches import StoreBatches, epoch_batches, place_frames
from .curves import CURVES, write_curves
from .run_folder import CONFIG, METRICS, check_run_folder, clear_run, committed_history, write_metrics
from .sampling import epoch_sampler
from .selection import best_score, chosen_path, keep_if_best, write_final
from .warm_start import warm_start

SHOW_EVERY = 20  # steps between loss readings for the progress bar
CURVES_EVERY_S = 30.0  # drawing curves.png takes ~0.5 s: short epochs would spend as long drawing as training
TOP_K = 5  # the papers report top-1 and top-5
console = make_console(stderr=True)


def first_events(dataset: Dataset, count: int) -> torch.Tensor:
    """The event sequences of the first `count` items: the fixed batch the initial weights are fitted to."""
    return dataset.events(torch.arange(min(count, len(dataset))))


@dataclass(frozen=True)
class Plan:
    """How long a run trains. Epoch mode (`optim.steps` = 0): `epochs` whole passes. Step mode: every epoch
    is `steps_per_epoch` batches (one pass over the paired training set; an RGB pre-training epoch is cut to
    that length, so every method takes the same steps) and the run stops after exactly `total_steps`
    (fewer only where an RGB-only pass is shorter than a paired one)."""

    epochs: int
    steps_per_epoch: int | None = None
    total_steps: int | None = None

    def limit(self, epoch: int) -> int | None:
        """Most batches of epoch `epoch` (None: the whole pass)."""
        if self.total_steps is None:
            return None
        return min(self.steps_per_epoch, self.total_steps - epoch * self.steps_per_epoch)

    def progress(self, epoch: int, i: int, batches: int) -> float:
        """Training progress in [0, 1) at batch `i` of `batches` in epoch `epoch` (epoch mode: as always)."""
        if self.total_steps is None:
            return (epoch + i / batches) / self.epochs
        return (epoch * self.steps_per_epoch + i) / self.total_steps


def plan(cfg: TrainConfig, paired_batches: int) -> Plan:
    """The run's Plan, given the batches of one pass over the paired training set."""
    if cfg.optim.steps <= 0:
        return Plan(cfg.optim.epochs)
    return Plan(math.ceil(cfg.optim.steps / paired_batches), paired_batches, cfg.optim.steps)


def learning_rate(progress: float, cfg: TrainConfig) -> float:
    """Linear warm-up over min(warmup_epochs, epochs/5), then cosine from cfg.lr down to min_lr."""
    opt = cfg.optim
    warm = min(opt.warmup_epochs, opt.epochs / 5) / opt.epochs
    if progress < warm:
        return cfg.lr * (progress + 1e-3) / warm
    cos = 0.5 * (1 + math.cos(math.pi * (progress - warm) / max(1e-9, 1 - warm)))
    return opt.min_lr + (cfg.lr - opt.min_lr) * cos


def readout_signal(out: NetOutput, readout: str = "spikes") -> Tensor:
    """What a sample's class is read from: the output spikes (the chip's count) or the output currents."""
    return out.spikes if readout == "spikes" else out.currents


def top_k_hits(signal: Tensor, labels: Tensor, k: int) -> Tensor:
    """How many samples have their label among the `k` classes with the largest sum over time of `signal`;
    ties rank the lower class index first, as `predict` does (so top-1 here is `predict`'s accuracy)."""
    ranked = torch.argsort(-signal.sum(dim=-1), dim=1, stable=True)[:, :k]
    return (ranked == labels[:, None]).any(dim=1).sum()


@torch.no_grad()
def evaluate(model: SpikingNet, dataset: Dataset, device: torch.device, batch_size: int = 64,
             split: str = "test", readout: str = "spikes", every_readout: bool = False) -> dict:
    """`{split}_acc` (top-1), `{split}_top5` (both by `readout`) and `{split}_spikes_per_sample` on the
    dataset's event sequences, read batch by batch through `dataset.events` and `dataset.labels` (no RGB is
    paired or collated); `every_readout` adds `{split}_acc_spikes` and `{split}_acc_current` (one run scores
    both readouts)."""
    model.eval()
    readouts = ("spikes", "current") if every_readout else (readout,)
    correct = {r: torch.zeros((), dtype=torch.float64, device=device) for r in readouts}
    top5 = spikes = torch.zeros((), dtype=torch.float64, device=device)
    for start in range(0, len(dataset), batch_size):
        batch = torch.arange(start, min(start + batch_size, len(dataset)))
        out = model(dataset.events(batch).to(device))
        labels = dataset.labels[batch].to(device)
        for r in readouts:
            correct[r] = correct[r] + (predict(readout_signal(out, r)) == labels).sum()
        top5 = top5 + top_k_hits(readout_signal(out, readout), labels, TOP_K)
        spikes = spikes + out.total_spikes
    total = max(len(dataset), 1)
    result = {f"{split}_acc": float(correct[readout]) / total, f"{split}_top5": float(top5) / total,
              f"{split}_spikes_per_sample": float(spikes) / total}
    if every_readout:
        result.update({f"{split}_acc_{r}": float(correct[r]) / total for r in readouts})
    return result


def head_state(method: Method) -> dict:
    return {k: v for k, v in method.state_dict().items() if not k.startswith("model.")}


def restore(method: Method, optimizer: Optimizer, ckpt: Checkpoint) -> int:
    """Load a run's state to continue it (its config was checked by `check_run_folder`); returns the next
    epoch."""
    method.load_state_dict(ckpt.method_state())
    optimizer.load_state_dict(ckpt.optimizer)
    return ckpt.epoch + 1


def progress_bar(enabled: bool) -> Progress:
    return progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[info]}"), TimeRemainingColumn(), enabled=enabled)


def train_epoch(ddp_method: torch.nn.Module, optimizer: Optimizer, loader: StoreBatches | DataLoader, *,
                epoch: int, cfg: TrainConfig, device: torch.device, bar: Progress,
                augment: Callable[[Tensor], Tensor] | None = None,
                run: Plan | None = None) -> dict[str, float]:
    """One pass over `loader` (or `run.limit(epoch)` batches of it); returns sums over this rank's batches
    (terms weighted by batch size) and `steps`. The sums stay on the device until the end (the bar shows
    the loss every SHOW_EVERY steps): a step that read a number would wait for the GPU to finish before the
    next step could be queued. `augment`, if given, transforms the RGB and the DVS batch on the device,
    independently (pairs are different samples). `cfg.optim.epochs` is the run's epoch count."""
    ddp_method.train()
    run = run or Plan(cfg.optim.epochs)
    limit = run.limit(epoch)
    batches = len(loader) if limit is None else min(limit, len(loader))
    sums: dict[str, torch.Tensor | float] = {}
    task = bar.add_task(f"epoch {epoch + 1}/{cfg.optim.epochs}", total=batches, info="")
    steps = 0
    for i, (rgb, dvs, labels) in enumerate(loader):
        if i == batches:
            break
        progress = run.progress(epoch, i, len(loader))
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(progress, cfg)
        rgb, dvs = rgb.to(device, non_blocking=True), dvs.to(device, non_blocking=True)
        if augment is not None:
            rgb, dvs = augment(rgb), augment(dvs)
        result = ddp_method(rgb, dvs, labels.to(device, non_blocking=True), progress)
        optimizer.zero_grad(set_to_none=True)
        result.loss.backward()
        optimizer.step()
        n = result.count
        batch = {**{k: v * n for k, v in {**result.terms, **result.extra}.items()},
                 "loss": result.loss.detach() * n,
                 "correct": result.correct, "count": n, "dvs_ratio": result.dvs_ratio * n,
                 "spikes": result.spikes}
        for k, v in batch.items():
            sums[k] = sums.get(k, 0.0) + v
        shown = {"info": f"loss {float(result.loss.detach()):.3f}"} if i % SHOW_EVERY == 0 else {}
        bar.update(task, advance=1, **shown)
        steps += 1
    bar.remove_task(task)
    return {**{k: float(v) for k, v in sums.items()}, "steps": steps}


def epoch_line(epoch: int, sums: dict[str, float], rgb_phase: bool, lr: float) -> dict:
    sums.pop("steps", None)
    count = max(sums.pop("count"), 1)
    ratio = sums.pop("dvs_ratio", 0.0)
    line = {"epoch": epoch, "lr": lr, "phase": "rgb" if rgb_phase else "paired",
            "train_acc": sums.pop("correct") / count,
            "dvs_ratio": 0.0 if rgb_phase else ratio / count,
            "spikes_per_sample": sums.pop("spikes") / count}
    line.update({k: v / count for k, v in sorted(sums.items())})
    return line


def fit(
    cfg: TrainConfig,
    out_dir: str | os.PathLike,
    *,
    train_set: Dataset,
    test_set: Dataset | None,
    device: str = "auto",
    resume: bool = False,
    overwrite: bool = False,
    on_epoch_end: Callable[[dict], None] | None = None,
    checkpoint: Checkpoint | None = None,
) -> list[dict]:
    """Train `cfg` on the given datasets into `out_dir`; returns all metrics lines (rank 0's view).

    A folder that holds a run is continued only with `resume` (from its checkpoint, with a `cfg` that does not
    contradict it; without a checkpoint the run starts over) and replaced only with `overwrite`. `checkpoint`
    is that folder's checkpoint if the caller has read it already (it is read once: checkpoints can be large).
    `test_set` None (only with a validation split) trains and selects without ever scoring the test split:
    a recipe search's runs."""
    check_config(cfg)
    if test_set is None and cfg.data.val_fraction <= 0:
        raise ValueError("fit without a test set needs data.val_fraction > 0 (epochs are scored on it)")
    out = Path(out_dir)
    info, dev = distributed.setup(device)
    resumed = check_run_folder(out, cfg, resume=resume, overwrite=overwrite, ckpt=checkpoint)
    distributed.barrier(info)  # every rank checked before rank 0 writes
    history = _fit(cfg, out, train_set, test_set, info, dev, resumed, overwrite, on_epoch_end)
    distributed.teardown(info)  # not after an error (see there)
    return history


def epoch_augmentation(cfg: TrainConfig, size: int,
                       device: torch.device) -> Callable[[Tensor], Tensor] | None:
    """The training transforms (`data.augment`, `data.flip`, `data.crop_padding`, `data.rotate_degrees`)
    with a generator on `device` seeded from the run's (just re-seeded) generator: reproducible and
    resumable, and none asked for means no draw, so default runs are unchanged."""
    from ..data.augment import train_augmentation

    data = cfg.data
    transforms = train_augmentation(size, augment=data.augment, flip=data.flip,
                                    crop_padding=data.crop_padding, rotate_degrees=data.rotate_degrees)
    if transforms is None:
        return None
    generator = torch.Generator(device=device)
    generator.manual_seed(int(torch.randint(2**62, ())))
    return partial(transforms, generator=generator)


def _fit(cfg, out, train_set, test_set, info, dev, resumed, overwrite, on_epoch_end) -> list[dict]:
    geo = train_set.geometry
    train_set = place_frames(train_set, dev)  # its RGB-only and validation views share those frames
    val_set = train_set.validation() if cfg.data.val_fraction > 0 else None
    torch.manual_seed(cfg.seed)
    model = build_model(cfg.model.backbone, num_classes=len(train_set.classes),
                        input_shape=(geo.channels, geo.height, geo.width), width=cfg.model.width,
                        neuron=cfg.model.neuron, input_scale=cfg.model.input_scale)
    ckpt_path, metrics_path = out / CHECKPOINT, out / METRICS
    model = model.to(dev)
    warm = resumed is None and bool(cfg.model.init_from)
    if cfg.model.init_rate > 0 and resumed is None and not warm:  # on a GPU: the fast path (SpikingNet.run)
        calibrate_rates(model, first_events(train_set, cfg.optim.batch_size).to(dev), cfg.model.init_rate)
    method = build_method(cfg.method, model, cfg.loss, geo.time_steps).to(dev)
    if warm:
        warm_start(method, cfg, len(train_set.classes), (geo.channels, geo.height, geo.width), geo.time_steps)
    optimizer = torch.optim.AdamW([p for p in method.parameters() if p.requires_grad], lr=cfg.lr,
                                  weight_decay=cfg.optim.weight_decay)
    start, history, teacher_acc = 0, [], {}
    if method.needs_teacher and cfg.loss.kd > 0:  # CKD: cached, or trained first (tmkt_train.train.teacher)
        from .teacher import obtain_teacher

        teacher, record = obtain_teacher(cfg, train_set, out, info, dev)
        method.set_teacher(teacher)
        teacher_acc = {"teacher_train_acc": record["teacher_train_acc"]}
    if resumed is not None:
        start = restore(method, optimizer, resumed)
    if info.main:
        if overwrite:
            clear_run(out)
        out.mkdir(parents=True, exist_ok=True)
        remove_leftovers(out)  # temp files of a crashed run of this folder
        history = committed_history(out, resumed) if resumed is not None else []
        write_metrics(metrics_path, history)  # repairs a line a crash kept out of it
        save_config(cfg, out / CONFIG)
    ddp_method = distributed.wrap(method, info, dev)
    rgb_set = None
    pass_length = len(epoch_sampler(cfg.data.sampler, train_set, info, seed=cfg.seed))
    run = plan(cfg, math.ceil(pass_length / cfg.optim.batch_size))
    run_cfg = replace(cfg, optim=replace(cfg.optim, epochs=run.epochs))  # lr schedule, curricula, bar
    best = best_score(out) if resumed is not None and cfg.eval.select == "best-val" else None
    steps_done = history[-1].get("step", 0) if history else 0
    committed = resumed  # what checkpoint.pt holds
    drawn = time.monotonic()  # curves.png: after the first and last epochs, between them every CURVES_EVERY_S
    with progress_bar(info.main) as bar:
        for epoch in range(start, run.epochs):
            torch.manual_seed(cfg.seed * 100_003 + epoch * 1_009 + info.rank)
            rgb_phase = method.rgb_epoch(epoch, run.epochs)
            if rgb_phase and rgb_set is None:
                rgb_set = train_set.rgb_only()
            data = rgb_set if rgb_phase else train_set
            if hasattr(data, "set_epoch"):
                data.set_epoch(epoch)
            sampler = epoch_sampler(cfg.data.sampler, data, info, seed=cfg.seed)
            sampler.set_epoch(epoch)
            loader = epoch_batches(data, sampler, cfg.optim.batch_size, cfg.data.num_workers, dev)
            started = time.time()
            sums = train_epoch(ddp_method, optimizer, loader, epoch=epoch, cfg=run_cfg, device=dev, bar=bar,
                               augment=epoch_augmentation(cfg, geo.height, dev), run=run)
            every, before = cfg.eval.every_steps, steps_done
            steps_done += sums["steps"]
            sums = distributed.all_sum(sums, info, dev)
            line = {**epoch_line(epoch, sums, rgb_phase, optimizer.param_groups[0]["lr"]), **teacher_acc}
            if run.total_steps is not None or every:
                line["step"] = steps_done
            scored = not every or epoch + 1 == run.epochs or steps_done // every > before // every
            if info.main:
                if scored:
                    if val_set is not None:
                        line.update(evaluate(model, val_set, dev, cfg.optim.batch_size, split="val",
                                             readout=cfg.eval.readout, every_readout=True))
                    else:
                        line.update(evaluate(model, test_set, dev, cfg.optim.batch_size))
                line["seconds"] = round(time.time() - started, 2)
                history.append(line)
                state = Checkpoint(
                    train=cfg, num_classes=len(train_set.classes), input_shape=model.input_shape,
                    time_steps=geo.time_steps, state_dict=model.state_dict(), epoch=epoch,
                    class_names=list(train_set.classes), history=list(history), heads=head_state(method),
                    optimizer=optimizer.state_dict())
                if cfg.eval.select == "best-val":
                    best = keep_if_best(out, state, line, best)
                if scored:  # the epoch's commit point (run_folder.py); a resume re-trains unscored epochs
                    write_checkpoint(ckpt_path, state)
                    committed = state
                write_metrics(metrics_path, history)
                if epoch in (start, run.epochs - 1) or time.monotonic() - drawn >= CURVES_EVERY_S:
                    write_curves(history, out / CURVES)
                    drawn = time.monotonic()
                console.print(summary(line))
            distributed.barrier(info)
            if on_epoch_end is not None:
                on_epoch_end(line)
    if info.main and val_set is not None:
        score_chosen(cfg, model, out, test_set, dev, epochs=run.epochs, committed=committed)
    return history


def score_chosen(cfg: TrainConfig, model: SpikingNet, out: Path, test_set: Dataset | None,
                 device: torch.device, epochs: int, committed: Checkpoint | None = None) -> dict:
    """RUN/final.json: the weights `eval.select` chose, their validation score and (given a test set) the
    test split scored once, on those weights. `model` is loaded with them. `committed` is what checkpoint.pt
    holds, if at hand (not read again)."""
    path = chosen_path(out, cfg.eval.select)
    chosen = committed if committed is not None and path.name == CHECKPOINT else read_checkpoint(path)
    model.load_state_dict(chosen.state_dict)
    metrics = chosen.metrics
    doc = {"select": cfg.eval.select, "readout": cfg.eval.readout, "checkpoint": path.name,
           "epoch": chosen.epoch, "epochs": epochs,
           **{k: v for k, v in metrics.items() if k.startswith("val_") or k == "step"}}
    if test_set is not None:
        doc.update(evaluate(model, test_set, device, cfg.optim.batch_size, readout=cfg.eval.readout,
                            every_readout=True))
    write_final(out, doc)
    return doc


def summary(line: dict) -> str:
    terms = " ".join(f"{k} {line[k]:.3f}" for k in ("ce", "ce_event", "cka", "mag", "mrp", "kd") if k in line)
    scores = "".join(f"{name} acc (DVS) {line[f'{name}_acc']:.3f} | " for name in ("val", "test")
                     if f"{name}_acc" in line)
    return (f"epoch {line['epoch'] + 1}: {terms} | train acc {line['train_acc']:.3f} | {scores}"
            f"dvs ratio {line['dvs_ratio']:.2f} | "
            f"spikes/sample {line['spikes_per_sample']:.0f} | {line['seconds']}s")
