"""Fault injection (issue 17): training is killed (SIGKILL) just before and just after each rename that
commits a run file (config.toml, checkpoint.pt, metrics.jsonl; first and second epoch), in a forked child.
After each kill the folder must not look further along than its checkpoint, and `fit --resume` must end with
the same metrics lines and the same weights and optimiser state as an uninterrupted run of the same seed. An
--overwrite stopped at any step leaves the old run (resumable) or the new one, never a mix.
A tiny SCNN on 16×16 ndigits (3 samples per class), 2 epochs, CPU, one thread."""

from __future__ import annotations

import os
import shutil
import signal
from pathlib import Path

import pytest
import torch

from tmkt_train.checkpoint import CHECKPOINT, read_checkpoint
from tmkt_train.config import DataConfig, ModelConfig, OptimConfig, TrainConfig, load_config
from tmkt_train.data.build import build_datasets
from tmkt_train.train.run_folder import CONFIG, METRICS, clear_run, read_metrics
from tmkt_train.train.trainer import fit

torch.set_num_threads(1)
EPOCHS = 2



def kill_at(target: str, when: str, nth: int):
    """An os.replace that SIGKILLs this process just before or after its `nth` rename onto a file named
    `target` (atomic_write's commit)."""
    real, seen = os.replace, []

    def replace(src, dst, *args, **kwargs):
        hit = os.path.basename(dst) == target and len(seen) + 1 == nth
        if os.path.basename(dst) == target:
            seen.append(dst)
        if hit and when == "before":
            os.kill(os.getpid(), signal.SIGKILL)
        real(src, dst, *args, **kwargs)
        if hit and when == "after":
            os.kill(os.getpid(), signal.SIGKILL)

    return replace


def tiny_config() -> TrainConfig:
    return TrainConfig(seed=3, data=DataConfig(time_steps=4, size=16, limit=3),
                       model=ModelConfig(width=0.0625), optim=OptimConfig(epochs=EPOCHS, batch_size=8))


def without_seconds(lines: list[dict]) -> list[dict]:
    return [{k: v for k, v in line.items() if k != "seconds"} for line in lines]


@pytest.fixture(scope="module")
def data() -> tuple:
    cfg = tiny_config()
    return build_datasets(cfg.data, cfg.seed)


@pytest.fixture(scope="module")
def straight(tmp_path_factory, data) -> tuple[Path, list[dict]]:
    """The uninterrupted run's folder and metrics lines."""
    root = tmp_path_factory.mktemp("straight")
    return root / "run", fit(tiny_config(), root / "run", train_set=data[0], test_set=data[1], device="cpu")


def killed_run(data: tuple, out: Path, target: str, when: str, nth: int, cfg: TrainConfig | None = None,
               overwrite: bool = False) -> None:
    """Train into `out` in a forked child (torch and the data are already loaded) that is killed at the
    write point; the child never returns to pytest."""
    pid = os.fork()
    if pid == 0:
        try:
            os.replace = kill_at(target, when, nth)
            fit(cfg or tiny_config(), out, train_set=data[0], test_set=data[1], device="cpu",
                overwrite=overwrite)
        finally:
            os._exit(3)  # not killed: the write point was never reached
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, status


def assert_no_further_than_its_checkpoint(out: Path) -> None:
    """metrics.jsonl holds no epoch the checkpoint lacks, and only a finished checkpoint with all its lines
    says the run is done."""
    lines = read_metrics(out / METRICS)
    if not (out / CHECKPOINT).exists():
        assert lines == []
        return
    ckpt = read_checkpoint(out / CHECKPOINT)
    assert [m["epoch"] for m in lines] == list(range(len(lines))) and len(lines) <= ckpt.epoch + 1
    assert lines == ckpt.history[:len(lines)] and len(ckpt.history) == ckpt.epoch + 1


POINTS = [(CONFIG, when, 1) for when in ("before", "after")] + [
    (target, when, nth) for target in (CHECKPOINT, METRICS) for nth in range(1, EPOCHS + 1)
    for when in ("before", "after")]


@pytest.mark.parametrize(("target", "when", "nth"), POINTS, ids=[f"{t}-{w}-{n}" for t, w, n in POINTS])
def test_a_kill_at_any_write_resumes_to_the_uninterrupted_run(data, straight, tmp_path, target, when, nth):
    done, expected = straight
    out = tmp_path / "run"
    killed_run(data, out, target, when, nth)
    assert_no_further_than_its_checkpoint(out)
    history = fit(tiny_config(), out, train_set=data[0], test_set=data[1], device="cpu", resume=True)
    assert without_seconds(history) == without_seconds(expected)
    assert without_seconds(read_metrics(out / METRICS)) == without_seconds(expected)  # no epoch line lost
    got, want = read_checkpoint(out / CHECKPOINT), read_checkpoint(done / CHECKPOINT)
    assert got.epoch == EPOCHS - 1 and got.state_dict.keys() == want.state_dict.keys()
    assert all(torch.equal(got.state_dict[k], want.state_dict[k]) for k in want.state_dict)
    for key, state in want.optimizer["state"].items():
        assert all(torch.equal(v, got.optimizer["state"][key][name]) if torch.is_tensor(v)
                   else v == got.optimizer["state"][key][name] for name, v in state.items())


def test_a_torn_last_metrics_line_is_rebuilt_from_the_checkpoint(data, straight, tmp_path):
    """A metrics.jsonl cut mid-line (an older writer's crash, or a copy cut short) is replaced on resume."""
    _, expected = straight
    out = tmp_path / "run"
    killed_run(data, out, CHECKPOINT, "after", EPOCHS)  # final checkpoint in, its metrics line not yet
    text = (out / METRICS).read_text()
    (out / METRICS).write_text(text + text[: len(text) // 2])  # a torn extra line
    fit(tiny_config(), out, train_set=data[0], test_set=data[1], device="cpu", resume=True)
    assert without_seconds(read_metrics(out / METRICS)) == without_seconds(expected)


@pytest.mark.parametrize(("target", "when"), [(METRICS, "before"), (CONFIG, "after"), (CHECKPOINT, "after")])
def test_a_kill_during_overwrite_leaves_no_run_or_the_new_one(data, straight, tmp_path, target, when):
    """--overwrite of a finished run (seed 3) with seed 4, killed just after the old files went, after the
    new config, after the new first checkpoint: never a mix of old and new."""
    out = tmp_path / "run"
    shutil.copytree(straight[0], out)
    cfg = tiny_config()
    cfg.seed = 4
    killed_run(data, out, target, when, 1, cfg=cfg, overwrite=True)
    assert_no_further_than_its_checkpoint(out)
    if (out / CHECKPOINT).exists():
        assert read_checkpoint(out / CHECKPOINT).train.seed == 4
    if (out / CONFIG).exists():
        assert load_config(out / CONFIG).seed == 4


@pytest.mark.parametrize("removed", [0, 1, 2, 3])
def test_an_overwrite_cut_short_before_the_checkpoint_went_keeps_the_old_run(data, straight, tmp_path,
                                                                             monkeypatch, removed):
    """--overwrite removes metrics.jsonl, eval.json and config.toml before the checkpoint: stopped after any
    of them, the folder still resumes to the whole old run."""
    out = tmp_path / "run"
    shutil.copytree(straight[0], out)
    real, count = Path.unlink, [0]

    def unlink(self, missing_ok=False):
        if count[0] == removed:
            raise KeyboardInterrupt
        count[0] += 1
        real(self, missing_ok=missing_ok)

    monkeypatch.setattr(Path, "unlink", unlink)
    with pytest.raises(KeyboardInterrupt):
        clear_run(out)
    monkeypatch.undo()
    assert (out / CHECKPOINT).exists()
    fit(tiny_config(), out, train_set=data[0], test_set=data[1], device="cpu", resume=True)
    assert without_seconds(read_metrics(out / METRICS)) == without_seconds(straight[1])
    assert load_config(out / CONFIG) == tiny_config()
