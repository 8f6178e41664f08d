"""Where things live: the code's own data (package data) and the user's project home.

Two kinds of place, never mixed:
- **Package data** ships inside the `ippmd` distribution (schemas, suites, specs, crosswalks,
  hints, the ten countries' metadata) and is read through `importlib.resources`, so an installed
  wheel works from any folder.
- **The project home** is the user's working folder: the built package (`datapackage.json`,
  `data/`), `reports/`, licensed raw submissions (`countries/<ISO3>/raw/`) and the original public
  files (`../shared`). It is `--home` (which sets `IPPMD_HOME`), else `$IPPMD_HOME`, else the
  current folder. In a checkout the home is the checkout itself.

A missing home or package file fails loudly with a clear message (exit 2), never an empty list.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from ippmd.core.env import env_folder
from ippmd.core.errors import UsageError

HOME_ENV = "IPPMD_HOME"
SHARED_ENV = "IPPMD_SHARED"
RAW_ROOT_ENV = "IPPMD_RAW_ROOT"


def package_data(package: str, *parts: str) -> Path:
    """A file or folder shipped in the distribution, e.g. package_data("ippmd.schemas", "harmonized")."""
    try:
        root = resources.files(package)
    except ModuleNotFoundError as exc:  # a broken install, not a user's mistake
        raise UsageError(f"ippmd is not installed completely: package {package!r} is missing") from exc
    path = Path(str(root.joinpath(*parts)))
    if not path.exists():
        raise UsageError(
            f"ippmd is not installed completely: {'/'.join(parts)} is missing from {package} ({path})"
        )
    return path


def schemas_dir(*parts: str) -> Path:
    return package_data("ippmd.schemas", *parts)


def countries_dir() -> Path:
    """The ten countries' metadata shipped with the code (countries/<ISO3>/country.yaml)."""
    return package_data("ippmd.countries")


def project_home() -> Path:
    """The user's working folder: $IPPMD_HOME (set by --home), else the current folder."""
    home = env_folder(HOME_ENV) or Path.cwd()
    if not home.is_dir():
        raise UsageError(f"project home {home} is not a folder (set by --home or ${HOME_ENV})")
    return home


def raw_root() -> Path:
    """Where licensed raw submissions live: <home>/countries/<ISO3>/raw/ ($IPPMD_RAW_ROOT overrides)."""
    return env_folder(RAW_ROOT_ENV) or project_home() / "countries"


def shared_dir() -> Path:
    """The shared folder with the original public files: $IPPMD_SHARED, else <home>/../shared,
    else ../shared beside the checkout the code runs from (so a command run from another folder
    still finds the reference files, e.g. the WDI exchange rates that `validate` compares with)."""
    given = env_folder(SHARED_ENV)
    if given is not None:
        return given
    beside_home = project_home().resolve().parent / "shared"
    beside_code = Path(__file__).resolve().parents[1].parent / "shared"  # <checkout>/core/home.py
    return beside_home if beside_home.is_dir() or not beside_code.is_dir() else beside_code
