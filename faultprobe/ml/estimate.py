"""How long a run will take, said before it starts on a machine without CUDA.

The paper's model on 2500-sample windows is minutes per run on a GPU and hours on a
laptop's CPU.  `estimate_run` measures a few training steps of the run's own model on
its own input shape here (same threads) and scales them by the run's events and epochs,
so `faultprobe train` and `faultprobe experiments` can say what they are about to cost,
and what the CPU preset (docs/learning.md) would cost instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from faultprobe.ml.model import FaultNet
from faultprobe.ml.spec import RunSpec
from faultprobe.ml.trainer import resolve_device, use_threads

#: The CPU preset: the narrow model on the demo's short window (docs/learning.md).
CPU_PRESET = {"width": 0.25, "window_s": (-0.5, 5.5)}


@dataclass(frozen=True)
class Estimate:
    """Seconds a run is expected to take, and what they rest on."""

    seconds: float
    step_seconds: float  # one training step (forward + backward) of a batch
    n_train: int
    n_eval: int  # validation events scored every epoch, plus the final scoring
    epochs: int
    n_time: int
    threads: int

    def render(self, what: str = "this run") -> str:
        return f"estimated time for {what} on this CPU ({self.threads} threads): {self.summary()}"

    def summary(self) -> str:
        return (
            f"{_human(self.seconds)} ({self.n_train} training events x {self.epochs} epochs "
            f"at most, {self.n_time}-sample windows, {self.step_seconds:.2f} s per batch "
            f"measured here)"
        )


def _human(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def step_seconds(spec: RunSpec, n_channels: int, n_time: int, probe: int = 8) -> float:
    """Seconds of one training step of the spec's model on a whole batch, on the CPU.

    Measured on a batch of `probe` windows after a warm-up on two, then scaled to the
    run's batch size (the cost of a convolution grows linearly with the batch), so the
    estimate itself takes seconds, not a training step of the full model.
    """
    m = spec.model
    model = FaultNet(spec.labelling.n_classes, n_channels, m.width, m.dilation, m.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=spec.training.lr)
    gen = torch.Generator().manual_seed(0)
    model.train()

    def step(n: int) -> float:
        x = torch.randn(n, n_channels, n_time, generator=gen)
        y = torch.zeros(n, dtype=torch.long)
        t0 = time.perf_counter()
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()
        return time.perf_counter() - t0

    step(2)  # warm-up: allocations, kernel choice
    return step(probe) * spec.training.batch_size / probe


def estimate(spec: RunSpec, n_train: int, n_eval: int, n_time: int) -> Estimate:
    """Expected seconds for `spec` with these event counts and window length."""
    threads = use_threads(spec.training.threads)
    n_channels = 3 * len(spec.stations)
    step = step_seconds(spec, n_channels, n_time)
    b = spec.training.batch_size
    epochs = spec.training.epochs
    # scoring a batch costs about a third of a training step
    per_epoch = np.ceil(n_train / b) * step + np.ceil(n_eval / b) * step / 3
    return Estimate(
        float(per_epoch * epochs + np.ceil(n_eval / b) * step / 3),
        step, n_train, n_eval, epochs, n_time, threads,
    )  # fmt: skip


def estimate_run(store, spec: RunSpec) -> Estimate:
    """The estimate for a run of a store's cube (reads only statuses and event times)."""
    from faultprobe.ml import dataset, splits
    from faultprobe.ml.experiment import select_events

    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)
    n_train = int((sel.split == splits.TRAIN).sum())
    n_eval = int((sel.split >= 0).sum())
    n_time = len(ds["time"].values[dataset.time_slice(ds["time"].values, spec.window_s)])
    return estimate(spec, n_train, n_eval, n_time)


def needs_estimate(device: str) -> bool:
    """True when the run will go to the CPU (no CUDA device, or the CPU asked for)."""
    return resolve_device(device).type == "cpu"


def cpu_advice(spec: RunSpec) -> str:
    """What the CPU preset would change, when the run does not use it already."""
    narrow = spec.model.width <= CPU_PRESET["width"]
    short = spec.window_s is not None and (spec.window_s[1] - spec.window_s[0]) <= 6.0
    if narrow and short:
        return ""
    return (
        "for a CPU, the CPU preset is tens of times faster: [train] width = 0.25 and "
        "window_s = [-0.5, 5.5] (docs/learning.md, 'Running on a CPU')"
    )
