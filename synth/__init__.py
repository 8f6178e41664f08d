"""Synthetic country submissions, calibrated to published IPPMD figures."""
