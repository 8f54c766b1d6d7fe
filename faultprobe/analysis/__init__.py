"""Experiment grids, spectra of event pairs, figures and the report."""
