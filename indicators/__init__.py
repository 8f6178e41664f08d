"""indicators stage of ippmd: real country-level indicators from the public originals.

Public entry points (the originals stay in ../shared/data/external, never in the repository):

- ``indicators.ingest.ingest(source_dir) -> polars.DataFrame``: every original -> one table
  (schemas/harmonized/country_indicators.json), values tagged with source and vintage.
- ``indicators.ingest.write_indicators(frame, path)``: deterministic CSV, written atomically;
  ``indicators.ingest.COMMITTED_CSV`` is the committed copy.
- ``indicators.figures.figure_1_2`` / ``figure_1_3``: the report figures (CSV, PNG, SVG).
- ``indicators.provenance.sources()`` / ``targets()`` / ``check_originals(source_dir)``.
"""
