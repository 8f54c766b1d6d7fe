"""Run folders: STORE/runs/RUN_ID/ with spec.json, metrics.json, predictions.parquet,
confusion.parquet, composition.parquet, model.safetensors (and checkpoint.pt while
training).  Weights are safetensors; the checkpoint is loaded weights-only."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

import pandas as pd
import torch
from safetensors import SafetensorError
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from faultprobe.ml.model import FaultNet
from faultprobe.ml.spec import RunSpec
from faultprobe.store import Store, StoreError

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
        self.store.write_bytes(blob, self.part(name))

    def read_bytes(self, name: str) -> bytes:
        with self.store.fs.open(self.store.path(self.part(name)), "rb") as f:
            return f.read()

    def write_json(self, obj: dict, name: str) -> None:
        text = json.dumps(obj, indent=1, sort_keys=False, default=str, allow_nan=True)
        self.write_bytes(text.encode(), name)

    def read_json(self, name: str) -> dict:
        """A JSON file of the run; an empty or cut one is a `StoreError` naming it."""
        with self._readable(name):
            obj = json.loads(self.read_bytes(name))
            if not isinstance(obj, dict):
                raise ValueError(f"a JSON object was expected, not {type(obj).__name__}")
            return obj

    def classes(self) -> list[str]:
        """The run's class names, from metrics.json."""
        with self._readable(METRICS):
            return [str(c) for c in self.read_json(METRICS)["test"]["classes"]]

    @contextlib.contextmanager
    def _readable(self, name: str) -> Iterator[None]:
        """Turn a damaged run file (empty, cut, of another kind) into one line naming it."""
        try:
            yield
        except (SafetensorError, ValueError, KeyError, TypeError, RuntimeError) as err:
            first = (str(err).splitlines() or [""])[0].strip() or type(err).__name__
            where = self.store.url(RUNS, self.run_id)
            raise StoreError(
                f"{self.store.url(self.part(name))} is damaged ({first}); the run cannot be "
                f"used: delete {where} and run `faultprobe train` again with the same options "
                "to rebuild it"
            ) from None

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
        with self._readable(WEIGHTS):
            meta = _metadata_from_bytes(blob)
            model = FaultNet(**{k: json.loads(v) for k, v in meta.items()})
            model.load_state_dict(st_load(blob))
        return model.to(device).eval()

    def spec(self) -> RunSpec:
        """The run's spec; a damaged spec.json is a `StoreError` naming it."""
        with self._readable(SPEC):
            return RunSpec.from_json(self.read_bytes(SPEC).decode())


def _metadata_from_bytes(blob: bytes) -> dict[str, str]:
    """The `__metadata__` of a safetensors blob (its JSON header)."""
    n = int.from_bytes(blob[:8], "little")
    if len(blob) < 8 or n > len(blob) - 8:
        raise ValueError(f"cut short: {len(blob)} bytes")
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
