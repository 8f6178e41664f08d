"""Shared fixtures: one full package built per test session (about 20,000 households)."""

from __future__ import annotations

import os

# Two test workers on two cores: polars' own thread pool in each (and in the commands the tests
# start, which inherit this) would oversubscribe the cores; one thread each is ~12% faster here.
os.environ.setdefault("POLARS_MAX_THREADS", "1")

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import polars as pl
import pytest

from ippmd.build import build
from ippmd.core.i18n import using
from ippmd.core.schema import RESOURCES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def english_unless_chosen() -> Iterator[None]:
    """A command sets its language for the rest of the process (ippmd.core.i18n): each test
    starts in English, whatever a test before it chose."""
    with using("en"):
        yield


@pytest.fixture(scope="session")
def package_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built once per test run, shared by the xdist workers (the first builds it under a lock, the
    others wait and read it); tests copy it before changing anything."""
    import fcntl

    base = tmp_path_factory.getbasetemp()
    shared = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base  # this run's, all workers
    out = shared / "session-package"
    with (shared / "session-package.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (out / "datapackage.json").is_file():
            build(out, expectations=False)  # the suites are tested on it in test_expectations
    return out


@pytest.fixture(scope="session")
def descriptor(package_dir: Path) -> dict:
    return json.loads((package_dir / "datapackage.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def tables(package_dir: Path) -> dict[str, pl.DataFrame]:
    return {name: pl.read_parquet(package_dir / "data" / f"{name}.parquet") for name in RESOURCES}


def frictionless_validate(folder: Path) -> dict:
    """The JSON report of the real `frictionless validate` CLI on folder/datapackage.json."""
    import subprocess
    import sys

    result = subprocess.run(
        [str(Path(sys.executable).with_name("frictionless")), "validate", "--json", "datapackage.json"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=300,
    )
    report = json.loads(result.stdout)
    assert (result.returncode == 0) == report["valid"], result.stderr
    return report


def set_cell(folder: Path, table: str, line: int, column: str, value: str) -> dict[str, str]:
    """Plant a defect: set one cell of folder/<table>.csv (line 1 = header); returns the row as it was."""
    path = folder / f"{table}.csv"
    lines = path.read_text(encoding="utf-8").split("\n")
    header = lines[0].split(",")
    cells = lines[line - 1].split(",")
    before = dict(zip(header, cells, strict=True))
    cells[header.index(column)] = value
    lines[line - 1] = ",".join(cells)
    path.write_text("\n".join(lines), encoding="utf-8")
    return before


def copy_package(source: Path, folder: Path) -> Path:
    """A copy of a built package (its descriptor and data/) in `folder`, created; returns it."""
    import shutil

    folder.mkdir(parents=True)
    shutil.copy(source / "datapackage.json", folder)
    shutil.copytree(source / "data", folder / "data")
    return folder


def reseal(folder: Path, table: str) -> None:
    """After a test edits data/<table>.parquet on purpose: write its hash, bytes and rows into the
    descriptor, and the dataHash, as a careful editor would (the reader checks all four)."""
    import hashlib

    from ippmd.package.write import data_hash

    path = folder / "data" / f"{table}.parquet"
    descriptor = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    resource = next(r for r in descriptor["resources"] if r["name"] == table)
    resource["parquet"].update(
        hash="sha256:" + hashlib.sha256(path.read_bytes()).hexdigest(), bytes=path.stat().st_size
    )
    resource["rows"] = pl.scan_parquet(path).select(pl.len()).collect().item()
    descriptor["dataHash"] = data_hash(descriptor["resources"])
    (folder / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")


def edit_meta(folder: Path, edit: Callable[[dict], None]) -> None:
    """Change a submission's metadata.yaml through a function of its parsed mapping."""
    import yaml

    meta = yaml.safe_load((folder / "metadata.yaml").read_text(encoding="utf-8"))
    edit(meta)
    (folder / "metadata.yaml").write_text(yaml.safe_dump(meta, allow_unicode=True), encoding="utf-8")


@pytest.fixture(scope="session")
def submission(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid synthetic Cambodia submission (seed 5), made once and only read: a test that
    changes it works on `copy` (a module may define its own `submission` to differ)."""
    from ippmd.synth.generator import write_submission

    return write_submission("KHM", tmp_path_factory.mktemp("khm-submission") / "sub", seed=5)


@pytest.fixture
def copy(submission: Path, tmp_path: Path) -> Path:
    """A copy of `submission` a test may change."""
    import shutil

    return Path(shutil.copytree(submission, tmp_path / "sub"))
