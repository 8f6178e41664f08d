"""quality stage of ippmd."""
