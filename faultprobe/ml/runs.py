"""Run folders: STORE/runs/RUN_ID/ with spec.json, metrics.json, predictions.parquet,
confusion.parquet, composition.parquet, model.safetensors (and checkpoint.pt while
training).  Weights are safetensors; the checkpoint is loaded weights-only."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pandas as pd
import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from faultprobe.ml.model import FaultNet
from faultprobe.ml.spec import RunSpec
from faultprobe.store import Store

RUNS = "runs"
SPEC, METRICS, PREDICTIONS = "spec.json", "metrics.json", "predictions.parquet"
CONFUSION, COMPOSITION = "confusion.parquet", "composition.parquet"
WEIGHTS, CHECKPOINT = "model.safetensors", "checkpoint.pt"


@dataclass(frozen=True)
class RunFolder:
    """One run's folder inside a store."""

    store: Store
    run_id: str

    def part(self, name: str) -> str:
        return f"{RUNS}/{self.run_id}/{name}"

    def exists(self, name: str = METRICS) -> bool:
        return self.store.exists(self.part(name))

    def write_bytes(self, blob: bytes, name: str) -> None:
        self.store.makedirs(RUNS, self.run_id)
        target = self.store.path(self.part(name))
        with self.store.fs.open(target + ".tmp", "wb") as f:
            f.write(blob)
        self.store.fs.mv(target + ".tmp", target)

    def read_bytes(self, name: str) -> bytes:
        with self.store.fs.open(self.store.path(self.part(name)), "rb") as f:
            return f.read()

    def write_json(self, obj: dict, name: str) -> None:
        text = json.dumps(obj, indent=1, sort_keys=False, default=str, allow_nan=True)
        self.write_bytes(text.encode(), name)

    def read_json(self, name: str) -> dict:
        return json.loads(self.read_bytes(name))

    def write_table(self, df: pd.DataFrame, name: str) -> None:
        self.store.makedirs(RUNS, self.run_id)
        self.store.write_table(df, self.part(name))

    def read_table(self, name: str) -> pd.DataFrame:
        return self.store.read_table(self.part(name))

    def remove(self, name: str) -> None:
        if self.exists(name):
            self.store.fs.rm(self.store.path(self.part(name)))

    # weights -------------------------------------------------------------------------
    def save_model(self, model: FaultNet) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        meta = {k: json.dumps(v) for k, v in model.config.items()}
        self.write_bytes(st_save(state, metadata=meta), WEIGHTS)

    def load_model(self, device: str | torch.device = "cpu") -> FaultNet:
        """The trained network, weights from safetensors (no pickle involved)."""
        blob = self.read_bytes(WEIGHTS)
        meta = _metadata_from_bytes(blob)
        model = FaultNet(**{k: json.loads(v) for k, v in meta.items()})
        model.load_state_dict(st_load(blob))
        return model.to(device).eval()

    def spec(self) -> RunSpec:
        return RunSpec.from_json(self.read_bytes(SPEC).decode())


def _metadata_from_bytes(blob: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors blob (its JSON header)."""
    n = int.from_bytes(blob[:8], "little")
    return json.loads(blob[8 : 8 + n]).get("__metadata__", {})


def run_folder_from_path(path: str) -> RunFolder:
    """A run folder given as STORE/runs/RUN_ID (local path or URL)."""
    path = path.rstrip("/")
    head, run_id = path.rsplit("/", 1)
    root, runs = head.rsplit("/", 1)
    if runs != RUNS:
        raise FileNotFoundError(f"{path} is not a run folder (expected STORE/runs/RUN_ID)")
    folder = RunFolder(Store(root), run_id)
    if not folder.exists(WEIGHTS):
        raise FileNotFoundError(f"{path}/{WEIGHTS} does not exist (the run did not finish)")
    return folder
