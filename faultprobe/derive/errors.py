"""The two ways deriving a study fails: the inputs (exit 2) or a web service (exit 3)."""

from __future__ import annotations

from faultprobe.config import ConfigError
from faultprobe.errors import ServiceFailure


class DeriveError(ConfigError):
    """Inputs a study cannot be derived from; the message names what is missing and what to do."""


class ServiceError(ServiceFailure, RuntimeError):
    """An FDSN event or station service that could not be used."""
