"""CKD (Ye et al., ICME 2025, arXiv 2507.09269): sliding replacement + CKA + phased ANN → SNN distillation.

The paper's code was never released; this is our reading of it (docs/contracts.md, "CKD"):
- cross-modality: KT's sliding replacement (each sample's source sequence becomes its event sequence with
  probability progress**slide_power) and KT's per-step CKA alignment of the two streams: `TwoStream`, reused;
- cross-architecture ("indirect phased distillation"): an ANN teacher trained on the RGB images
  (tmkt_train.train.teacher) sees each sample's paired RGB image; its logits teach the student's logits on
  the replaced (source) stream, `kd · W(progress) · τ²·KL(softmax(t/τ) ‖ softmax(s/τ))`, with
  W = 1/(1 + exp(k·(progress − s))): phase I (W ≈ 1) distils, phase II (W ≈ 0) the student stands alone.
  Ours: the student's logits are its time-averaged readout (the output currents for `cls_mode = "tet"`,
  `logit_scale` × output spikes otherwise); the KL is averaged over the batch; τ, k, s, the weight and the
  teacher's training are `[loss]` keys (tmkt_train.config.MethodConfig) with values the paper does not give.
The teacher is held outside the module tree: not in state_dict, not in DDP, never in a deployed checkpoint.
`CkdTerms` adds these terms to a two-stream method; registry.py names `Ckd(CkdTerms, TwoStream)`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from ..config import MethodConfig
from ..models import NetOutput


def distill_weight(progress: float, k: float, s: float) -> float:
    """W = 1/(1 + exp(k·(progress − s))): decreasing in progress for k > 0, exactly ½ at progress = s."""
    z = k * (progress - s)
    return 1.0 / (1.0 + math.exp(z)) if z < 700 else 0.0


def kd_loss(student: Tensor, teacher: Tensor, tau: float) -> Tensor:
    """τ²·KL(softmax(teacher/τ) ‖ softmax(student/τ)) of (N, K) logits, mean over the batch (Hinton's KD)."""
    log_student = F.log_softmax(student / tau, dim=1)
    log_teacher = F.log_softmax(teacher / tau, dim=1)
    return tau * tau * F.kl_div(log_student, log_teacher, reduction="batchmean", log_target=True)


class CkdTerms:
    """The KD term and the teacher it needs, mixed into sliding-KT's two-stream method (`self.cfg`, and
    `extra_terms` called by its forward)."""

    cfg: MethodConfig
    needs_teacher = True

    def set_teacher(self, teacher: torch.nn.Module) -> None:
        """Attach the frozen teacher unregistered (object.__setattr__ skips Module's bookkeeping)."""
        object.__setattr__(self, "teacher", teacher)

    def student_logits(self, out: NetOutput, part: slice) -> Tensor:
        cfg = self.cfg
        if cfg.cls_mode == "tet":
            return out.currents[part].mean(dim=-1)
        return cfg.logit_scale * out.spikes[part].mean(dim=-1)

    def extra_terms(self, out: NetOutput, n: int, rgb: Tensor, mask: Tensor, ratio: Tensor,
                    progress: float) -> dict:
        cfg = self.cfg
        if cfg.kd <= 0:
            return {}
        teacher = getattr(self, "teacher", None)
        if teacher is None:
            raise RuntimeError("ckd needs its ANN teacher: the trainer attaches it (set_teacher) first")
        with torch.no_grad():
            target = teacher(rgb[..., 0])
        weight = distill_weight(progress, cfg.kd_k, cfg.kd_s)
        return {"kd": cfg.kd * weight * kd_loss(self.student_logits(out, slice(None, n)), target, cfg.kd_tau)}
