"""Crashes leave no half folder and no leftovers: a kill at every step of an export folder's move-in leaves
the old folder or the new one, never a mix, and the next run of that folder cleans what the crash left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tmkt_common.atomic import recover, staged_folder

ROOT = Path(__file__).resolve().parents[1]
OLD = {"ir/weights.txt": "old", "check.json": "old", "notes.txt": "user"}
NEW = {"ir/weights.txt": "new", "check.json": "new", "notes.txt": "user"}  # notes.txt is not owned: kept
DEAD_PID = 2**22 + 1  # above Linux's largest pid_max: never a running process

# Writes OLD, then NEW into the same folder through staged_folder, dying (os._exit, no clean-up) at write
# step K of the move-in, before or after it; STEPS=count prints how many steps there are.
CRASH = """
import os, pathlib, shutil, sys
from tmkt_common import atomic as staging
out, where, k, fallback = pathlib.Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1"
count = 0
def hook(fn):
    def wrapped(*args, **kwargs):
        global count
        count += 1
        if count == k and where == "before":
            os._exit(9)
        result = fn(*args, **kwargs)
        if count == k and where == "after":
            os._exit(9)
        return result
    return wrapped
def write(files, owned=("ir", "check.json")):
    with staging.staged_folder(out, owned) as stage:
        for name, text in files.items():
            (stage / name).parent.mkdir(exist_ok=True)
            (stage / name).write_text(text)
write({"ir/weights.txt": "old", "check.json": "old"})
(out / "notes.txt").write_text("user")
if fallback:
    staging._exchange = lambda a, b: False
staging._exchange = hook(staging._exchange)
os.rename, shutil.rmtree = hook(os.rename), hook(shutil.rmtree)
pathlib.Path.rename = hook(pathlib.Path.rename)
write({"ir/weights.txt": "new", "check.json": "new"})
print(count)
"""


def _tree(folder: Path) -> dict[str, str] | None:
    if not folder.exists():
        return None
    return {str(p.relative_to(folder)): p.read_text() for p in folder.rglob("*") if p.is_file()}


def _crash(out: Path, where: str, step: int, fallback: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-c", CRASH, str(out), where, str(step), str(int(fallback))],
                          capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("fallback", [False, True], ids=["exchange", "two-renames"])
def test_a_kill_at_any_move_in_step_leaves_old_or_new_and_the_next_run_cleans(tmp_path, fallback):
    counted = _crash(tmp_path / "count" / "out", "never", 0, fallback)
    assert counted.returncode == 0, counted.stderr
    steps = int(counted.stdout)
    assert steps >= (4 if fallback else 2)
    for step in range(1, steps + 1):
        for where in ("before", "after"):
            parent = tmp_path / f"{where}{step}"
            out = parent / "out"
            crashed = _crash(out, where, step, fallback)
            assert crashed.returncode == 9, crashed.stderr
            seen = _tree(out)
            # two renames leave a moment with no folder (never a mixed one); recover closes it
            assert seen in ((OLD, NEW, None) if fallback else (OLD, NEW)), (where, step, seen)
            recover(out)  # what the next run of this folder does first
            assert _tree(out) in (OLD, NEW) if seen is None else _tree(out) == seen
            assert sorted(p.name for p in parent.iterdir()) == ["out"], (where, step)
            with staged_folder(out, ["check.json"]) as stage:  # and a later run works
                (stage / "check.json").write_text("later")
            assert (out / "check.json").read_text() == "later" and (out / "notes.txt").read_text() == "user"


def test_next_run_removes_dead_writers_leftovers_only(tmp_path):
    out = tmp_path / "deploy"
    with staged_folder(out, ["check.json"]) as stage:
        (stage / "check.json").write_text("{}")
    dead = [tmp_path / f".deploy.{DEAD_PID}.abcd1234.partial", tmp_path / f".deploy.{DEAD_PID}.efgh5678.old",
            out / f".check.json.{DEAD_PID}.ijkl9012.tmp"]
    live = [tmp_path / f".deploy.{os.getpid()}.mnop3456.partial", out / f".spikes.json.{os.getpid()}.q.tmp"]
    for path in dead[:2] + live[:1]:
        path.mkdir()
        (path / "check.json").write_text("half")
    for path in (dead[2], live[1]):
        path.write_text("half")
    with staged_folder(out, ["check.json"]) as stage:
        (stage / "check.json").write_text("[]")
    assert not any(p.exists() for p in dead)
    assert all(p.exists() for p in live)  # a live writer's files are left alone
    assert (out / "check.json").read_text() == "[]"


def _children() -> dict[int, list[int]]:
    """ppid → pids of live (non-zombie) processes, from /proc."""
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            state, ppid = stat.rsplit(")", 1)[1].split()[:2]
            if state != "Z":
                tree.setdefault(int(ppid), []).append(int(entry.name))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pids: set[int]) -> set[int]:
    tree = _children()
    return pids & {p for kids in tree.values() for p in kids}


def _segments(pids: set[int]) -> set[str]:
    """The /dev/shm/psm_* segments (Python shared memory, Lava's channels) these processes have mapped: not
    other programs' segments, which come and go on a shared box."""
    found = set()
    for pid in pids:
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        found |= {line.rsplit("/", 1)[1] for line in maps.splitlines() if "/dev/shm/psm_" in line}
    return found


def _existing(segments: set[str]) -> set[str]:
    return {name for name in segments if (Path("/dev/shm") / name).exists()}


@pytest.mark.lava
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc and /dev/shm are Linux's")
def test_kill_9_during_lava_leaves_no_process_and_no_shared_memory(tmp_path):
    import time

    from support import write_tiny_checkpoint

    ckpt = write_tiny_checkpoint(tmp_path / "checkpoint.pt")
    export = subprocess.Popen(
        [sys.executable, "-c", "from tmkt_deploy.cli import app; app()", "export", str(ckpt), "--out",
         str(tmp_path / "deploy"), "--samples", "40", "--lava-samples", "40"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        start_new_session=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and export.poll() is None:
            family = _descendants(export.pid)
            if len(family) >= 4 and _segments(family):  # Lava's processes are up and talking
                break
            time.sleep(0.2)
        assert export.poll() is None, export.stderr.read()
        time.sleep(1.0)  # well inside the Lava run
        family = _descendants(export.pid)
        segments = _segments(family | {export.pid})
        assert segments
        export.kill()
        export.wait()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (_alive(family) or _existing(segments)):
            time.sleep(0.2)
        assert not _alive(family), f"still running after kill -9 of the export: {sorted(_alive(family))}"
        assert not _existing(segments), f"shared memory left: {sorted(_existing(segments))}"
    finally:
        if export.poll() is None:
            export.kill()
    assert not (tmp_path / "deploy").exists()  # nothing looks exported


def test_a_write_killed_midway_leaves_only_a_temp_that_the_next_fit_removes(tmp_path):
    from test_train import ToyPairs, toy_config

    from tmkt_train.train.trainer import fit

    killed = "import os, sys\nfrom tmkt_common.atomic import atomic_write\n" \
             "with atomic_write(sys.argv[1]) as f:\n    f.write(b'half'); f.flush(); os._exit(9)\n"
    result = subprocess.run([sys.executable, "-c", killed, str(tmp_path / "checkpoint.pt")],
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, timeout=60)
    assert result.returncode == 9
    assert not (tmp_path / "checkpoint.pt").exists() and len(list(tmp_path.glob(".checkpoint.pt.*.tmp"))) == 1
    fit(toy_config("dvs-only", epochs=1), tmp_path, train_set=ToyPairs(), test_set=ToyPairs(seed=1),
        device="cpu")
    assert (tmp_path / "checkpoint.pt").exists() and not list(tmp_path.glob(".*"))
