"""The project home and package data: explicit places, loud failures (exit 2), never an empty list."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ippmd.core import home
from ippmd.core.errors import UsageError
from ippmd.core.metadata import country_codes

IPPMD = Path(sys.executable).with_name("ippmd")


def _run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    environment = {k: v for k, v in os.environ.items() if not k.startswith("IPPMD_")}
    return subprocess.run(
        [str(IPPMD), *args], cwd=cwd, env={**environment, **(env or {})}, capture_output=True, text=True
    )


def _said(done: subprocess.CompletedProcess[str]) -> str:
    """What the command printed, unwrapped (rich folds lines at the terminal width)."""
    return " ".join(done.stderr.split())


def test_package_data_is_found_through_the_installed_package() -> None:
    assert home.schemas_dir("harmonized", "persons.json").is_file()
    assert len(country_codes()) == 10
    assert (home.countries_dir() / "KHM" / "country.yaml").is_file()


def test_a_missing_package_file_fails_loudly() -> None:
    with pytest.raises(UsageError, match=r"not installed completely: harmonized/nope\.json"):
        home.schemas_dir("harmonized", "nope.json")


def test_no_country_metadata_is_an_error_not_an_empty_list(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ippmd.core import metadata

    monkeypatch.setattr(metadata, "countries_dir", lambda: tmp_path)
    with pytest.raises(UsageError, match="no country metadata"):
        metadata.country_codes()


def test_home_is_the_environment_else_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(home.HOME_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    assert home.project_home() == tmp_path
    assert home.raw_root() == tmp_path / "countries"
    other = tmp_path / "other"
    other.mkdir()
    monkeypatch.setenv(home.HOME_ENV, str(other))
    assert home.project_home() == other
    monkeypatch.setenv(home.HOME_ENV, str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="is not a folder"):
        home.project_home()


def test_cli_refuses_a_home_that_is_not_a_folder(tmp_path: Path) -> None:
    done = _run("--home", str(tmp_path / "missing"), "check", cwd=tmp_path)
    assert done.returncode == 2
    assert "is not a folder" in _said(done)
    done = _run("check", cwd=tmp_path, env={home.HOME_ENV: str(tmp_path / "missing")})
    assert done.returncode == 2, done.stderr
    assert "is not a folder" in _said(done) and "internal error" not in _said(done)


def test_cli_environment_errors_exit_2_without_internal_error(tmp_path: Path) -> None:
    """An output path under a file is the environment's fault: a clear message and exit 2."""
    blocker = tmp_path / "file.txt"
    blocker.write_text("not a folder", encoding="utf-8")
    done = _run("synth", "KHM", str(blocker / "sub"), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "internal error" not in done.stderr
    assert "file.txt" in _said(done)


@pytest.mark.slow
def test_commands_default_to_the_home_not_the_checkout(tmp_path: Path) -> None:
    """With --home, build, check and extract read and write the home only; the cwd stays empty."""
    work, elsewhere = tmp_path / "home", tmp_path / "cwd"
    work.mkdir()
    elsewhere.mkdir()
    built = _run(
        "--home", str(work), "build", "--countries", "KHM", "--quiet", "--engine", "polars", cwd=elsewhere
    )
    assert built.returncode == 0, built.stderr
    assert "SYNTHETIC DATA" in built.stderr  # the build says what its microdata are
    assert (work / "datapackage.json").is_file() and (work / "data" / "persons.csv").is_file()
    extracted = _run("--home", str(work), "extract", "--out", str(work / "x.zip"), cwd=elsewhere)
    assert extracted.returncode == 0, extracted.stderr
    assert list(elsewhere.iterdir()) == []
