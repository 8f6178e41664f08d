"""ippmd: harmonized cross-country data package for the OECD IPPMD surveys.

`ippmd.load(...)` (ippmd.extract.load.load) and `ippmd.scan(...)` (ippmd.extract.scan.scan) are
resolved on first use by the module `__getattr__` below: this root module imports nothing, so
`import ippmd` stays instant and the floors hold (it counts as core; the readers live in the
extract stage).
"""

from collections.abc import Iterable
from importlib import import_module
from typing import Any

__version__ = "0.1.0"

SYNTHETIC_NOTICE = (
    "SYNTHETIC DATA: the IPPMD microdata are not public. These records are generated "
    "deterministically, calibrated to published IPPMD sample shares, with planted "
    "relationships of assumed size. They describe no real household or person; "
    "never cite an estimate from them as a finding about a real country."
)


def synthetic_notice(countries: Iterable[str]) -> str:
    """The one synthetic label of a table or figure: the notice naming its synthetic countries
    (the same string in the descriptor, extracts, Stata/SPSS notes and the loader), in the
    current language (ippmd.core.i18n; English unless a command chose another)."""
    from ippmd.core.i18n import t

    return f"{t('common.synthetic-notice')} {t('common.synthetic-countries', countries=', '.join(countries))}"


_LAZY = {"load": "ippmd.extract.load", "labels_of": "ippmd.extract.load", "scan": "ippmd.extract.scan"}


def __getattr__(name: str) -> Any:
    """Lazy attributes: `ippmd.load`, `ippmd.labels_of` and `ippmd.scan` import the extract stage
    on first use."""
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'ippmd' has no attribute {name!r}")
