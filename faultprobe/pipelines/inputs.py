"""What the blocks of an ingest are built from, besides the plan: the source kind, the
archive root or service, the StationXML (by digest), network aliases and preprocessing.

Each block's ledger marker records the hash of these inputs; a block built from other
inputs is stale and redone, and `changed` says in words which input differs. `RunInfo`
carries what every task of one run shares (the run's id, the inputs' hash, the StationXML).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from faultprobe.config.stages import IngestSettings
from faultprobe.pipelines.plan import INPUTS
from faultprobe.store import STATIONXML, Store


@dataclass(frozen=True)
class RunInfo:
    """What every task of one run shares: its id, the inputs, the StationXML to use."""

    run: str = "local"
    inputs: str = ""
    inventory: str | None = None
    inventory_digest: str | None = None
    refresh: bool = False


def inventory_url(s: IngestSettings) -> str | None:
    """The StationXML the ingest uses: [stations] inventory, else the one saved in the store."""
    if s.inventory:
        return s.inventory
    store = Store(s.store)
    return store.url(STATIONXML) if store.exists(STATIONXML) else None


def digest(url: str | None) -> str | None:
    """A short digest of a file's content (None when there is no file)."""
    if not url:
        return None
    import fsspec

    try:
        with fsspec.open(url, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()[:16]
    except OSError:
        return None


def inputs_of(s: IngestSettings) -> dict:
    """What a block is built from besides the plan: source, archive or service, StationXML,
    preprocessing. A block whose marker records other inputs is stale and redone."""
    w = s.waveforms
    raw = w.model_dump(mode="json")
    out = {k: raw[k] for k in INPUTS}
    if w.source != "sds":
        out["sds_root"] = None
    if w.source != "fdsn":
        out["fdsn"] = None
    else:
        from faultprobe.pipelines.fdsn import base_url

        out["fdsn"] = base_url(w.fdsn)
    if w.source == "synthetic":
        out["synthetic"] = s.synthetic_digest
    out["network_aliases"] = s.network_aliases
    out["stationxml"] = digest(inventory_url(s))
    return out


def _hash(d: dict) -> str:
    return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]


def run_info(s: IngestSettings, run: str = "local", refresh: bool = False) -> RunInfo:
    url = inventory_url(s)
    return RunInfo(run, _hash(inputs_of(s)), url, digest(url), refresh)


def changed(before: dict | None, now: dict) -> str:
    """Which inputs differ, in words."""
    if not before:
        return "inputs not recorded"
    names = {"stationxml": "the StationXML", "sds_root": "the archive root (sds_root)"}
    diff = [k for k in sorted(set(before) | set(now)) if before.get(k) != now.get(k)]
    return ", ".join(names.get(k, k) for k in diff) or "inputs changed"
