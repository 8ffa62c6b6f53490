"""TMKT (time-step mixup, MAG, MRP, CKA alignment), CKD and the baselines, as strategies on one harness."""

from .ckd import distill_weight, kd_loss
from .methods import MethodConfig, StepResult
from .registry import METHODS, build_method
from .tsm import mix_ratio, switch_probability, time_step_mixup, truncated_mask

__all__ = ["METHODS", "MethodConfig", "StepResult", "build_method", "distill_weight", "kd_loss", "mix_ratio",
           "switch_probability", "time_step_mixup", "truncated_mask"]
