"""What training, scoring and applying a model raise for a choice that cannot be used."""

from __future__ import annotations

from faultprobe.errors import InputError


class ModelError(InputError, ValueError):
    """A run cannot be trained, evaluated or applied as asked (the message says why)."""
