"""reporting stage of ippmd: benchmark reports (tables, charts, prose, report.html) built over models."""
