"""Errors of the environment (unwritable place, full disk, a file where a folder is expected) end
in one line and exit 2, never "internal error", and leave no partial file behind."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from ippmd.synth.generator import write_submission
from tests.conftest import set_cell

IPPMD = Path(sys.executable).with_name("ippmd")


def _run(*args: str, cwd: Path, file_limit: int | None = None) -> subprocess.CompletedProcess[str]:
    def limit() -> None:  # RLIMIT_FSIZE: writes past it fail with EFBIG, as on a full disk
        if file_limit is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (file_limit, file_limit))

    return subprocess.run(
        [str(IPPMD), *args], cwd=cwd, capture_output=True, text=True, timeout=300, preexec_fn=limit
    )


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An invalid submission: its report has many problems (a JSON report of some kilobytes)."""
    sub = write_submission("KHM", tmp_path_factory.mktemp("env") / "sub", seed=5)
    for line in range(2, 40):
        set_cell(sub, "persons", line, "sex", "7")
    return sub


def _one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    said = (done.stdout + done.stderr).strip()
    assert "internal error" not in said and "Traceback" not in said
    errors = [line for line in said.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, said
    return errors[0]


def test_a_full_disk_is_an_environment_error_and_leaves_no_partial_report(
    broken: Path, tmp_path: Path
) -> None:
    done = _run("validate", str(broken), "--json", "report.json", cwd=tmp_path, file_limit=2048)
    assert "too large" in _one_line_error(done).lower()
    assert list(tmp_path.iterdir()) == []  # neither a 0-byte report.json nor its temporary file


@pytest.mark.slow  # CLI processes: make test stays under 3 minutes; CI runs it
def test_an_unwritable_place_is_an_environment_error(broken: Path, tmp_path: Path) -> None:
    done = _run("validate", str(broken), "--json", "/proc/ippmd-report.json", cwd=tmp_path)
    _one_line_error(done)


@pytest.mark.slow  # several CLI processes: make test keeps under 3 minutes; CI runs it
def test_a_file_where_a_folder_is_expected_is_an_environment_error(broken: Path, tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("mine", encoding="utf-8")
    for args in (
        ("build", "--countries", "KHM", "--out", "a-file"),
        ("validate", str(broken), "--json", "a-file/report.json"),
        ("template", "KHM", "a-file"),
    ):
        _one_line_error(_run(*args, cwd=tmp_path))
    assert (tmp_path / "a-file").read_text(encoding="utf-8") == "mine"


def test_a_device_is_never_replaced_by_a_report(broken: Path, tmp_path: Path) -> None:
    done = _run("validate", str(broken), "--json", "/dev/null", cwd=tmp_path)
    assert "not a regular file" in _one_line_error(done)
    assert Path("/dev/null").is_char_device()
