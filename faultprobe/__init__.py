"""faultprobe: fault-zone properties through the seismic cycle, from small-earthquake waveforms."""

__version__ = "0.1.0"
