"""CKD's ANN teacher: trained once on the RGB training images, cached by a hash of what determines it.

The cache file is `<data.cache_dir>/teachers/<hash>.pt` when the config names a cache folder (runs that share
a teacher, e.g. several DVS fractions, then train it once), else `<run folder>/teacher/<hash>.pt`: never a
folder the user did not name. The hash covers the images and labels themselves, the backbone, the teacher's
training knobs and the seed, so a resumed run finds the same teacher, and a missing file is re-derived
exactly (seeded; bit-identical on CPU). The file holds tensors and plain values only and is read with
`weights_only=True` (nothing is unpickled). Under DDP rank 0 trains and writes, the other ranks wait and read.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.data import Dataset

from tmkt_common.atomic import atomic_write

from ..config import TrainConfig
from ..models import build_model
from ..models.ann import AnnNet
from . import distributed
from .batches import epoch_batches

FORMAT = "tmkt-teacher"
VERSION = 1


def image_digest(rgb_set: Dataset) -> str:
    """sha256 of the training images and labels the teacher learns from (the frames, not file names)."""
    store = getattr(rgb_set, "store", None)
    if store is not None:
        images, labels = store.rgb, store.rgb_labels
    else:  # a plain dataset of (seq, seq, label) items
        items = [rgb_set[i] for i in range(len(rgb_set))]
        images = torch.stack([seq[..., 0] for seq, _, _ in items])
        labels = torch.tensor([label for _, _, label in items])
    digest = hashlib.sha256(images.cpu().contiguous().numpy().tobytes())
    digest.update(labels.cpu().numpy().astype("int64").tobytes())
    return digest.hexdigest()


def teacher_key(cfg: TrainConfig, rgb_set: Dataset, input_shape: tuple[int, ...], num_classes: int) -> str:
    """The cache key: 16 hex digits of a hash over everything the teacher's weights depend on."""
    loss = cfg.loss
    key = {"format": FORMAT, "version": VERSION, "backbone": cfg.model.backbone, "width": cfg.model.width,
           "input_shape": list(input_shape), "num_classes": num_classes, "seed": cfg.seed,
           "epochs": loss.teacher_epochs, "lr_per_1024": loss.teacher_lr_per_1024,
           "batch_size": cfg.optim.batch_size, "weight_decay": cfg.optim.weight_decay,
           "images": image_digest(rgb_set)}
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def teacher_path(cfg: TrainConfig, run_dir: Path, key: str) -> Path:
    root = Path(cfg.data.cache_dir) / "teachers" if cfg.data.cache_dir else Path(run_dir) / "teacher"
    return root / f"{key}.pt"


def build_teacher(cfg: TrainConfig, input_shape: tuple[int, ...], num_classes: int) -> AnnNet:
    return AnnNet(build_model(cfg.model.backbone, num_classes=num_classes, input_shape=input_shape,
                              width=cfg.model.width, neuron=cfg.model.neuron,
                              input_scale=cfg.model.input_scale))


def train_teacher(cfg: TrainConfig, rgb_set: Dataset, input_shape: tuple[int, ...], num_classes: int,
                  device: torch.device) -> tuple[AnnNet, dict]:
    """CE on the RGB images, AdamW with a cosine decay, seeded from the run's seed; returns (net, stats)."""
    torch.manual_seed(cfg.seed)
    teacher = build_teacher(cfg, input_shape, num_classes).to(device)
    epochs, batch = cfg.loss.teacher_epochs, cfg.optim.batch_size
    lr = cfg.loss.teacher_lr_per_1024 * batch / 1024
    params = [p for p in teacher.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=cfg.optim.weight_decay)
    generator = torch.Generator().manual_seed(cfg.seed)
    stats = {"epochs": epochs, "train_acc": 0.0, "loss": 0.0}
    for epoch in range(epochs):
        order = torch.randperm(len(rgb_set), generator=generator).tolist()
        loader = epoch_batches(rgb_set, order, batch, 0, device)
        correct = total = loss_sum = 0.0
        for step, (seq, _, labels) in enumerate(loader):
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * (epoch + step / len(loader)) / epochs))
            logits = teacher(seq.to(device)[..., 0])
            labels = labels.to(device)
            loss = F.cross_entropy(logits, labels)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            correct += float((logits.argmax(1) == labels).sum())
            loss_sum += float(loss) * len(labels)
            total += len(labels)
        stats.update(train_acc=correct / max(total, 1), loss=loss_sum / max(total, 1))
    return teacher.eval().requires_grad_(False), stats


def save_teacher(path: Path, teacher: AnnNet, key: str, stats: dict) -> None:
    doc = {"format": FORMAT, "version": VERSION, "key": key, "stats": stats,
           "state_dict": {k: v.cpu() for k, v in teacher.state_dict().items()}}
    with atomic_write(path, "wb") as f:
        torch.save(doc, f)


def read_teacher(path: Path, key: str) -> dict | None:
    """The saved teacher document, or None when the file is missing, unreadable or for another key."""
    try:
        doc = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError):
        return None
    ok = isinstance(doc, dict) and doc.get("format") == FORMAT and doc.get("key") == key
    return doc if ok else None


def obtain_teacher(cfg: TrainConfig, train_set: Dataset, run_dir: Path, info: distributed.Dist,
                   device: torch.device) -> tuple[AnnNet, dict]:
    """The cached teacher for this run, trained first if no valid cache file exists; frozen, in eval mode.

    Returns (teacher, record) where record names the file and the teacher's training accuracy."""
    geo = train_set.geometry
    input_shape, num_classes = (geo.channels, geo.height, geo.width), len(train_set.classes)
    rgb_set = train_set.rgb_only()
    key = teacher_key(cfg, rgb_set, input_shape, num_classes)
    path = teacher_path(cfg, run_dir, key)
    if info.main and read_teacher(path, key) is None:
        teacher, stats = train_teacher(cfg, rgb_set, input_shape, num_classes, device)
        save_teacher(path, teacher, key, stats)
    distributed.barrier(info)
    doc = read_teacher(path, key)
    if doc is None:
        raise ValueError(f"{path}: CKD teacher cache unreadable after training it")
    teacher = build_teacher(cfg, input_shape, num_classes)
    teacher.load_state_dict(doc["state_dict"])
    teacher = teacher.to(device).eval().requires_grad_(False)
    return teacher, {"teacher": str(path), "teacher_train_acc": doc["stats"]["train_acc"]}
