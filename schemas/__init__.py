"""The data model as data (package data): Table Schemas, metadata schema, Data Package profiles."""
