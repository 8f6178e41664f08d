"""ippmd: harmonized cross-country data package for the OECD IPPMD surveys."""

__version__ = "0.1.0"

SYNTHETIC_NOTICE = (
    "SYNTHETIC DATA: the IPPMD microdata are not public. These records are generated "
    "deterministically, calibrated to published IPPMD sample shares, with planted "
    "relationships of assumed size. They describe no real household or person; "
    "never cite an estimate from them as a finding about a real country."
)
