"""Distributed, resumable work that turns the study tables into the waveform cube."""
