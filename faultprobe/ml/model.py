"""The paper's 1-D CNN (Laurenti et al. 2024, Fig. S4), with width and dilation knobs.

Seven blocks of Conv1d → BatchNorm → MaxPool(3, stride 1) → ReLU, filters 32, 64, 64, 64,
128, 256, 256 (times `width`), kernels 7, 7, 5, 5, 5, 3, 3, stride 2 in block 2, dilation
`dilation**(i-2)` in block i from block 3 on (2, 4, 8, 16, 32 by default), then global
average pooling, dropout and a linear head.  Padding keeps lengths, so any input length
of a few dozen samples or more works.

A run owns its randomness: the weights are drawn from a generator the run seeds
(`FaultNet(..., generator=g)`) and dropout draws from the generator the trainer hands it
(`SeededDropout.generator`), never from torch's global one, so two runs in one process,
on two threads, give what each gives alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn

FILTERS = (32, 64, 64, 64, 128, 256, 256)
KERNELS = (7, 7, 5, 5, 5, 3, 3)
STRIDES = (1, 2, 1, 1, 1, 1, 1)


def _dilations(growth: int) -> tuple[int, ...]:
    return tuple(1 if i < 2 else growth ** (i - 1) for i in range(len(FILTERS)))


class SeededDropout(nn.Module):
    """Inverted dropout drawing its masks from `self.generator` (set per epoch by the
    trainer; torch's global generator where none is set); no parameters, so saved weights
    are those of `nn.Dropout`."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p
        self.generator: torch.Generator | None = None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=self.generator)
        return x * keep / (1.0 - self.p)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def init_weights(model: nn.Module, generator: torch.Generator) -> None:
    """PyTorch's default initialisation of Conv1d and Linear layers (Kaiming-uniform weights,
    uniform biases), drawn from `generator`; BatchNorm starts at weight 1, bias 0."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv1d | nn.Linear):
                nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
                if m.bias is not None:
                    fan_in = m.weight[0].numel()
                    bound = 1.0 / math.sqrt(fan_in) if fan_in else 0.0
                    nn.init.uniform_(m.bias, -bound, bound, generator=generator)


class FaultNet(nn.Module):
    """Classifier of 3-component (or 3×stations) waveforms into `n_classes`."""

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 3,
        width: float = 1.0,
        dilation: int = 2,
        dropout: float = 0.2,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.config = {
            "n_classes": n_classes,
            "in_channels": in_channels,
            "width": width,
            "dilation": dilation,
            "dropout": dropout,
        }
        blocks = []
        c_in = in_channels
        for f, k, s, d in zip(FILTERS, KERNELS, STRIDES, _dilations(dilation)):
            c_out = max(4, int(round(f * width)))
            blocks += [
                nn.Conv1d(c_in, c_out, k, stride=s, dilation=d, padding=d * (k - 1) // 2),
                nn.BatchNorm1d(c_out),
                nn.MaxPool1d(3, stride=1),
                nn.ReLU(inplace=True),
            ]
            c_in = c_out
        self.features = nn.Sequential(*blocks)
        self.dropout = SeededDropout(dropout)
        self.head = nn.Linear(c_in, n_classes)
        if generator is not None:
            init_weights(self, generator)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x).mean(dim=-1)
        return self.head(self.dropout(z))


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
