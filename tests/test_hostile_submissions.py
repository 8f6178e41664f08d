"""Regressions from a second hostile try (after the publishing transaction and the plausibility
rules): each case was mishandled once; each test names what must happen instead."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from ippmd.build import build, write_checksums
from ippmd.core.errors import InputError, UsageError
from ippmd.core.publish import JOURNAL, package_lock, recover
from ippmd.quality.validate import validate_submission
from ippmd.synth.generator import write_submission
from tests.conftest import copy_package, set_cell

IPPMD = Path(sys.executable).with_name("ippmd")


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(IPPMD), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_a_stata_or_spss_table_is_refused_from_its_header_before_it_is_read(
    copy: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pyreadstat

    import ippmd.harmonize.submission as submission

    frame = pl.read_csv(copy / "communities.csv").to_pandas()
    pyreadstat.write_sav(frame, str(copy / "communities.sav"), compress=True)
    (copy / "communities.csv").unlink()
    reads: list[bool] = []
    real = pyreadstat.read_sav

    def counting(path: str, **options: Any) -> object:
        reads.append(bool(options.get("metadataonly")))
        return real(path, **options)

    monkeypatch.setattr(pyreadstat, "read_sav", counting)
    monkeypatch.setattr(submission, "MAX_ROWS", len(frame) - 1)  # as if it held a million rows
    report = validate_submission(copy)
    assert [(p.code, p.file) for p in report.errors] == [("too-many-rows", "communities.sav")]
    assert reads == [True]  # only the header was read


def test_a_fifo_in_a_submission_is_refused_not_waited_for(copy: Path) -> None:
    os.mkfifo(copy / "contacts.csv")
    report = validate_submission(copy)  # would block forever reading it
    assert [p.code for p in report.errors] == ["unsafe-archive"]


def test_a_file_beside_the_submission_folder_is_reported(copy: Path, tmp_path: Path) -> None:
    outer = tmp_path / "outer"
    outer.mkdir()
    shutil.move(str(copy), outer / "sub")
    (outer / "contacts.csv").write_text("head_name,phone\nSok Dara,+855 12 345 678\n", encoding="utf-8")
    report = validate_submission(outer)
    assert [(p.code, p.file) for p in report.errors] == [("unexpected-file", "contacts.csv")]


def test_a_metadata_integer_written_with_a_decimal_point_is_a_named_problem(copy: Path) -> None:
    text = (copy / "metadata.yaml").read_text(encoding="utf-8")
    (copy / "metadata.yaml").write_text(
        "\n".join(
            "survey_year: 2014.0" if line.startswith("survey_year:") else line for line in text.split("\n")
        ),
        encoding="utf-8",
    )
    report = validate_submission(copy)
    assert [(p.code, p.field) for p in report.errors] == [("metadata-error", "survey_year")]


def test_a_local_spelling_must_be_a_place_name(copy: Path) -> None:
    hostile = "Thailand (Sok Dara, village chief)"
    text = (copy / "metadata.yaml").read_text(encoding="utf-8")
    (copy / "metadata.yaml").write_text(
        text.replace("destinations:\n", f"destinations:\n  {hostile}: THA\n", 1), encoding="utf-8"
    )
    set_cell(copy, "emigrants", 3, "destination", f'"{hostile}"')
    report = validate_submission(copy)
    assert ("destination-spelling", f"destinations.{hostile}") in {(p.code, p.field) for p in report.errors}


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_an_escape_in_the_submission_path_is_not_printed(submission: Path, tmp_path: Path) -> None:
    odd = tmp_path / "x\x1b[2J\x1b[32mFAKE"
    shutil.copytree(submission, odd)
    done = _run("validate", str(odd), "--html", "r.html", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "\x1b" not in done.stdout + done.stderr
    assert "\x1b" not in (tmp_path / "r.html").read_text(encoding="utf-8")
    missing = _run("validate", str(tmp_path / "gone\x1b[2J"), cwd=tmp_path)
    assert missing.returncode == 2 and "\x1b" not in missing.stdout + missing.stderr


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_no_output_lands_on_a_package_place(package_dir: Path, tmp_path: Path) -> None:
    package = copy_package(package_dir, tmp_path / "pkg")
    (package / "admitted" / "GEO").mkdir(parents=True)
    (package / "admitted" / "GEO" / "SHA256SUMS").write_text("kept\n", encoding="utf-8")
    before = (package / "datapackage.json").read_bytes()
    for command in (
        ("diff", str(package_dir), str(package), "--json", str(package / "datapackage.json")),
        ("check", "--package", str(package), "--json", str(package / "admitted" / "GEO" / "SHA256SUMS")),
        ("codebook", "--package", str(package), "--out", str(package / ".ippmd.lock")),
    ):
        done = _run(*command, cwd=tmp_path)
        assert done.returncode == 2, (command, done.stdout + done.stderr)
        said = done.stdout + done.stderr
        assert "would write over" in said or "is inside the package" in said, said
    assert (package / "datapackage.json").read_bytes() == before
    assert (package / "admitted" / "GEO" / "SHA256SUMS").read_text(encoding="utf-8") == "kept\n"


def test_planted_links_and_journals_cannot_move_or_write_outside_the_package(tmp_path: Path) -> None:
    package, victim = tmp_path / "pkg", tmp_path / "victim.txt"
    package.mkdir()
    victim.write_text("precious", encoding="utf-8")
    (package / ".ippmd.lock").symlink_to(victim)
    with pytest.raises(UsageError, match="symbolic link"), package_lock(package):
        pass
    assert victim.read_text(encoding="utf-8") == "precious"
    (package / ".ippmd.lock").unlink()
    evil = package / ".ippmd-build-evil"
    evil.mkdir()
    (evil / JOURNAL).write_text(json.dumps({"entries": ["../victim.txt"]}), encoding="utf-8")
    (package / ".ippmd-build-link").symlink_to(tmp_path)
    told: list[str] = []
    with package_lock(package):  # the journal is not trusted: rolled back, the link removed, not followed
        recover(package, told.append)
    assert len(told) == 2 and "not a place of the package" in told[0] and "symbolic link" in told[1]
    assert not evil.exists() and not (package / ".ippmd-build-link").exists()
    assert victim.read_text(encoding="utf-8") == "precious" and tmp_path.is_dir()


@pytest.mark.slow
def test_a_kept_submission_edited_with_new_checksums_is_validated_again(tmp_path: Path) -> None:
    """The checksums sit beside the files: a rebuild validates an admitted submission again."""
    kept = write_submission("GEO", tmp_path / "pkg" / "admitted" / "GEO", seed=4)
    set_cell(kept, "emigrants", 2, "year_left", "2031")  # after the survey
    write_checksums(kept)  # the tamperer recomputes them
    with pytest.raises(InputError) as info:
        build(tmp_path / "pkg", ["GEO"], expectations=False)
    assert "year-left-after-survey" in {p.code for p in info.value.problems}
    assert not (tmp_path / "pkg" / "datapackage.json").exists()
