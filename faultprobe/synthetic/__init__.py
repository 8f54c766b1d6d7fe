"""Offline simulator of an earthquake sequence recorded by a network, in real formats."""
