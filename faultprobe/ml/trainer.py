"""Training loop: Adam, cross-entropy, best epoch by validation loss, early stopping.

The same code runs on CPU (fp32) and CUDA (bf16 or fp16 autocast, data kept on the GPU
when it fits).  Every epoch's shuffling and dropout draw from generators of the run's own,
seeded by (seed, epoch), never from torch's global generator: a run resumed from its
checkpoint ends exactly where an uninterrupted one does, and runs on two threads of one
process do not disturb each other.  Checkpoints are plain tensors and numbers, loaded with
`weights_only=True`.
"""

from __future__ import annotations

import io
import logging
import math
import os
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from faultprobe import progress
from faultprobe.ml.errors import ModelError
from faultprobe.ml.spec import Training

log = logging.getLogger(__name__)


def resolve_device(device: str) -> torch.device:
    """`auto` is CUDA when present, else CPU; asking for CUDA without one is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ModelError("device 'cuda' asked for, but torch sees no CUDA GPU")
    return torch.device(device)


THREADS_ENV = "FAULTPROBE_TORCH_THREADS"


def resolve_threads(threads: int) -> int:
    """Torch threads for a run: `threads` when > 0, else $FAULTPROBE_TORCH_THREADS, else one
    per task slot on a Dask worker (its other slots run other runs), else all the cores."""
    if threads > 0:
        return threads
    env = os.environ.get(THREADS_ENV, "").strip()
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ModelError(f"{THREADS_ENV}={env!r}: give a whole number of threads >= 1")
        return int(env)
    try:
        from distributed import get_worker

        get_worker()
        return 1
    except (ImportError, ValueError):
        return os.cpu_count() or 1


def use_threads(threads: int) -> int:
    """Set torch's intra-op threads for the calling thread's work; returns the count.

    Torch's OpenMP pool takes the count per calling thread, so concurrent runs that ask
    for the same count (runs of one config do) each get exactly that."""
    n = resolve_threads(threads)
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    return n


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32 (always on CPU)."""
    if device.type != "cuda" or precision == "fp32":
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def to_device(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """The whole array on the device when it fits in half the free memory, else on CPU."""
    t = torch.from_numpy(np.ascontiguousarray(x))
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        if t.numel() * t.element_size() < free // 2:
            return t.to(device)
        return t.pin_memory()
    return t


def _autocast(device: torch.device, amp: torch.dtype | None):
    """Mixed-precision context on CUDA; nothing on CPU (plain fp32)."""
    return torch.autocast(device.type, dtype=amp) if amp is not None else nullcontext()


def _batches(n: int, batch_size: int, perm: torch.Tensor | None) -> list[torch.Tensor]:
    """Index batches covering all n items; a lone last item joins the previous batch."""
    idx = perm if perm is not None else torch.arange(n)
    cuts = list(range(0, n, batch_size))
    if len(cuts) > 1 and n - cuts[-1] == 1:
        cuts.pop()
    return [idx[a:b] for a, b in zip(cuts, [*cuts[1:], n])]


def _seed_dropout(model: nn.Module, device: torch.device, seed: int) -> None:
    """Give every seeded dropout layer a generator on the model's device for this epoch."""
    for m in model.modules():
        if hasattr(m, "generator"):
            m.generator = torch.Generator(device=device).manual_seed(seed)


@dataclass
class FitResult:
    """What training produced: per-epoch history and the best epoch's weights."""

    history: list[dict[str, float]]
    best_epoch: int
    best_state: dict[str, torch.Tensor]
    device: str
    precision: str
    seconds: float
    stopped_early: bool = False
    resumed_from: int | None = None


@torch.no_grad()
def predict(
    model: nn.Module,
    x: torch.Tensor | np.ndarray,
    batch_size: int = 256,
    device: torch.device | None = None,
    amp: torch.dtype | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Class probabilities and logits for every row of x (no row dropped by batching)."""
    device = device or next(model.parameters()).device
    if hasattr(x, "buffers"):  # streamed from the cube (faultprobe.ml.stream): in cube order
        parts = [predict(model, xb, batch_size, device, amp) for xb, _ in x.buffers()]
        if parts:
            return np.concatenate([p for p, _ in parts]), np.concatenate([g for _, g in parts])
        x = np.zeros((0, x.n_channels, x.n_time), np.float32)
    x = torch.as_tensor(x)
    model.eval()
    out = []
    for b in _batches(len(x), batch_size, None):
        xb = x[b].to(device, non_blocking=True)
        with _autocast(device, amp):
            out.append(model(xb).float())
    logits = torch.cat(out) if out else torch.zeros((0, model.head.out_features))
    return torch.softmax(logits, dim=1).cpu().numpy(), logits.cpu().numpy()


def _mean_loss(model, x, y, batch_size, device, amp) -> tuple[float, float]:
    _, logits = predict(model, x, batch_size, device, amp)
    lt = torch.from_numpy(logits)
    yt = torch.as_tensor(y).cpu()
    loss = nn.functional.cross_entropy(lt, yt).item() if len(lt) else float("nan")
    acc = float((lt.argmax(1) == yt).float().mean()) if len(lt) else float("nan")
    return loss, acc


def _on_device(x, device: torch.device):
    """An array on the device (see `to_device`); a streamed split stays where it is."""
    return x if hasattr(x, "epoch_batches") else to_device(x, device)


def _epoch(xt, yt: torch.Tensor, batch_size: int, g: torch.Generator):
    """One epoch's (x, y) batches and their count: a permutation of the rows drawn from
    `g`; a streamed split (faultprobe.ml.stream) shuffles its chunks and buffers itself."""
    if hasattr(xt, "epoch_batches"):
        return xt.epoch_batches(g, batch_size), xt.n_batches(batch_size)
    perm = torch.randperm(len(xt), generator=g)
    idx = [b.to(xt.device) for b in _batches(len(xt), batch_size, perm)]
    return ((xt[b], yt[b]) for b in idx), len(idx)


def _state_copy(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}


def fit(
    model: nn.Module,
    x_train: np.ndarray,
    y_train: np.ndarray,
    x_val: np.ndarray,
    y_val: np.ndarray,
    opts: Training,
    seed: int,
    *,
    save_checkpoint: Callable[[bytes], None] | None = None,
    checkpoint: bytes | None = None,
) -> FitResult:
    """Train `model` and return its history and best weights (by validation loss).

    `x_train` and `x_val` are arrays, or splits streamed from the cube
    (`faultprobe.ml.stream.CubeSplit`, for slices above the memory budget).

    `save_checkpoint(blob)` is called after every epoch with the state needed to resume;
    pass that blob back as `checkpoint` to continue an interrupted run. Each epoch logs one
    line (info) and, where bars are shown (`faultprobe.progress`), draws one.
    """
    t0 = time.perf_counter()
    device = resolve_device(opts.device)
    amp = resolve_precision(opts.precision, device)
    if device.type == "cuda":
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    model.to(device)
    xt, xv = _on_device(x_train, device), _on_device(x_val, device)
    yt = torch.as_tensor(y_train, dtype=torch.long).to(getattr(xt, "device", "cpu"))
    yv = torch.as_tensor(y_val, dtype=torch.long)
    opt = torch.optim.Adam(model.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state = math.inf, -1, _state_copy(model)
    start, resumed = 0, None
    if checkpoint is not None:
        ck = torch.load(io.BytesIO(checkpoint), map_location=device, weights_only=True)
        model.load_state_dict(ck["model"])
        opt.load_state_dict(ck["optimizer"])
        if "scaler" in ck:
            scaler.load_state_dict(ck["scaler"])
        history, best_loss, best_epoch = ck["history"], ck["best_loss"], ck["best_epoch"]
        best_state = {k: v.cpu() for k, v in ck["best_state"].items()}
        start = resumed = ck["epoch"] + 1
    stopped = False
    for epoch in range(start, opts.epochs):
        if opts.patience and best_epoch >= 0 and epoch - best_epoch > opts.patience:
            stopped = True
            break
        g = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
        batches, n_batches = _epoch(xt, yt, opts.batch_size, g)
        _seed_dropout(model, device, seed * 7919 + epoch)
        model.train()
        total, seen = torch.zeros((), device=device), 0
        bar = progress.bar(
            batches,
            total=n_batches,
            desc=f"epoch {epoch + 1}/{opts.epochs}",
            leave=False,
            unit="batch",
        )
        shown = progress.shown()
        for i, (xb, yb) in enumerate(bar):
            xb = xb.to(device, non_blocking=True)
            yb = yb.to(device, non_blocking=True)
            with _autocast(device, amp):
                loss = nn.functional.cross_entropy(model(xb).float(), yb)
            opt.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(opt)
            scaler.update()
            total += loss.detach() * len(yb)
            seen += len(yb)
            if shown and i % 10 == 0:  # .item() waits for the GPU: not every batch
                bar.set_postfix(loss=f"{total.item() / seen:.4f}")
        total = total.item()
        val_loss, val_acc = _mean_loss(model, xv, yv, 256, device, amp)
        history.append(
            {
                "epoch": epoch,
                "train_loss": total / max(seen, 1),
                "val_loss": val_loss,
                "val_acc": val_acc,
            }
        )
        if val_loss < best_loss:
            best_loss, best_epoch, best_state = val_loss, epoch, _state_copy(model)
        log.info(
            f"epoch {epoch + 1}: train loss {total / max(seen, 1):.4f}  "
            f"val loss {val_loss:.4f}  val acc {val_acc:.3f}"
            + ("  *" if best_epoch == epoch else "")
        )
        if save_checkpoint is not None:
            save_checkpoint(
                _checkpoint_blob(
                    model, opt, scaler, history, best_loss, best_epoch, best_state, epoch
                )
            )
    model.load_state_dict(best_state)
    return FitResult(
        history=history,
        best_epoch=best_epoch,
        best_state=best_state,
        device=str(device),
        precision=str(amp).replace("torch.", "") if amp else "fp32",
        seconds=time.perf_counter() - t0,
        stopped_early=stopped,
        resumed_from=resumed,
    )


def _checkpoint_blob(
    model, opt, scaler, history, best_loss, best_epoch, best_state, epoch
) -> bytes:
    buf = io.BytesIO()
    ck = {
        "model": _state_copy(model),
        "optimizer": opt.state_dict(),
        "history": history,
        "best_loss": best_loss,
        "best_epoch": best_epoch,
        "best_state": best_state,
        "epoch": epoch,
    }
    if scaler.is_enabled():
        ck["scaler"] = scaler.state_dict()
    torch.save(ck, buf)
    return buf.getvalue()
