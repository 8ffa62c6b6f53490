"""TMKT (time-step mixup, MAG, MRP, CKA alignment), CKD and the baselines, as strategies on one harness."""

from ..config import MethodConfig
from .registry import METHODS, StepResult, build_method
from .tsm import mix_ratio, switch_probability, time_step_mixup, truncated_mask

__all__ = ["METHODS", "MethodConfig", "StepResult", "build_method", "mix_ratio", "switch_probability",
           "time_step_mixup", "truncated_mask"]
