"""Stage: write the harmonized tables as a Frictionless data package (CSV, Parquet, descriptor, codebook)."""
