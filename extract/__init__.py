"""Downloads: self-contained extracts of the package (IPUMS-style).

`make_extract` writes one reproducible zip (data in CSV, Parquet, Stata or SPSS, its own
datapackage.json, codebook, licence, notice, manifest and checksums); `list_variables` shows
what can be chosen.
"""

from ippmd.extract.catalog import Variable, list_variables, variable_catalog
from ippmd.extract.formats import FORMATS, FormatName
from ippmd.extract.make import ExtractSummary, make_extract

__all__ = [
    "FORMATS",
    "ExtractSummary",
    "FormatName",
    "Variable",
    "list_variables",
    "make_extract",
    "variable_catalog",
]
