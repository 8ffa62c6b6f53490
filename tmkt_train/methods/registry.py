"""Training strategies on one harness: TMKT; baselines sliding-KT, DVS-only, RGB pre-train → DVS fine-tune
(CKD, in ckd.py, builds on sliding-KT); `METHODS` names them all.

A method wraps the backbone and its training-only heads in one module whose forward turns a batch into a loss
(so DistributedDataParallel can wrap it whole). Terms whose weight is 0 are not built, so ablations run from
the config and DDP never sees unused parameters.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import torch
from torch import Tensor

from ..config import MethodConfig
from ..models import NetOutput, SpikingNet, predict
from .cka import StepWeights
from .ckd import CkdTerms
from .heads import ModalityHead, RatioHead
from .losses import classification_loss
from .tsm import blend, mix_ratio, time_step_mixup


@dataclass
class StepResult:
    """One batch's loss, every term by name, and what the metrics need: tensors on the model's device
    (detached), so a training step never waits for the GPU; the trainer reads them once per epoch."""

    loss: torch.Tensor
    terms: dict[str, Tensor]
    correct: Tensor
    count: int
    dvs_ratio: Tensor | float
    spikes: Tensor  # total spikes of the network over the batch


class Method(torch.nn.Module):
    """Backbone + training-only heads; `forward(rgb, dvs, labels, progress)` → StepResult. Subclasses say
    what the trunk sees; `progress` in [0, 1] drives the curricula."""

    name = "base"

    def __init__(self, model: SpikingNet, cfg: MethodConfig, time_steps: int):
        super().__init__()
        self.model, self.cfg, self.time_steps = model, cfg, time_steps
        self.threshold = float(model.nodes[model.output].neuron.threshold)  # TET's MSE target θ

    def cls(self, out: NetOutput, part: slice, labels: Tensor, step_weights: Tensor | None = None):
        """Classification loss of the samples `part` of a forward's output."""
        cfg = self.cfg
        return classification_loss(out.spikes[part], labels, currents=out.currents[part], mode=cfg.cls_mode,
                                   logit_scale=cfg.logit_scale, step_weights=step_weights,
                                   rates=(cfg.true_rate, cfg.false_rate), mse_weight=cfg.tet_mse,
                                   threshold=self.threshold)

    def rgb_epoch(self, epoch: int, epochs: int) -> bool:
        """Whether epoch `epoch` trains on the RGB-only dataset (only the pre-training baseline does)."""
        return False

    needs_teacher = False  # CKD: the trainer hands it an ANN teacher (set_teacher) before training


class SingleStream(Method):
    """`dvs-only`: classification on the event sequence alone."""

    name = "dvs-only"

    def forward(self, rgb: Tensor, dvs: Tensor, labels: Tensor, progress: float) -> StepResult:
        out = self.model(dvs)
        loss = self.cls(out, slice(None), labels)
        correct = (predict(out.spikes) == labels).sum()
        return StepResult(loss, {"ce": loss.detach()}, correct, len(labels), 1.0, out.total_spikes)


class RgbPretrain(SingleStream):
    """`rgb-pretrain`: the first `pretrain_fraction` of epochs on all RGB images (`rgb_only()`), then DVS.

    One optimiser and one cosine schedule over both phases; the trainer swaps the dataset.
    """

    name = "rgb-pretrain"

    def rgb_epoch(self, epoch: int, epochs: int) -> bool:
        return epoch < round(self.cfg.pretrain_fraction * epochs)


class TwoStream(Method):
    """KT's structure: a source stream and the event stream through one trunk (concatenated in the batch, so
    each sample's neuron state starts from zero), CE on both, CKA alignment weighted per step.

    With `heads = "separate"` the source stream is read by its own copy of the output synapse (a
    non-spiking linear readout like the KT code's FC head, classified by TET on its current whatever
    `cls_mode` is); the event stream keeps the network's output layer, the one deployed."""

    name = "sliding-kt"

    def __init__(self, model: SpikingNet, cfg: MethodConfig, time_steps: int):
        super().__init__(model, cfg, time_steps)
        self.steps = StepWeights(time_steps) if cfg.cka > 0 else None
        separate = cfg.heads == "separate"
        self.source_head = copy.deepcopy(model.nodes[model.output].synapse) if separate else None

    def source_cls(self, out: NetOutput, n: int, labels: Tensor) -> Tensor:
        """Classification loss of the source half (the first `n` samples)."""
        if self.source_head is None:
            return self.cls(out, slice(None, n), labels)
        spikes = out.readout_input[:n].to(self.source_head.weight.dtype)  # bf16 on the CUDA fast path
        currents = self.source_head(spikes).reshape(n, -1, out.currents.shape[-1]).float()
        cfg = self.cfg
        return classification_loss(currents, labels, currents=currents, mode="tet", mse_weight=cfg.tet_mse,
                                   threshold=self.threshold)

    def mix(self, rgb: torch.Tensor, dvs: torch.Tensor, progress: float):
        """Sliding replacement: each whole sample becomes its event version with probability progress**k."""
        n, steps = rgb.shape[0], rgb.shape[-1]
        replace = (torch.rand(n) < progress ** self.cfg.slide_power).float().to(rgb.device)
        return blend(rgb, dvs, replace[:, None].expand(n, steps).contiguous())

    def extra_terms(self, out: NetOutput, n: int, rgb: Tensor, mask: Tensor, ratio: Tensor,
                    progress: float) -> dict:
        """Terms a subclass adds, from the forward's output (the first `n` samples are the source stream)."""
        return {}

    def forward(self, rgb: Tensor, dvs: Tensor, labels: Tensor, progress: float) -> StepResult:
        source, mask, ratio = self.mix(rgb, dvs, progress)
        n = len(labels)
        out = self.model(torch.cat([source, dvs]))
        evt_spikes = out.spikes[n:]
        event_weights = 1 - self.steps() if self.steps is not None else None
        terms = {
            "ce": self.cfg.ce_source * self.source_cls(out, n, labels),
            "ce_event": self.cfg.ce_event * self.cls(out, slice(n, None), labels, event_weights),
        }
        if self.steps is not None:
            terms["cka"] = self.cfg.cka * self.steps.alignment_loss(out.potentials[:n], out.potentials[n:])
        terms.update(self.extra_terms(out, n, rgb, mask, ratio, progress))
        loss = sum(terms.values())
        correct = (predict(evt_spikes) == labels).sum()
        return StepResult(loss, {k: v.detach() for k, v in terms.items()}, correct, n, mask.mean(),
                          out.total_spikes / 2)


class Tmkt(TwoStream):
    """TMKT: the source stream is the time-step mixup of RGB and DVS; MAG and MRP heads read its features."""

    name = "tmkt"

    def __init__(self, model: SpikingNet, cfg: MethodConfig, time_steps: int):
        super().__init__(model, cfg, time_steps)
        self.mag = ModalityHead(model.num_features) if cfg.mag > 0 else None
        self.mrp = RatioHead(model.num_features) if cfg.mrp > 0 else None

    def mix(self, rgb: torch.Tensor, dvs: torch.Tensor, progress: float):
        cfg = self.cfg
        ratio = mix_ratio(progress, cfg.mix_schedule, cfg.mix_power, cfg.mix_start, cfg.mix_end)
        return time_step_mixup(rgb, dvs, ratio, mode=cfg.mix_mode)

    def extra_terms(self, out: NetOutput, n: int, rgb: Tensor, mask: Tensor, ratio: Tensor,
                    progress: float) -> dict:
        terms, features = {}, out.features[:n]
        if self.mag is not None:
            terms["mag"] = self.cfg.mag * self.mag.loss(features, mask)
        if self.mrp is not None:
            terms["mrp"] = self.cfg.mrp * self.mrp.loss(features, ratio)
        return terms


class Ckd(CkdTerms, TwoStream):
    """`ckd`: sliding-KT's two streams and CKA, plus the phased KD term from a frozen ANN teacher (ckd.py)."""

    name = "ckd"

METHODS: dict[str, type[Method]] = {m.name: m for m in (Tmkt, TwoStream, SingleStream, RgbPretrain, Ckd)}


def build_method(name: str, model: SpikingNet, cfg: MethodConfig, time_steps: int) -> Method:
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; choose one of {sorted(METHODS)}")
    return METHODS[name](model, cfg, time_steps)
