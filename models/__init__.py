"""models stage of ippmd."""
