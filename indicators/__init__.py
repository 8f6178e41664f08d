"""indicators stage of ippmd."""
