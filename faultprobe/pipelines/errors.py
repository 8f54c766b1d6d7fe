"""What an ingest raises when the store cannot be built as asked (one line each)."""

from __future__ import annotations

from faultprobe.errors import InputError, ServiceFailure


class IngestError(InputError, ValueError):
    """The store cannot be ingested as asked (the message says why and what to do)."""


class ServiceUnavailable(ServiceFailure, IngestError):
    """The waveform service cannot be used now (down, unreachable, refusing)."""
