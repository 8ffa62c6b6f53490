"""A fresh clone runs on its own: no file of the repository refers to a path outside it.

CI proves it end to end (`.ci/run` tests a `git clone` made in an empty folder); this test catches the
mistake in seconds, naming the file and line: `../` out of the repo, `__file__` climbed above the root, a
machine's absolute path (/work/..., /home/...), or a symlink pointing out. It also checks the in-repo real
recordings are the ones their README names.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
from pathlib import Path

import pytest
from support import REAL_EVENTS

ROOT = Path(__file__).resolve().parents[1]
MACHINE_PATHS = re.compile(r"(?<![\w.~])/(?:work|home|root|Users|mnt)/")
PARENT_STEPS = re.compile(r"(?:\.\./)+")
SELF = Path(__file__).resolve().relative_to(ROOT)  # this file quotes what it looks for
FILE_PARENTS = re.compile(r"__file__\)(?:\.resolve\(\))?(?:\.parents\[(\d+)\]|((?:\.parent\b)+))")


def repo_files() -> list[Path]:
    """The files a clone gets (tracked ones plus new ones not ignored), relative to the root."""
    try:
        listed = subprocess.run(
            ["git", "-C", str(ROOT), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True, check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the file list of a clone is unknown")
    return [Path(name) for name in sorted(set(listed.decode().split("\0"))) if name]


def outside_references(rel: Path, text: str) -> list[str]:
    """`line N: what` for each reference in `text` (the file at `rel`) that leads out of the repository.

    Markdown links resolve from the file's folder; everywhere else a `../` is taken from the repo root (the
    folder tests, examples and the CLI run in), so any `../` leaves it.
    """
    depth = len(rel.parts) - 1
    allowed_steps = depth if rel.suffix == ".md" else 0
    found = []
    for number, line in enumerate(text.splitlines(), 1):
        if MACHINE_PATHS.search(line):
            found.append(f"line {number}: absolute path of a machine: {line.strip()}")
        if any(len(m.group()) // 3 > allowed_steps for m in PARENT_STEPS.finditer(line)):
            found.append(f"line {number}: '../' leaves the repository: {line.strip()}")
        for m in FILE_PARENTS.finditer(line):
            climbed = int(m.group(1)) + 1 if m.group(1) is not None else m.group(2).count(".parent")
            if climbed > depth + 1:
                found.append(f"line {number}: __file__ climbed above the repository root: {line.strip()}")
    return found


def test_no_file_refers_to_a_path_outside_the_repository():
    problems = []
    for rel in repo_files():
        path = ROOT / rel
        if path.is_symlink():
            if not path.resolve().is_relative_to(ROOT):
                problems.append(f"{rel}: symlink to {path.resolve()}, outside the repository")
            continue
        if not path.is_file() or rel == SELF or rel.parts[0] == "results":  # results/: logs of past runs
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # binary: a recording or an image
        problems += [f"{rel}: {p}" for p in outside_references(rel, text)]
    assert not problems, "\n".join(problems)


def test_the_scan_catches_each_kind_of_outside_path():
    test = Path("tests/test_x.py")
    # sample lines naming a sibling folder of the checkout ("sibling"): the scan must flag each kind
    assert outside_references(test, 'REAL = Path(__file__).resolve().parents[2] / "sibling"')
    assert outside_references(test, "ROOT = Path(__file__).parent.parent.parent")
    assert outside_references(test, 'open("../sibling/data/x.bin")')
    assert outside_references(test, 'DATA = "/work/sibling/data"')
    assert outside_references(Path("docs/a.md"), "see [method](../../sibling/docs/method.md)")
    assert not outside_references(test, "ROOT = Path(__file__).resolve().parents[1]")
    assert not outside_references(test, "EXAMPLES = Path(__file__).resolve().parent.parent / 'examples'")
    assert not outside_references(Path("docs/a.md"), "see [README](../README.md)")
    assert not outside_references(test, 'cache = Path("~/.cache/tmkt") / "x"')


def test_real_recordings_are_in_the_repository_as_documented():
    readme = (REAL_EVENTS / "README.md").read_text()
    for name in ("nmnist_sample.bin", "dvs_sample.aedat4"):
        digest = hashlib.md5((REAL_EVENTS / name).read_bytes()).hexdigest()
        assert f"`{name}` {digest}" in readme, f"{name}: md5 {digest} is not the one its README gives"
