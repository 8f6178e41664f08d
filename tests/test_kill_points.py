"""A kill at every step of a publish, by the project's own fault hook (IPPMD_KILL_AT), is rolled
forward or back by the next command, writer or reader: then `ippmd check` and the frictionless
CLI both pass and the package is the old or the new, byte for byte, never a mix.

The kill points are not a hand list: each writer's publish is run once in this process with
`ippmd.core.publish.kill_point` recording every step it passes (`step:n`, the n-th pass), and
that is the list killed one by one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from ippmd.admit import admit
from ippmd.build import build
from ippmd.core import publish as publish_module
from ippmd.core.io import DESCRIPTOR
from ippmd.core.publish import KILL_ENV, LOCK_FILE, STEPS
from ippmd.synth.generator import write_submission
from tests.conftest import frictionless_validate

IPPMD = Path(sys.executable).with_name("ippmd")
KILLED_SEED = 7  # the killed build's seed: its package differs from the old one (the default seed)
SUBMISSION_SEED = 5


def _hashes(folder: Path) -> dict[str, str]:
    """Every file of the package (descriptor, data/, admitted/) by content; the lock and the
    writers' leftovers aside."""
    files = [p for p in sorted(folder.rglob("*")) if p.is_file()]
    files = [p for p in files if not p.relative_to(folder).parts[0].startswith(".ippmd")]
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _recorded_steps(run: Callable[[], object], monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The kill points a publish passes, in order, as IPPMD_KILL_AT names them (`step:n`)."""
    passed: list[str] = []
    counts: Counter[str] = Counter()

    def record(step: str) -> None:
        counts[step] += 1
        passed.append(f"{step}:{counts[step]}")

    with monkeypatch.context() as patched:
        patched.setattr(publish_module, "kill_point", record)
        run()
    return passed


def _ippmd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(IPPMD), *args], capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})}
    )


class Scene:
    """The old package, the submission, and for each writer the package it publishes and the
    steps it passes."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.old = root / "old"
        build(self.old, ["KHM"], engine="polars")  # as `ippmd build --countries KHM --engine polars`
        self.submission = write_submission("KHM", root / "submission", seed=SUBMISSION_SEED)
        built, admitted = self.copy_of_old("built"), self.copy_of_old("admitted")
        self.steps = {
            "build": _recorded_steps(
                lambda: build(built, ["KHM"], seed=KILLED_SEED, engine="polars"), monkeypatch
            ),
            "admit": _recorded_steps(lambda: admit(self.submission, admitted, engine="polars"), monkeypatch),
        }
        self.new = {"build": _hashes(built), "admit": _hashes(admitted)}

    def copy_of_old(self, name: str) -> Path:
        return Path(shutil.copytree(self.old, self.root / name))

    def writer(self, name: str, out: Path) -> list[str]:
        if name == "build":
            return ["build", "--out", str(out), "--countries", "KHM", "--seed", str(KILLED_SEED), *QUIET]
        return ["admit", str(self.submission), "--out", str(out), "--engine", "polars"]


QUIET = ["--quiet", "--engine", "polars"]


def _next_commands(scene: Scene, out: Path) -> dict[str, list[str]]:
    """What may come after a kill, readers and writers (a build with the old package's options
    rebuilds the old package, or the admitted one when an admit was rolled forward)."""
    return {
        "check": ["check", "--package", str(out)],
        "tabulate": ["tabulate", "age", "--table", "persons", "--package", str(out), "--format", "csv"],
        "build": ["build", "--out", str(out), "--countries", "KHM", *QUIET],
        "admit": ["admit", str(scene.submission), "--out", str(out), "--engine", "polars"],
    }


# The next command after each kill, taken in turn (an admit after a killed build would publish a
# third package, from the killed build's seed: it follows killed admits only).
NEXT = {"build": ("check", "tabulate", "build"), "admit": ("check", "tabulate", "build", "admit")}


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> Scene:
    with pytest.MonkeyPatch.context() as monkeypatch:
        return Scene(tmp_path_factory.mktemp("kills"), monkeypatch)


def _kill(scene: Scene, writer: str, step: str, out: Path) -> None:
    killed = _ippmd(*scene.writer(writer, out), env={KILL_ENV: step})
    assert killed.returncode == -signal.SIGKILL, (writer, step, killed.stderr)


def _recover(scene: Scene, writer: str, following: str, out: Path) -> str:
    """Run the `following` command on a package a writer was killed in, then `ippmd check` and
    frictionless: which package is left, "old" or "new" (anything else fails)."""
    done = _ippmd(*_next_commands(scene, out)[following])
    assert done.returncode == 0, (following, done.stdout + done.stderr)
    assert "internal error" not in done.stderr and "Traceback" not in done.stderr
    said = [line for line in done.stderr.splitlines() if line.startswith("ippmd: ")]
    assert len(said) == 1, (following, done.stderr)  # what was finished or undone, in one line
    assert not list(out.glob(".ippmd-*")) or [p.name for p in out.glob(".ippmd-*")] == [LOCK_FILE]
    checked = _ippmd("check", "--package", str(out))
    assert checked.returncode == 0, (following, checked.stdout + checked.stderr)
    report = frictionless_validate(out)
    assert report["valid"], (following, report)
    now = _hashes(out)
    assert now in (_hashes(scene.old), scene.new[writer]), (following, "a mix of the old and the new")
    return "old" if now == _hashes(scene.old) else "new"


def test_every_step_is_recorded_from_the_publish_itself(scene: Scene) -> None:
    """Each writer passes every step publish.py declares, the moves once per entry; the build
    replaces two entries (data/, the descriptor), the admit adds a third (admitted/KHM)."""
    for writer, steps in scene.steps.items():
        assert {step.partition(":")[0] for step in steps} == set(STEPS), (writer, steps)
    assert scene.steps["build"].count("moved:1") == 1 and "moved:2" in scene.steps["build"]
    assert "moved:3" in scene.steps["admit"] and "moved:3" not in scene.steps["build"]


@pytest.mark.slow  # builds, kills and checks (about 15 s); the fast recovery cases are in test_recovery
def test_a_build_killed_mid_swap_is_recovered_by_a_check(scene: Scene, tmp_path: Path) -> None:
    """The jam of issue 20: killed after the old descriptor moved aside, before the new one moved
    in (data/ without datapackage.json); the next command, a mere `ippmd check`, finishes it."""
    out = shutil.copytree(scene.old, tmp_path / "pkg")
    step = "moved-previous:2"
    assert step in scene.steps["build"]
    _kill(scene, "build", step, out)
    assert (out / "data").is_dir() and not (out / DESCRIPTOR).exists()
    assert _recover(scene, "build", "check", out) == "new"


@pytest.mark.slow
@pytest.mark.parametrize("writer", ["build", "admit"])
def test_a_kill_at_every_step_is_recovered_by_the_next_command(
    scene: Scene, writer: str, tmp_path: Path
) -> None:
    """Every recorded step of the writer, killed in turn; the next command cycles through readers
    and writers. Killed before the commit point (the journal), the old package stays; from it
    on, the new one is in. A rebuild then makes the old package again (a killed build) or the
    admitted one (a killed admit); an admit then admits."""
    steps = scene.steps[writer]
    committed = steps.index("committed:1")
    outcomes, expected = {}, {}
    for number, step in enumerate(steps):
        out = shutil.copytree(scene.old, tmp_path / f"pkg-{number}")
        following = NEXT[writer][number % len(NEXT[writer])]
        _kill(scene, writer, step, out)
        outcomes[step] = _recover(scene, writer, following, out)
        published = number >= committed or following == "admit"
        expected[step] = "old" if not published or (writer, following) == ("build", "build") else "new"
        shutil.rmtree(out)
    assert outcomes == expected
