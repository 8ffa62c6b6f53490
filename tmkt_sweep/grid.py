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
- `energy` (GPU, issue 15, the accuracy–energy frontier): TMKT at 10 % DVS on each backbone at the `full`
  grid's width, input size, batch and readout, with fewer epochs (30 / 20 / 30), 3 seeds, at the
  unregularised point and at `ENERGY_BUDGETS` fractions of the same seed's unregularised energy (the
  training-time, streaming Loihi 2 energy its deployment measured): `energy_budget_uj` = fraction × that,
  `energy` = `ENERGY_GAIN` / budget (a 100 % overshoot costs ENERGY_GAIN of loss, whatever the backbone's
  scale). A budgeted run fine-tunes its reference's deployed checkpoint (`model.init_from`) for
  `ENERGY_FINETUNE` of its epochs at the same learning rate and starts as soon as that reference is done, so
  budget and reference of one seed differ only by the fine-tune; `FINETUNE_ONLY` is the same fine-tune
  without the energy term, the equal-training control. The 54 runs took ~9 minutes of one H100 at `--jobs 8`
  beside another sweep. (Trained from scratch under the budget, the first frontier lost 6-10 points on SCNN
  and collapsed VGGSNN at 25 %.)
- `energy-cpu-smoke` (CI): the same pipeline on SCNN at `cpu-smoke` size, 1 seed, 2 budgets.

Issue 19's grids (5 seeds each; `--seeds N` changes that) train on `1 − VAL_FRACTION` of the event training
samples, score every epoch on the held-out rest, keep the best validation epoch (`eval.select = best-val`)
and give every method of a backbone the same number of optimiser steps (`optim.steps`, EVIDENCE_SETTINGS):

- `recipe`: the per-backbone recipe search, one factor at a time around EVIDENCE_SETTINGS (lr ÷3 and ×3,
  half and double the steps, spike readout in the loss, TET's MSE term, separate heads), all METHODS at
  10 % DVS (separate heads only for the two-stream ones). Train-only: its runs never load the test split;
  its table shows validation accuracy under both evaluation readouts (spike count, output current). Choose
  there, then set EVIDENCE_SETTINGS.
- `evidence`: METHODS × the 3 backbones at 10 % DVS, METHODS on VGGSNN at every DVS fraction, and the
  `ablations`: TMKT's core on VGGSNN at 10 % DVS (ABLATION_VARIANTS: how TSM draws its mask, the ratio
  schedule, MAG/MRP weights, separate heads, each term off).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field, replace

from tmkt_train.config import TrainConfig

BACKBONES = ("scnn", "vggsnn", "resnet18")
# The methods every comparison grid trains, in table order: the one list a new method joins.
METHODS = ("dvs-only", "sliding-kt", "tmkt", "rgb-pretrain", "ckd")
BASELINES = ("dvs-only", "sliding-kt")  # the table's paired differences are taken against these
SEEDS = (0, 1, 2)
EVIDENCE_SEEDS = (0, 1, 2, 3, 4)
DVS_FRACTION = 0.1
FRACTIONS = (0.05, 0.1, 0.25, 0.5, 1.0)
RESULT = "result.json"  # OUT/runs/NAME/result.json: written last, so its presence means the run is complete
ENERGY_BUDGETS = (0.7, 0.5, 0.35, 0.25)  # fractions of the unregularised run's energy
# The control: the same fine-tune without the energy term (a budget of 100 %, named "-e-ft"), so a budget's
# accuracy is compared with equal training, not with its shorter-trained reference.
FINETUNE_ONLY = 1.0
ENERGY_GAIN = 2.0  # not tuned: on CPU toy runs (6 epochs) gain 1 moved the energy by only ~5-10 %
# A budgeted run's fine-tune, as a share of its reference's epochs, at its learning rate. On CPU (SCNN width
# 0.5, 32x32, seed 0) a third of the epochs at 0.3 x the lr kept the accuracy but moved the training-time
# energy only 51 -> 45 µJ against a 25.6 µJ budget. On the H200 at half the epochs, SCNN's energy was still
# falling when the learning rate had decayed (357 -> 239 µJ against an 89 µJ budget): it gets all of them.
ENERGY_FINETUNE = {"scnn": 1.0, "vggsnn": 0.5, "resnet18": 0.5}
FULL = "full"
# ablation variant → the config keys it sets ("section.key" of TrainConfig); 0 removes a term (methods/)
ABLATIONS = {"no-mag": {"loss.mag": 0.0}, "no-mrp": {"loss.mrp": 0.0}, "no-cka": {"loss.cka": 0.0}}
ABLATION_VARIANTS = {
    **ABLATIONS,
    "tsm-whole": {"loss.mix_mode": "whole"},        # whole-sequence replacement at the same expected ratio
    "tsm-per-step": {"loss.mix_mode": "per-step"},  # each step drawn independently at that ratio
    "cubic": {"loss.mix_schedule": "power", "loss.mix_power": 3.0},  # r_m = progress³ instead of linear
    "mag0.1": {"loss.mag": 0.1}, "mag1": {"loss.mag": 1.0},
    "mrp0.1": {"loss.mrp": 0.1}, "mrp1": {"loss.mrp": 1.0},
    "separate-heads": {"loss.heads": "separate"},
}


@dataclass(frozen=True)
class Settings:
    """Training settings of one backbone in a grid."""

    width: float
    size: int
    epochs: int
    batch_size: int
    cls_mode: str = "tet"  # classification readout (methods.losses): output currents or "tet-spikes"
    lr_per_1024: float = 0.1  # OptimConfig.lr_per_1024
    steps: int = 0            # OptimConfig.steps: the same optimiser steps for every method (0: `epochs`)
    val_fraction: float = 0.0  # DataConfig.val_fraction
    select: str = "last"      # EvalConfig.select
    tet_mse: float = 0.0      # MethodConfig.tet_mse
    heads: str = "shared"     # MethodConfig.heads
    readout: str = "spikes"   # EvalConfig.readout
    eval_every_steps: int = 0  # EvalConfig.every_steps


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
    budget: float | None = None  # energy grids: None = not one; 0 = unregularised; else fraction of it
    overrides: dict = field(default_factory=dict, hash=False)  # "section.key" → value, on top of settings
    deploy: bool = True  # False: train and select only (a recipe search never scores the test split)

    @property
    def group(self) -> str:
        """The run's name without the seed: runs of one group are averaged in the table."""
        variant = "" if self.variant == FULL else f"-{self.variant}"
        energy = ("" if self.budget is None else "-e-free" if not self.budget
                  else "-e-ft" if self.budget == FINETUNE_ONLY else f"-e{self.budget * 100:g}")
        return f"{self.backbone}-{self.method}{variant}-dvs{self.dvs_fraction * 100:g}{energy}"

    @property
    def name(self) -> str:
        return f"{self.group}-s{self.seed}"

    @property
    def reference(self) -> RunSpec | None:
        """The unregularised run whose energy this run's budget is a fraction of (None: not budgeted)."""
        return replace(self, budget=0.0) if self.budget else None

    def config(self, reference: Reference | None = None) -> TrainConfig:
        """The TrainConfig this run trains with (defaults for every knob the grid does not set); a budgeted
        run needs its reference's result (energy and checkpoint)."""
        cfg = TrainConfig(method=self.method, seed=self.seed)
        cfg.data.dataset, cfg.data.dvs_fraction = "ndigits", self.dvs_fraction
        cfg.data.size = self.settings.size
        cfg.model.backbone, cfg.model.width = self.backbone, self.settings.width
        cfg.optim.epochs, cfg.optim.batch_size = self.settings.epochs, self.settings.batch_size
        st = self.settings
        cfg.loss.cls_mode, cfg.loss.tet_mse, cfg.loss.heads = st.cls_mode, st.tet_mse, st.heads
        cfg.optim.lr_per_1024, cfg.optim.steps = st.lr_per_1024, st.steps
        cfg.data.val_fraction, cfg.eval.select, cfg.eval.readout = st.val_fraction, st.select, st.readout
        cfg.eval.every_steps = st.eval_every_steps
        for key, value in self.overrides.items():
            section, name = key.split(".")
            setattr(getattr(cfg, section), name, value)
        if self.budget:
            if reference is None or reference.energy_uj <= 0:
                raise ValueError(f"{self.name}: its budget is a fraction of {self.reference.name}'s energy, "
                                 "which has no result yet")
            if self.budget != FINETUNE_ONLY:
                cfg.loss.energy_budget_uj = self.budget * reference.energy_uj
                cfg.loss.energy = ENERGY_GAIN / cfg.loss.energy_budget_uj
            cfg.model.init_from = reference.checkpoint
            cfg.optim.epochs = max(1, round(cfg.optim.epochs * ENERGY_FINETUNE[self.backbone]))
        return cfg


@dataclass(frozen=True)
class Reference:
    """What a budgeted run takes from its unregularised reference run's result."""

    energy_uj: float  # training-time (streaming) Loihi 2 energy per sample of its deployment
    checkpoint: str  # the checkpoint it deployed: the fine-tune starts there


GPU_SETTINGS = {
    "scnn": Settings(width=1.0, size=48, epochs=60, batch_size=32, cls_mode="tet-spikes"),
    "vggsnn": Settings(width=0.5, size=48, epochs=40, batch_size=32),
    "resnet18": Settings(width=0.5, size=48, epochs=80, batch_size=32, lr_per_1024=0.03),
}
SMOKE_SETTINGS = Settings(width=0.125, size=16, epochs=1, batch_size=16)
VAL_FRACTION = 0.15  # of each class's event training samples (ndigits: 21 of 143), held out first
EVAL_EVERY_STEPS = 20  # validate (and checkpoint) every ~20 steps: each 5th epoch at 10 % DVS, each at 100 %
EVIDENCE = dict(val_fraction=VAL_FRACTION, select="best-val", eval_every_steps=EVAL_EVERY_STEPS)
# Issue 19's recipes, until the `recipe` table says otherwise (edit here: it is what `evidence` trains with):
# today's per-backbone settings, with step budgets so few-event runs are no longer a few hundred steps (the
# old 10 % VGGSNN run had 200).
EVIDENCE_SETTINGS = {
    "scnn": replace(GPU_SETTINGS["scnn"], **EVIDENCE, steps=600),
    "vggsnn": replace(GPU_SETTINGS["vggsnn"], **EVIDENCE, steps=600),
    "resnet18": replace(GPU_SETTINGS["resnet18"], **EVIDENCE, steps=800),
}

STUDY_METHODS = "methods"        # backbones × methods at 10 % DVS
STUDY_ABLATIONS = "ablations"    # TMKT without MAG / MRP / CKA on VGGSNN
STUDY_FRACTIONS = "dvs-fraction"  # dvs-only vs tmkt on SCNN over the DVS share
STUDY_EVIDENCE = "evidence-methods"     # METHODS × backbones at 10 % DVS, equal steps, best-val
STUDY_EVIDENCE_FRACTIONS = "evidence-fraction"  # METHODS on VGGSNN over the DVS share
STUDY_CORE = "core-ablations"           # TMKT's core on VGGSNN at 10 % DVS
STUDY_RECIPE = "recipe"                 # the validation-only recipe search
STUDY_ENERGY = "energy"  # TMKT under energy budgets per backbone (frontier.py writes its table)
STUDIES = {
    STUDY_METHODS: "Methods per backbone at 10 % DVS training samples",
    STUDY_ABLATIONS: "TMKT ablations on VGGSNN at 10 % DVS",
    STUDY_FRACTIONS: "DVS-fraction sweep on SCNN (dvs-only vs tmkt)",
    STUDY_EVIDENCE: "Methods per backbone at 10 % DVS (equal optimiser steps, best validation epoch)",
    STUDY_EVIDENCE_FRACTIONS: "DVS-fraction sweep on VGGSNN (equal optimiser steps, best validation epoch)",
    STUDY_CORE: "TMKT's core on VGGSNN at 10 % DVS: mixing mask, schedule, MAG/MRP weights, heads",
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
                     studies=(STUDY_ABLATIONS,), overrides=ABLATIONS.get(v, {}))
             for v in (FULL, *ABLATIONS) for s in SEEDS]
    runs += [RunSpec("scnn", m, f, s, settings["scnn"], studies=(STUDY_FRACTIONS,))
             for m in ("dvs-only", "tmkt") for f in FRACTIONS for s in SEEDS]
    return _merge(runs)


def smoke_grid() -> list[RunSpec]:
    """A few tiny CPU runs that exercise every stage (used by tests/test_sweep.py)."""
    return [RunSpec("scnn", m, DVS_FRACTION, s, SMOKE_SETTINGS, studies=(STUDY_METHODS,))
            for m in ("dvs-only", "tmkt") for s in (0, 1)]


# the `full` grid's settings with fewer epochs, so the grid fits one ~10-minute GPU call (module docstring)
ENERGY_EPOCHS = {"scnn": 30, "vggsnn": 20, "resnet18": 30}
ENERGY_SETTINGS = {name: replace(s, epochs=ENERGY_EPOCHS[name]) for name, s in GPU_SETTINGS.items()}


def energy_grid() -> list[RunSpec]:
    """Each backbone × (unregularised + the fine-tune alone + ENERGY_BUDGETS) × 3 seeds, unregularised
    runs first."""
    return [RunSpec(b, "tmkt", DVS_FRACTION, s, ENERGY_SETTINGS[b], studies=(STUDY_ENERGY,), budget=f)
            for f in (0.0, FINETUNE_ONLY, *ENERGY_BUDGETS) for b in BACKBONES for s in SEEDS]


def energy_smoke_grid() -> list[RunSpec]:
    """The energy pipeline on tiny CPU runs."""
    return [RunSpec("scnn", "tmkt", DVS_FRACTION, 0, SMOKE_SETTINGS, studies=(STUDY_ENERGY,), budget=f)
            for f in (0.0, 0.7, 0.4)]


def ablation_grid(seeds: tuple[int, ...] = EVIDENCE_SEEDS,
                  settings: dict[str, Settings] = EVIDENCE_SETTINGS) -> list[RunSpec]:
    """TMKT and each ABLATION_VARIANT on VGGSNN at 10 % DVS."""
    return [RunSpec("vggsnn", "tmkt", DVS_FRACTION, s, settings["vggsnn"], variant=v, studies=(STUDY_CORE,),
                    overrides=ABLATION_VARIANTS.get(v, {}))
            for v in (FULL, *ABLATION_VARIANTS) for s in seeds]


def evidence_grid(seeds: tuple[int, ...] = EVIDENCE_SEEDS,
                  settings: dict[str, Settings] = EVIDENCE_SETTINGS) -> list[RunSpec]:
    """Issue 19's comparison: METHODS × backbones at 10 %, METHODS × DVS shares on VGGSNN, the ablations."""
    runs = [RunSpec(b, m, DVS_FRACTION, s, settings[b], studies=(STUDY_EVIDENCE,))
            for b in BACKBONES for m in METHODS for s in seeds]
    runs += [RunSpec("vggsnn", m, f, s, settings["vggsnn"], studies=(STUDY_EVIDENCE_FRACTIONS,))
             for m in METHODS for f in FRACTIONS for s in seeds]
    return _merge(runs + ablation_grid(seeds, settings))


def recipe_candidates(base: Settings) -> dict[str, dict]:
    """The recipe search's candidates around `base`, one factor at a time: name → Settings fields."""
    return {
        "base": {}, f"lr{base.lr_per_1024 / 3:.3g}": {"lr_per_1024": base.lr_per_1024 / 3},
        f"lr{base.lr_per_1024 * 3:.3g}": {"lr_per_1024": base.lr_per_1024 * 3},
        f"steps{base.steps // 2}": {"steps": base.steps // 2},
        f"steps{base.steps * 2}": {"steps": base.steps * 2},
        "tet-spikes" if base.cls_mode == "tet" else "tet-current":
            {"cls_mode": "tet-spikes" if base.cls_mode == "tet" else "tet"},
        "mse1e-3": {"tet_mse": 1e-3}, "separate-heads": {"heads": "separate"},
    }


def recipe_grid(seeds: tuple[int, ...] = EVIDENCE_SEEDS,
                settings: dict[str, Settings] = EVIDENCE_SETTINGS) -> list[RunSpec]:
    """Per backbone, each recipe candidate × METHODS at 10 % DVS, train-only and scored on validation
    (`separate-heads` only for the two-stream methods: single-stream ones have one head)."""
    return [RunSpec(b, m, DVS_FRACTION, s, replace(settings[b], **fields), variant=f"recipe-{name}",
                    studies=(STUDY_RECIPE,), deploy=False)
            for b in BACKBONES for name, fields in recipe_candidates(settings[b]).items() for m in METHODS
            if not (fields.get("heads") == "separate" and m in ("dvs-only", "rgb-pretrain")) for s in seeds]


GRIDS = {"full": full_grid, "cpu-smoke": smoke_grid, "evidence": evidence_grid, "ablations": ablation_grid,
         "recipe": recipe_grid, "energy": energy_grid, "energy-cpu-smoke": energy_smoke_grid}
ENERGY_GRIDS = ("energy", "energy-cpu-smoke")
SEEDED_GRIDS = ("evidence", "ablations", "recipe")  # `--seeds N` applies to these


def build_grid(name: str, *, epochs: int | None = None, only: str | None = None, seeds: int | None = None,
               steps: int | None = None) -> list[RunSpec]:
    """Grid `name`, with every backbone's epochs (or step budget) overridden by `epochs` (`steps`) and seeds
    0..`seeds`-1 instead of the grid's, keeping the runs whose name matches the glob `only`
    (comma-separated globs: any of them)."""
    if name not in GRIDS:
        raise ValueError(f"--grid {name!r}: choose one of {sorted(GRIDS)}")
    for option, value in (("--epochs", epochs), ("--seeds", seeds), ("--steps", steps)):
        if value is not None and value < 1:
            raise ValueError(f"{option} must be at least 1, got {value}")
    if seeds is not None and name not in SEEDED_GRIDS:
        raise ValueError(f"--seeds applies to the grids {SEEDED_GRIDS}, not {name!r}")
    runs = GRIDS[name]() if seeds is None else GRIDS[name](tuple(range(seeds)))
    if epochs is not None:
        runs = [replace(r, settings=replace(r.settings, epochs=epochs)) for r in runs]
    if steps is not None:
        runs = [replace(r, settings=replace(r.settings, steps=steps)) for r in runs]
    if only:
        patterns = [p.strip() for p in only.split(",") if p.strip()]
        runs = [r for r in runs if any(fnmatch.fnmatchcase(r.name, p) for p in patterns)]
        if not runs:
            raise ValueError(f"--only {only!r} matches no run of grid {name!r}")
    return runs
