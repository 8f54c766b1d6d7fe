"""The CNN's architecture, the trainer's determinism and resume, weights round trip."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
from safetensors.torch import load as st_load
from torch import nn

from faultprobe.ml.model import FaultNet, n_parameters
from faultprobe.ml.runs import RunFolder
from faultprobe.ml.spec import Training
from faultprobe.ml.trainer import _batches, fit, predict
from faultprobe.store import Store


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Small models train faster on one thread (and do not fight other processes)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_architecture_matches_the_paper():
    m = FaultNet(2)
    convs = [x for x in m.modules() if isinstance(x, nn.Conv1d)]
    assert [c.out_channels for c in convs] == [32, 64, 64, 64, 128, 256, 256]
    assert [c.kernel_size[0] for c in convs] == [7, 7, 5, 5, 5, 3, 3]
    assert [c.stride[0] for c in convs] == [1, 2, 1, 1, 1, 1, 1]
    dil = [c.dilation[0] for c in convs]
    assert dil[:2] == [1, 1] and all(b > a for a, b in zip(dil[2:], dil[3:])) and dil[2] > 1
    pools = [x for x in m.modules() if isinstance(x, nn.MaxPool1d)]
    assert len(pools) == 7 and all(p.kernel_size == 3 and p.stride == 1 for p in pools)
    assert len([x for x in m.modules() if isinstance(x, nn.BatchNorm1d)]) == 7
    assert m.dropout.p == 0.2 and m.head.in_features == 256
    # order inside a block: Conv, BatchNorm, MaxPool, ReLU
    kinds = [type(x).__name__ for x in list(m.features)[:4]]
    assert kinds == ["Conv1d", "BatchNorm1d", "MaxPool1d", "ReLU"]


@pytest.mark.parametrize("length", [64, 401, 2500])
def test_any_input_length_and_width(length):
    m = FaultNet(9, in_channels=6, width=0.25, dilation=2).eval()
    out = m(torch.randn(3, 6, length))
    assert out.shape == (3, 9)
    assert n_parameters(m) < n_parameters(FaultNet(9, in_channels=6))


def test_no_dilation_option():
    m = FaultNet(2, dilation=1)
    assert all(c.dilation[0] == 1 for c in m.modules() if isinstance(c, nn.Conv1d))


def test_batches_cover_every_item_without_a_lone_last_one():
    for n in (1, 31, 32, 33, 65, 100):
        b = _batches(n, 32, None)
        got = torch.cat(b).tolist()
        assert got == list(range(n))
        assert n == 1 or all(len(x) > 1 for x in b)


def _toy(n=96, length=80, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.standard_normal((n, 3, length)).astype(np.float32)
    x[y == 1, :, 20:40] += 2.0  # a learnable difference
    return x, y


OPTS = Training(epochs=3, batch_size=16, patience=0, device="cpu")


def _fit(x, y, seed, **kw):
    torch.manual_seed(seed)
    m = FaultNet(2, width=0.125)
    r = fit(m, x[:64], y[:64], x[64:], y[64:], kw.pop("opts", OPTS), seed, **kw)
    return m, r


def test_training_is_deterministic_with_the_same_seed():
    x, y = _toy()
    m1, r1 = _fit(x, y, 4)
    m2, r2 = _fit(x, y, 4)
    m3, r3 = _fit(x, y, 5)
    assert r1.history == r2.history
    for k, v in m1.state_dict().items():
        assert torch.equal(v, m2.state_dict()[k])
    assert r1.history != r3.history
    assert r1.device == "cpu" and r1.precision == "fp32"


def test_resume_from_checkpoint_ends_where_an_uninterrupted_run_does():
    x, y = _toy()
    blobs: list[bytes] = []
    _, full = _fit(x, y, 2, save_checkpoint=blobs.append)
    assert len(blobs) == 3
    # a run killed after its second epoch, resumed from the checkpoint it left
    m, resumed = _fit(x, y, 2, checkpoint=blobs[1])
    assert resumed.resumed_from == 2
    assert resumed.history == full.history
    for k, v in full.best_state.items():
        assert torch.equal(v, resumed.best_state[k])
    ck = torch.load(io.BytesIO(blobs[0]), weights_only=True)
    assert ck["epoch"] == 0


def test_best_epoch_is_the_lowest_validation_loss_and_early_stopping():
    x, y = _toy()
    opts = Training(epochs=12, batch_size=16, patience=1, device="cpu", lr=0.05)
    _, r = _fit(x, y, 1, opts=opts)
    losses = [h["val_loss"] for h in r.history]
    assert r.best_epoch == int(np.argmin(losses))
    assert len(r.history) <= r.best_epoch + 2
    if len(r.history) < 12:
        assert r.stopped_early


def test_predict_scores_every_row():
    x, _ = _toy(n=33)
    m = FaultNet(3, width=0.125)
    probs, logits = predict(m, x, batch_size=8)
    assert probs.shape == (33, 3) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_weights_round_trip_through_safetensors(tmp_path):
    m = FaultNet(4, in_channels=6, width=0.25, dilation=3, dropout=0.1).eval()
    folder = RunFolder(Store(str(tmp_path)), "r1")
    folder.save_model(m)
    blob = (tmp_path / "runs" / "r1" / "model.safetensors").read_bytes()
    assert set(st_load(blob)) == set(m.state_dict())
    back = folder.load_model()
    assert back.config == m.config
    x = torch.randn(2, 6, 100)
    with torch.no_grad():
        assert torch.equal(back(x), m(x))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_training_uses_mixed_precision_and_is_deterministic():
    x, y = _toy(n=256, length=400)
    opts = Training(epochs=3, batch_size=32, patience=0, device="cuda")
    m1, r1 = _fit(x, y, 3, opts=opts)
    m2, r2 = _fit(x, y, 3, opts=opts)
    assert r1.device.startswith("cuda") and r1.precision in ("bfloat16", "float16")
    assert r1.history == r2.history
    probs, _ = predict(m1, x, 64)
    assert probs.shape == (256, 2) and np.isfinite(probs).all()
