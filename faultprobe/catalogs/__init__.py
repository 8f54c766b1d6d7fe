"""Earthquake catalogs and station metadata: readers, event selection, study tables."""
