"""Core: errors and problem codes, the data model (schemas), the project home, I/O helpers.

Imports no stage: every stage stands on it.
"""
