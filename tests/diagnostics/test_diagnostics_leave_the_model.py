"""Diagnostics measure a model without changing it: parameters, buffers and running statistics."""

from __future__ import annotations

import torch
from _support import snapshot, unchanged
from torch import nn

import initconv

Conv = initconv.KaimingNormalConv2d


def test_propagation_in_training_mode_leaves_batch_norm_statistics_as_they_were() -> None:
    model = nn.Sequential(Conv(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU()).train()
    before = snapshot(model)
    initconv.diagnostics.propagation(model, torch.randn(2, 3, 8, 8))
    assert unchanged(model, before)
