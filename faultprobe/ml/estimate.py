"""How long a run will take, said before it starts on a machine without CUDA.

The paper's model on 2500-sample windows is minutes per run on a GPU and hours on a
laptop's CPU.  `measure_cost` times a few training steps and a forward pass of a run's
own model on its own input shape, and `run_seconds` scales them by the run's events and
epochs: `faultprobe train` does it here (`estimate_run`), `faultprobe experiments` on the
workers (faultprobe.analysis.estimate), and both can say what the CPU preset
(docs/learning.md) would cost instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from faultprobe.ml.spec import RunSpec

if TYPE_CHECKING:  # torch is imported where a model is timed, not to format a duration
    import torch

#: The CPU preset: the narrow model on the demo's short window (docs/learning.md).
CPU_PRESET = {"width": 0.25, "window_s": (-0.5, 5.5)}


@dataclass(frozen=True)
class Cost:
    """What one model shape costs on one device, measured there."""

    step_s: float  # one training step (forward, backward, Adam) of a full batch
    predict_s: float  # a forward pass in eval mode, per event
    step_range_s: tuple[float, float] | None = None  # fastest and slowest step measured


def measure_cost(
    spec: RunSpec,
    n_channels: int,
    n_time: int,
    device: torch.device | str = "cpu",
    probe: int | None = None,
    steps: int = 1,
) -> Cost:
    """Time `steps` training steps and a forward pass of the spec's model on random inputs.

    On a batch of `probe` windows (default: the run's batch size) after one warm-up step,
    scaled to the run's batch size (a convolution's cost grows linearly with the batch),
    so a CPU estimate takes seconds, not a full-batch step of the paper's model.  Both
    `faultprobe train`'s estimate and the grid's calibration on the workers use this.
    """
    import torch

    from faultprobe.ml.model import FaultNet

    device = torch.device(device)
    m = spec.model
    gen = torch.Generator().manual_seed(0)
    model = FaultNet(
        spec.labelling.n_classes, n_channels, m.width, m.dilation, m.dropout, generator=gen
    ).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=spec.training.lr)
    n = min(probe or spec.training.batch_size, spec.training.batch_size)
    x = torch.randn(n, n_channels, n_time, generator=gen).to(device)
    y = torch.randint(0, spec.labelling.n_classes, (n,), generator=gen).to(device)

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    model.train()
    step()  # warm-up: allocations, kernel choice
    sync()
    scale = spec.training.batch_size / n
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        sync()
        times.append((time.perf_counter() - t0) * scale)
    step_s = float(np.mean(times))
    model.eval()
    with torch.no_grad():
        t0 = time.perf_counter()
        model(x)
        sync()
        predict_s = (time.perf_counter() - t0) / n
    return Cost(step_s, predict_s, (min(times), max(times)))


def run_seconds(cost: Cost, spec: RunSpec, n_train: int, n_val: int, n_used: int) -> float:
    """Epochs x (training steps + validation) + scoring every used event.  The configured
    epochs count in full, so early stopping only makes a run shorter than this."""
    steps = np.ceil(n_train / spec.training.batch_size)
    per_epoch = steps * cost.step_s + n_val * cost.predict_s
    return float(spec.training.epochs * per_epoch + n_used * cost.predict_s)


def human_duration(seconds: float) -> str:
    """Seconds as a person reads them: "42 s", "17 min", "3.1 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


@dataclass(frozen=True)
class Estimate:
    """Seconds a run is expected to take, and what they rest on."""

    seconds: float
    step_seconds: float  # one training step (forward + backward) of a batch
    n_train: int
    n_eval: int  # validation and test events scored
    epochs: int
    n_time: int
    threads: int

    def render(self, what: str = "this run") -> str:
        return f"estimated time for {what} on this CPU ({self.threads} threads): {self.summary()}"

    def summary(self) -> str:
        return (
            f"{human_duration(self.seconds)} ({self.n_train} training events x {self.epochs} "
            f"epochs at most, {self.n_time}-sample windows, {self.step_seconds:.2f} s per batch "
            f"measured here)"
        )


def estimate(spec: RunSpec, n_train: int, n_val: int, n_test: int, n_time: int) -> Estimate:
    """Expected seconds for `spec` with these event counts and window length, on this CPU."""
    from faultprobe.ml.trainer import use_threads

    threads = use_threads(spec.training.threads)
    cost = measure_cost(spec, 3 * len(spec.stations), n_time, probe=8)
    seconds = run_seconds(cost, spec, n_train, n_val, n_train + n_val + n_test)
    return Estimate(
        seconds, cost.step_s, n_train, n_val + n_test, spec.training.epochs, n_time, threads
    )


def estimate_run(store, spec: RunSpec) -> Estimate:
    """The estimate for a run of a store's cube (reads only statuses and event times)."""
    from faultprobe.ml import dataset, splits
    from faultprobe.ml.experiment import select_events

    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)
    n = np.bincount(sel.split[sel.split >= 0], minlength=3)
    n_time = len(ds["time"].values[dataset.time_slice(ds["time"].values, spec.window_s)])
    return estimate(spec, int(n[splits.TRAIN]), int(n[splits.VAL]), int(n[splits.TEST]), n_time)


def needs_estimate(device: str) -> bool:
    """True when the run will go to the CPU (no CUDA device, or the CPU asked for)."""
    from faultprobe.ml.trainer import resolve_device

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
