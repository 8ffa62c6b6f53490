"""Time-step Mixup (TSM) with truncated replacement, and the schedule of its target ratio r_m.

Ours: no library implements TMKT. For a target ratio r_m the per-step switch probability p solves
E[#event frames] = sum_{t=1..T} (T+1-t) p (1-p)^(t-1) = r_m T (monotone in p, so bisection). Each sequence
switches once, at the first step t* with u_t < p; that frame and every later one come from the event stream.

The ablations of issue 19 draw other masks with the same expected event share r_m (MIX_MODES):
`whole` replaces a whole sequence with probability r_m (sliding-KT's replacement on TMKT's schedule);
`per-step` takes each frame independently from the event stream with probability r_m (switching back and
forth, which TSM avoids on purpose).
"""

from __future__ import annotations

import math

import torch

from ..config import MIX_MODES, MIX_SCHEDULES

SCHEDULES = MIX_SCHEDULES


def expected_event_frames(p: float, steps: int) -> float:
    return sum((steps + 1 - t) * p * (1 - p) ** (t - 1) for t in range(1, steps + 1))


def switch_probability(ratio: float, steps: int, tol: float = 1e-10) -> float:
    """The per-step probability p whose truncated switch gives on average `ratio * steps` event frames."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"mix ratio must be in [0, 1], got {ratio}")
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = (lo + hi) / 2
        if expected_event_frames(mid, steps) < ratio * steps:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def truncated_mask(batch: int, steps: int, p: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """(batch, steps) float mask: 0 before each sequence's switch step, 1 from it on (1 = event frame)."""
    u = torch.rand(batch, steps, generator=generator)
    hit = (u < p).float()
    return (hit.cumsum(dim=1) > 0).float()


def mix_mask(batch: int, steps: int, ratio: float, mode: str = "truncated",
             generator: torch.Generator | None = None) -> torch.Tensor:
    """(batch, steps) float mask (1 = event frame) of mixing `mode`, with expected mean `ratio`."""
    if mode == "truncated":
        return truncated_mask(batch, steps, switch_probability(ratio, steps), generator)
    if mode == "whole":
        return (torch.rand(batch, 1, generator=generator) < ratio).float().expand(batch, steps).contiguous()
    if mode == "per-step":
        return (torch.rand(batch, steps, generator=generator) < ratio).float()
    raise ValueError(f"mix mode must be one of {MIX_MODES}, not {mode!r}")


def time_step_mixup(
    source: torch.Tensor, events: torch.Tensor, ratio: float, generator: torch.Generator | None = None,
    mode: str = "truncated",
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mix (N,C,H,W,T) sequences: returns (mixed, mask m (N,T), realised ratio r (N,) = mean_t m_t)."""
    n, steps = source.shape[0], source.shape[-1]
    return blend(source, events, mix_mask(n, steps, ratio, mode, generator).to(source.device))


def blend(source: torch.Tensor, events: torch.Tensor, mask: torch.Tensor):
    """(N,C,H,W,T) frames taken from `events` where the (N,T) mask is 1, else from `source`; returns (mixed,
    mask, realised event ratio per sample)."""
    m = mask[:, None, None, None, :]
    return source * (1 - m) + events * m, mask, mask.mean(dim=1)


def mix_ratio(progress: float, schedule: str = "linear", power: float = 3.0,
              start: float = 0.0, end: float = 1.0) -> float:
    """Target r_m at training `progress` in [0, 1]: rises from `start` to `end`.

    `linear`: start + (end-start)·progress. `power`: start + (end-start)·progress**power (power=3 is KT's
    sliding curriculum: mostly images early, events late). Our default is linear: TSM already mixes inside
    each sequence, and short runs would otherwise spend most epochs almost without events.
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"mix schedule must be one of {SCHEDULES}, not {schedule!r}")
    progress = min(max(progress, 0.0), 1.0)
    shaped = progress if schedule == "linear" else math.pow(progress, power)
    return start + (end - start) * shaped
