"""Country metadata (package data): countries/<ISO3>/country.yaml and the target measures."""
