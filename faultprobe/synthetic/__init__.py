"""Offline simulator of an earthquake sequence recorded by a network, in real formats.

`SyntheticArchive(cfg)` reads like an ObsPy SDS client (`get_waveforms`), and gives the
simulated `catalog()`, `inventory()` and `truth()`; `records.render_batch` renders records
as arrays; `run.synthesize(cfg)` writes everything (`faultprobe synth CONFIG`).
"""
