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


def _held_gradients(model: nn.Module) -> dict[str, torch.Tensor]:
    """Give every parameter a gradient, as a training step between backward and step has."""
    out = model(torch.randn(2, 3, 8, 8, generator=torch.Generator().manual_seed(1)))
    out.square().mean().backward()
    return {name: p.grad for name, p in model.named_parameters() if p.grad is not None}


def test_propagation_leaves_the_gradients_a_user_holds_as_they_were() -> None:
    # Its own backward pass accumulated into the tensors it had saved by reference: a gradient
    # the user held changed by up to 96 times its size.
    model = nn.Sequential(Conv(3, 8, 3, padding=1), nn.ReLU(), Conv(8, 8, 3, padding=1))
    held = _held_gradients(model)
    values = {name: grad.clone() for name, grad in held.items()}
    initconv.diagnostics.propagation(model, torch.randn(2, 3, 8, 8))
    for name, p in model.named_parameters():
        assert p.grad is held[name]
        assert torch.equal(p.grad, values[name])


def test_propagation_runs_no_post_accumulate_grad_hook() -> None:
    # An optimizer step in backward (or DDP's reducer) hangs off gradient accumulation.
    model = nn.Sequential(Conv(3, 4, 3), nn.ReLU())
    calls: list[str] = []
    for name, p in model.named_parameters():
        p.register_post_accumulate_grad_hook(lambda _p, name=name: calls.append(name))
    initconv.diagnostics.propagation(model, torch.randn(1, 3, 6, 6))
    assert calls == []
    assert all(p.grad is None for p in model.parameters())


def test_propagation_measures_the_gradient_before_an_in_place_activation() -> None:
    x = torch.randn(2, 3, 6, 6, generator=torch.Generator().manual_seed(4))
    inplace = nn.Sequential(Conv(3, 4, 3, seed=0), nn.ReLU(inplace=True), Conv(4, 4, 3, seed=1))
    plain = nn.Sequential(Conv(3, 4, 3, seed=0), nn.ReLU(), Conv(4, 4, 3, seed=1))
    a = initconv.diagnostics.propagation(inplace, x)
    b = initconv.diagnostics.propagation(plain, x)
    assert [row.backward for row in a] == [row.backward for row in b]
    assert [row.forward for row in a] == [row.forward for row in b]


def test_jacobian_spectrum_of_a_model_in_training_mode_leaves_its_buffers_as_they_were() -> None:
    # torch.func refused batch norm's in-place update of its running statistics.
    model = nn.Sequential(Conv(3, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU()).train()
    before = snapshot(model)
    spectrum = initconv.diagnostics.jacobian_spectrum(model, torch.randn(2, 3, 4, 4))
    assert spectrum.top[0] >= spectrum.bottom[0] > 0
    assert unchanged(model, before)
