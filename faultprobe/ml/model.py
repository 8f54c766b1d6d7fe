"""The paper's 1-D CNN (Laurenti et al. 2024, Fig. S4), with width and dilation knobs.

Seven blocks of Conv1d → BatchNorm → MaxPool(3, stride 1) → ReLU, filters 32, 64, 64, 64,
128, 256, 256 (times `width`), kernels 7, 7, 5, 5, 5, 3, 3, stride 2 in block 2, dilation
`dilation**(i-2)` in block i from block 3 on (2, 4, 8, 16, 32 by default), then global
average pooling, dropout and a linear head.  Padding keeps lengths, so any input length
of a few dozen samples or more works.
"""

from __future__ import annotations

import torch
from torch import nn

FILTERS = (32, 64, 64, 64, 128, 256, 256)
KERNELS = (7, 7, 5, 5, 5, 3, 3)
STRIDES = (1, 2, 1, 1, 1, 1, 1)


def _dilations(growth: int) -> tuple[int, ...]:
    return tuple(1 if i < 2 else growth ** (i - 1) for i in range(len(FILTERS)))


class FaultNet(nn.Module):
    """Classifier of 3-component (or 3×stations) waveforms into `n_classes`."""

    def __init__(
        self,
        n_classes: int,
        in_channels: int = 3,
        width: float = 1.0,
        dilation: int = 2,
        dropout: float = 0.2,
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
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(c_in, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x).mean(dim=-1)
        return self.head(self.dropout(z))


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
