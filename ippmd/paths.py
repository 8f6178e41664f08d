"""Where things live in the repository (the package is used from a checkout)."""

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COUNTRIES_DIR = ROOT / "countries"
SCHEMAS_DIR = ROOT / "schemas"
HARMONIZED_SCHEMAS_DIR = SCHEMAS_DIR / "harmonized"
SUBMISSION_SCHEMAS_DIR = SCHEMAS_DIR / "submission"
PROFILES_DIR = SCHEMAS_DIR / "profiles" / "datapackage-2.0"
PACKAGE_META = SCHEMAS_DIR / "package.yaml"
SHARED_DIR = ROOT.parent / "shared"
# Where licensed raw submissions live (countries/<ISO3>/raw/ by default; git-ignored).
RAW_ROOT = Path(os.environ.get("IPPMD_RAW_ROOT", COUNTRIES_DIR))
