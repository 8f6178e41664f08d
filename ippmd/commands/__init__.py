"""The commands of `ippmd`, one module each (after frictionless-py's `console/commands/`).

Each module holds one function whose signature is its command line and whose docstring is its
`--help`; `ippmd.cli` registers them and reports every error they raise. The options several
commands share are declared once in `options`, the console and the outcomes in `output`.
"""
