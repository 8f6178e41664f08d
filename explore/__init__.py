"""Explore: ask the package questions (stage 5).

- `ippmd.explore.tabulate`: design-based weighted means and shares with standard errors (Taylor
  linearisation with weights, PSUs and strata, as R's `survey`), StatCompiler-style;
- `ippmd.explore.site`: an offline, searchable codebook site (IPUMS-style);
- `ippmd.explore.listing`: the tables and variables an extract can select, for a terminal or a pipe.

Nothing is imported here, so that `ippmd tabulate` loads only what a tabulation needs. Estimates
from the microdata are on SYNTHETIC data.
"""
