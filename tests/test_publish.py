"""Publishing is a transaction: one writer at a time, and a SIGKILL at any step leaves the old or
the new package (after the next writer rolls forward), every hash matching, no leftovers."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ippmd.core.errors import UsageError
from ippmd.core.publish import (
    JOURNAL,
    KILL_ENV,
    LOCK_WAIT_ENV,
    STAGING_PREFIX,
    check_target,
    new_staging,
    package_lock,
    publish,
    recover,
)
from tests.conftest import frictionless_validate

ENTRIES = ["admitted/SEN", "data", "datapackage.json"]
# Every pass of every step of a publish of ENTRIES (three moves, two of them over old entries).
KILL_STEPS = [
    "staged",
    "committed",
    "moved-previous:1",
    "moved:1",
    "moved-previous:2",
    "moved:2",
    "moved:3",  # the descriptor: the old one is replaced by the rename itself
    "published",
]


def _write_package(folder: Path, version: str) -> None:
    """A small, valid Data Package v2 whose one CSV says which version it is."""
    data = folder / "data"
    data.mkdir(parents=True)
    csv = f"id,version\n1,{version}\n2,{version}\n".encode()
    (data / "table.csv").write_bytes(csv)
    descriptor = {
        "$schema": "https://datapackage.org/profiles/2.0/datapackage.json",
        "name": "ippmd",
        "build": {"version": version},
        "resources": [
            {
                "name": "table",
                "path": "data/table.csv",
                "format": "csv",
                "bytes": len(csv),
                "hash": "sha256:" + hashlib.sha256(csv).hexdigest(),
                "schema": {
                    "fields": [{"name": "id", "type": "integer"}, {"name": "version", "type": "string"}]
                },
            }
        ],
    }
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")


def _version(out: Path) -> str:
    """Which package is at `out`: its descriptor's version, after checking every hash."""
    descriptor = json.loads((out / "datapackage.json").read_text(encoding="utf-8"))
    for resource in descriptor["resources"]:
        data = (out / resource["path"]).read_bytes()
        assert resource["hash"] == "sha256:" + hashlib.sha256(data).hexdigest(), "hash mismatch"
        assert resource["bytes"] == len(data)
    version = descriptor["build"]["version"]
    assert f",{version}\n" in (out / "data" / "table.csv").read_text(encoding="utf-8")
    return version


CHILD = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from ippmd.core.publish import package_lock, publish

    out, staging = Path(sys.argv[1]), Path(sys.argv[2])
    with package_lock(out):
        publish(staging, out, sys.argv[3:])
    """
)


def _publish_in_child(out: Path, kill_at: str | None) -> int:
    """Stage a new package here, publish it from a child process killed at `kill_at`."""
    staging = new_staging(out)
    _write_package(staging, "new")
    (staging / "admitted" / "SEN").mkdir(parents=True)
    (staging / "admitted" / "SEN" / "metadata.yaml").write_text("new", encoding="utf-8")
    env = {**os.environ, KILL_ENV: kill_at or ""}
    command = [sys.executable, "-c", CHILD, str(out), str(staging), *ENTRIES]
    return subprocess.run(command, env=env, timeout=60).returncode


def _write_old(out: Path) -> Path:
    _write_package(out, "old")
    (out / "admitted" / "SEN").mkdir(parents=True)
    (out / "admitted" / "SEN" / "metadata.yaml").write_text("old", encoding="utf-8")
    return out


@pytest.fixture
def old_package(tmp_path: Path) -> Path:
    return _write_old(tmp_path / "pkg")


def _content(place: Path) -> list[tuple[str, str]] | None:
    """What is at a place of the package, file by file (None: nothing there)."""
    if not os.path.lexists(place):
        return None
    files = [place] if place.is_file() else sorted(p for p in place.rglob("*") if p.is_file())
    return [(p.relative_to(place).as_posix(), hashlib.sha256(p.read_bytes()).hexdigest()) for p in files]


@pytest.mark.parametrize("step", KILL_STEPS)
def test_a_kill_at_any_step_leaves_the_old_or_the_new_package(old_package: Path, step: str) -> None:
    out = old_package
    assert _publish_in_child(out, step) == -signal.SIGKILL  # killed at that very step
    leftovers = list(out.glob(f"{STAGING_PREFIX}*"))
    assert len(leftovers) == 1
    committed = (leftovers[0] / JOURNAL).exists()
    assert committed == (step not in ("staged",))
    if not committed:  # before the commit point nothing of the package was touched
        assert _version(out) == "old"
    with package_lock(out):  # what the next writer does first
        assert recover(out) == leftovers
    expected = "new" if committed else "old"
    assert _version(out) == expected
    assert (out / "admitted" / "SEN" / "metadata.yaml").read_text(encoding="utf-8") == expected
    assert not list(out.glob(f"{STAGING_PREFIX}*"))  # leftovers removed
    if step == "moved:2":  # killed between the data and the descriptor: the real validator agrees
        assert frictionless_validate(out)["valid"]


DAMAGES = {
    "deleted": lambda journal: journal.unlink(),
    "emptied": lambda journal: journal.write_bytes(b""),
    "truncated": lambda journal: journal.write_bytes(journal.read_bytes()[:-3]),
    "a list": lambda journal: journal.write_text(json.dumps(ENTRIES), encoding="utf-8"),
}


@pytest.mark.parametrize("damage", DAMAGES)
@pytest.mark.parametrize("step", KILL_STEPS[1:])  # from the commit point on: a journal to damage
def test_a_kill_with_a_damaged_journal_never_replaces_what_the_package_holds(
    old_package: Path, step: str, damage: str, tmp_path: Path
) -> None:
    """A journal that cannot be trusted vouches for no move (a publish writes it before any): what
    the package holds stays, whatever step the killed publish reached; what it had moved aside
    only fills a place left empty, and the next writer says so in one line."""
    out, old = old_package, _write_old(tmp_path / "reference")
    assert _publish_in_child(out, step) == -signal.SIGKILL
    (leftover,) = out.glob(f"{STAGING_PREFIX}*")
    DAMAGES[damage](leftover / JOURNAL)
    held = {entry: _content(out / entry) for entry in ENTRIES}
    told: list[str] = []
    with package_lock(out):
        assert recover(out, told.append) == [leftover]
    assert len(told) == 1 and leftover.name in told[0]
    empty = [entry for entry, content in held.items() if content is None]
    assert told[0].startswith("rolled back" if empty else "removed"), told
    for entry, content in held.items():  # never replaced; an empty place gets the old entry back
        assert _content(out / entry) == (content if content is not None else _content(old / entry)), entry
    if step in ("committed", "moved-previous:1"):  # no new entry moved in yet
        assert _version(out) == "old"
        assert (out / "admitted" / "SEN" / "metadata.yaml").read_text(encoding="utf-8") == "old"
    assert not list(out.glob(f"{STAGING_PREFIX}*"))


def test_a_publish_blocked_by_a_file_where_a_folder_belongs_is_refused_before_its_journal(
    old_package: Path,
) -> None:
    """admitted/ a file of the user's: the move of admitted/SEN cannot land, so the publish is
    refused (exit 2) before its journal, leaving nothing to recover and the file untouched."""
    out = old_package
    shutil.rmtree(out / "admitted")
    (out / "admitted").write_text("mine\n", encoding="utf-8")
    staging = new_staging(out)
    (staging / "admitted" / "SEN").mkdir(parents=True)
    with pytest.raises(UsageError, match="admitted is a regular file, not a folder"), package_lock(out):
        publish(staging, out, ["admitted/SEN"])
    assert not (staging / JOURNAL).exists() and _version(out) == "old"
    assert (out / "admitted").read_text(encoding="utf-8") == "mine\n"


def test_an_uninterrupted_publish_replaces_everything(old_package: Path) -> None:
    assert _publish_in_child(old_package, None) == 0
    assert _version(old_package) == "new"
    assert frictionless_validate(old_package)["valid"]
    assert sorted(p.name for p in old_package.iterdir()) == [
        ".ippmd.lock",
        "admitted",
        "data",
        "datapackage.json",
    ]


def test_a_second_writer_waits_for_the_first_then_fails_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from ippmd.core.publish import package_lock\n"
            "with package_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(30)",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setenv(LOCK_WAIT_ENV, "0.3")
        told: list[str] = []
        waiting = pytest.raises(UsageError, match=f"being written by process {holder.pid}")
        with waiting, package_lock(tmp_path, told.append):
            pass
        assert told and str(holder.pid) in told[0]
    finally:
        holder.kill()
        holder.wait()
    with package_lock(tmp_path):  # the holder is gone: its lock went with it
        pass


def test_writers_are_serialised_so_no_update_is_lost(tmp_path: Path) -> None:
    """Eight processes each read a counter and write it back plus one, under the lock."""
    counter = tmp_path / "counter"
    counter.write_text("0", encoding="utf-8")
    code = (
        "import sys, time; from pathlib import Path; from ippmd.core.publish import package_lock\n"
        "folder = Path(sys.argv[1]); counter = folder / 'counter'\n"
        "with package_lock(folder):\n"
        "    n = int(counter.read_text()); time.sleep(0.05); counter.write_text(str(n + 1))\n"
    )
    workers = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)]) for _ in range(8)]
    assert [w.wait(timeout=60) for w in workers] == [0] * 8
    assert counter.read_text(encoding="utf-8") == "8"


def test_a_build_target_must_be_new_empty_or_a_package(tmp_path: Path) -> None:
    check_target(tmp_path / "new")  # does not exist yet: fine
    (tmp_path / "empty").mkdir()
    check_target(tmp_path / "empty")
    (tmp_path / "a-package").mkdir()
    _write_package(tmp_path / "a-package", "old")
    check_target(tmp_path / "a-package")
    user = tmp_path / "user"
    (user / "data").mkdir(parents=True)
    (user / "data" / "mine.csv").write_text("precious", encoding="utf-8")
    with pytest.raises(UsageError, match="has a data that is not an ippmd package"):
        check_target(user, force=True)  # never over a foreign data/, even forced
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(UsageError, match="not empty"):
        check_target(notes)
    check_target(notes, force=True)
    with pytest.raises(UsageError, match="is a file"):
        check_target(notes / "notes.txt")
