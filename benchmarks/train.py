"""Learning-core speed: training and inference samples/s, and cube → first epoch.

    python benchmarks/train.py [--events 512] [--device auto|cpu|cuda] [--threads N]
    python benchmarks/train.py --flops          # only the models' FLOP counts (no timing)

0. FLOPs per sample of a training step (forward + backward, counted by torch's
   FlopCounterMode on the model itself) and of inference; each throughput below is also
   given as achieved FLOP/s and, on CUDA, as a share of the GPU's peak: the dense bf16/fp16
   tensor peak of the H100 / H200 / A100 from the table below by device name, or
   $FAULTPROBE_GPU_PEAK_TFLOPS (dense TFLOP/s at the precision used) for another GPU.

1. Samples per second of training (forward, backward, Adam step; batch 32) and of
   inference (batch 256) for the paper's full-size CNN and the narrow one (width 0.25),
   on 3 × 2500-sample inputs, and for the CPU preset (narrow, 600-sample window), on the
   chosen device (mixed precision on CUDA); the preset's speed-up as a ratio.
2. Time from the cube to the end of the first epoch, the faultprobe way (events, labels
   and split from coordinates; the station's slice read in one pass; vectorised
   normalisation; confusion matrix by one bincount) against the naive way (per-trace reads
   into a DataFrame of per-trace lists, converted to arrays row by row, normalised in a
   loop, and a Python loop building the confusion matrix per batch), as a ratio, in the
   same run on the same toy cube (the simulator's records, P at 0 s, -5 … 20 s).
"""

from __future__ import annotations

import argparse
import tempfile
import time

import numpy as np
import pandas as pd
import torch

from faultprobe.ml import dataset, metrics
from faultprobe.ml.experiment import _inputs, select_events
from faultprobe.ml.model import FaultNet, n_parameters
from faultprobe.ml.spec import Labelling, Model, RunSpec, Training
from faultprobe.ml.trainer import _autocast, resolve_device, resolve_precision
from faultprobe.testing.toycube import ToyStudy, write_toy_store

MAIN = "2016-10-30T06:40:17Z"
#: Dense (no sparsity) peak TFLOP/s by precision, from NVIDIA's data sheets (SXM parts;
#: PCIe/NVL parts are lower: set FAULTPROBE_GPU_PEAK_TFLOPS for those).
GPU_PEAK_TFLOPS = {
    "H200": {"bf16": 989.0, "fp16": 989.0, "tf32": 494.0, "fp32": 67.0},
    "H100": {"bf16": 989.0, "fp16": 989.0, "tf32": 494.0, "fp32": 67.0},
    "A100": {"bf16": 312.0, "fp16": 312.0, "tf32": 156.0, "fp32": 19.5},
}
PEAK_ENV = "FAULTPROBE_GPU_PEAK_TFLOPS"


def model_flops(width: float, length: int, n_classes: int = 2) -> dict:
    """FLOPs per sample: a training step (forward + backward) and an inference pass, as
    torch counts them (convolutions and the head; norms and pools are a small extra)."""
    from torch.utils.flop_counter import FlopCounterMode

    m = FaultNet(n_classes, 3, width=width)
    x = torch.randn(4, 3, length)
    with FlopCounterMode(display=False) as fc:
        m(x).sum().backward()
    train = fc.get_total_flops() / 4
    m.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        m(x)
    return {"train": train, "infer": fc.get_total_flops() / 4}


def gpu_peak(device: torch.device, amp) -> tuple[float | None, str]:
    """Peak FLOP/s of the device at the precision used, and where the figure comes from."""
    import os

    if os.environ.get(PEAK_ENV):
        return float(os.environ[PEAK_ENV]) * 1e12, f"${PEAK_ENV}"
    if device.type != "cuda":
        return None, "no peak for a CPU"
    name = torch.cuda.get_device_name(device)
    prec = {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(amp, "fp32")
    if prec == "fp32" and torch.backends.cuda.matmul.allow_tf32:
        prec = "tf32"
    for key, table in GPU_PEAK_TFLOPS.items():
        if key in name:
            return table[prec] * 1e12, f"{key} dense {prec} peak {table[prec]:.0f} TFLOP/s"
    return None, f"{name}: not in the peak table (set ${PEAK_ENV})"


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def throughput(width: float, device: torch.device, amp, length: int, train_steps: int) -> dict:
    """Training and inference samples/s of one model size on random inputs."""
    torch.manual_seed(0)
    m = FaultNet(2, 3, width=width).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-3)
    scaler = torch.amp.GradScaler("cuda", enabled=amp == torch.float16)
    x = torch.randn(32, 3, length, device=device)
    y = torch.randint(0, 2, (32,), device=device)

    def step() -> None:
        with _autocast(device, amp):
            loss = torch.nn.functional.cross_entropy(m(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()

    m.train()
    step()
    _sync(device)
    t = time.perf_counter()
    for _ in range(train_steps):
        step()
    _sync(device)
    train = 32 * train_steps / (time.perf_counter() - t)
    m.eval()
    xi = torch.randn(256, 3, length, device=device)
    with torch.no_grad(), _autocast(device, amp):
        m(xi)
        _sync(device)
        t = time.perf_counter()
        reps = max(1, train_steps // 2)
        for _ in range(reps):
            m(xi)
        _sync(device)
    infer = 256 * reps / (time.perf_counter() - t)
    return {"params": n_parameters(m), "train_sps": train, "infer_sps": infer}


def _one_epoch(x: np.ndarray, y: np.ndarray, device, amp, naive_confusion: bool) -> np.ndarray:
    torch.manual_seed(0)
    m = FaultNet(2, x.shape[1], width=0.25).to(device)
    opt = torch.optim.Adam(m.parameters(), lr=1e-3, weight_decay=1e-3)
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y).to(device)
    cm = np.zeros((2, 2), dtype=np.int64)
    perm = torch.randperm(len(xt), generator=torch.Generator().manual_seed(0)).to(device)
    for i in range(0, len(xt), 32):
        b = perm[i : i + 32]
        with _autocast(device, amp):
            logits = m(xt[b]).float()
        loss = torch.nn.functional.cross_entropy(logits, yt[b])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        pred = logits.argmax(1).cpu().numpy()
        true = yt[b].cpu().numpy()
        if naive_confusion:
            for t_, p_ in zip(true.tolist(), pred.tolist()):
                cm[t_][p_] += 1
        else:
            cm += metrics.confusion_matrix(true, pred, 2)
    return cm


def fast_path(store, spec: RunSpec, device, amp) -> tuple[dict, np.ndarray]:
    t0 = time.perf_counter()
    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)
    train = np.flatnonzero(sel.split == 0)
    x = _inputs(ds, spec, train)
    t1 = time.perf_counter()
    cm = _one_epoch(x, sel.labels[train], device, amp, naive_confusion=False)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "epoch_s": t2 - t1, "total_s": t2 - t0}, cm


def naive_path(store, spec: RunSpec, device, amp) -> tuple[dict, np.ndarray]:
    t0 = time.perf_counter()
    ds = dataset.open_cube(store)
    sel = select_events(ds, spec)  # same events, labels and split as the fast path
    train = np.flatnonzero(sel.split == 0)
    sta = dataset.station_positions(ds, spec.stations)[0]
    rows = []
    for i in train:  # one trace at a time, as lists
        tr = ds["waveform"].isel(event=int(i), station=sta).values
        rows.append({"event": i, "E": tr[0].tolist(), "N": tr[1].tolist(), "Z": tr[2].tolist()})
    df = pd.DataFrame(rows)
    x = []
    for _, r in df.iterrows():  # per-row conversion and normalisation
        tr = np.array([r["E"], r["N"], r["Z"]], dtype=np.float32)
        for c in range(3):
            tr[c] = tr[c] - tr[c].mean()
            peak = np.abs(tr[c]).max()
            tr[c] = tr[c] / peak if peak > 0 else tr[c]
        x.append(tr)
    x = np.stack(x)
    t1 = time.perf_counter()
    cm = _one_epoch(x, sel.labels[train], device, amp, naive_confusion=True)
    t2 = time.perf_counter()
    return {"load_s": t1 - t0, "epoch_s": t2 - t1, "total_s": t2 - t0}, cm


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=512)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    ap.add_argument("--steps", type=int, default=0, help="training steps timed per model")
    ap.add_argument("--flops", action="store_true", help="print the FLOP counts and stop")
    ap.add_argument("--no-cube", action="store_true", help="skip part 2 (cube -> epoch)")
    args = ap.parse_args()
    models = (
        ("paper (width 1, 2500 samples)", 1.0, 2500),
        ("narrow (width 0.25, 2500)", 0.25, 2500),
        ("CPU preset (0.25, 600)", 0.25, 600),
    )
    flops = {name: model_flops(w, n) for name, w, n in models}
    print("0. FLOPs per sample (torch's FlopCounterMode)")
    for name, f in flops.items():
        print(f"  {name:<30} train step {f['train'] / 1e9:7.3f} GFLOP  inference "
              f"{f['infer'] / 1e9:7.3f} GFLOP")  # fmt: skip
    if args.flops:
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    amp = resolve_precision("auto", device)
    steps = args.steps or (3 if device.type == "cpu" else 50)
    print(
        f"device {device} ({'fp32' if amp is None else amp}), torch threads "
        f"{torch.get_num_threads()}, torch {torch.__version__}"
    )
    peak, peak_from = gpu_peak(device, amp)
    print(f"\n1. throughput (batch 32 train, 256 inference); peak: {peak_from}")
    rates = {}
    for name, width, length in models:
        r = throughput(width, device, amp, length, steps if width == 1.0 else 3 * steps)
        rates[name] = r["train_sps"]
        achieved = r["train_sps"] * flops[name]["train"]
        share = f", {achieved / peak:.1%} of peak" if peak else ""
        print(
            f"  {name:<30} {r['params']:>8} params  train {r['train_sps']:8.1f} samples/s "
            f"({achieved / 1e12:.2f} TFLOP/s{share})  inference {r['infer_sps']:8.1f} samples/s"
        )
    paper, preset = rates["paper (width 1, 2500 samples)"], rates["CPU preset (0.25, 600)"]
    print(f"  CPU preset / paper model, training samples/s: x{preset / paper:.1f}")
    print(f"RESULT paper_train_sps={paper:.1f}")
    if args.no_cube:
        return
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        study = ToyStudy(n_events=args.events, window_s=(-5.0, 20.0), dtstar_jump=0.05)
        store = write_toy_store(tmp, study)
        print(
            f"\n2. cube -> first epoch (narrow model): {args.events} events x 2 stations x "
            f"3 x 2500 toy cube written in {time.perf_counter() - t:.1f} s"
        )
        spec = RunSpec(
            stations=("NRCA",),
            labelling=Labelling(kind="binary", mainshock=MAIN),
            model=Model(width=0.25),
            training=Training(device=args.device),
        )
        fast, cm_fast = fast_path(store, spec, device, amp)
        naive, cm_naive = naive_path(store, spec, device, amp)
    assert cm_fast.sum() == cm_naive.sum(), "both paths must train on the same events"
    for name, r in (("faultprobe", fast), ("naive", naive)):
        print(
            f"  {name:<11} load {r['load_s']:7.2f} s   epoch {r['epoch_s']:7.2f} s   "
            f"total {r['total_s']:7.2f} s"
        )
    print(
        f"  ratio naive/faultprobe: loading x{naive['load_s'] / fast['load_s']:.1f}, "
        f"cube to first epoch x{naive['total_s'] / fast['total_s']:.2f}"
    )


if __name__ == "__main__":
    main()
