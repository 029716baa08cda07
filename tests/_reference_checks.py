"""Weights, biases and theory hooks held to the reference of tests/_reference_theory.py.

Structured schemes exactly (each group's block on its own, and no two groups alike); iid schemes by
their variance and mean at ALPHA_CHECK, from the kit's assertions (checked on their own in
test_testing_kit.py); torch_default bit for bit against torch's own draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from _reference_theory import (
    GAIN_CHECKED_ELSEWHERE,
    ConvReference,
    base_name,
    centre,
    centre_position,
    critical_block_gain,
    critical_structure,
    expected_gain,
    icnr_repeats,
    icnr_sub_kernel,
    reference,
    theory,
)
from torch import Tensor, nn

import initconv
from initconv.testing import ALPHA_CHECK, assert_mean_zero, assert_variance_matches

# --- Holding weights to the reference -------------------------------------------------------------


def stiefel_dimension(rows: int, cols: int) -> int:
    """The dimension of the manifold of ``rows x cols`` matrices with orthonormal rows or columns."""
    small, large = min(rows, cols), max(rows, cols)
    return small * large - small * (small + 1) // 2


def significand_bits(dtype: torch.dtype) -> int:
    return round(-math.log2(torch.finfo(dtype).eps)) + 1


def blocks_can_tie(blocks: list[Tensor], dtype: torch.dtype) -> bool:
    """Whether two independent Haar blocks of this shape may round to the same ``dtype`` values.

    A block lies on a manifold of dimension D and rounds to cells of relative side 2^-p per entry,
    so two independent ones tie with probability of order 2^-(p D); with p D >= 64 that is far
    below ALPHA_CHECK for every pair. Smaller blocks (a 1 x 1 block is +-g) may tie by chance.
    """
    rows, cols = blocks[0].shape
    return stiefel_dimension(rows, cols) * significand_bits(dtype) < 64


def assert_blocks_differ(blocks: list[Tensor], dtype: torch.dtype, what: str) -> None:
    """No two groups drew the same block (where a tie is not a chance event)."""
    if len(blocks) < 2 or blocks_can_tie(blocks, dtype):
        return
    for a in range(len(blocks)):
        for b in range(a + 1, len(blocks)):
            assert not torch.equal(blocks[a], blocks[b]), (
                f"{what}: groups {a} and {b} hold the same {tuple(blocks[a].shape)} block; each "
                "group must be drawn on its own"
            )


def orthogonality_atol(dtype: torch.dtype, gain: float, length: int) -> float:
    """The error allowed on each entry of a block's Gram matrix, for a block stored in ``dtype``."""
    # Rounding g q to dtype moves an entry by eps / 2 of itself, and so an entry of the Gram matrix
    # of rows of norm g by at most 2 g^2 (eps / 2) + (g eps / 2)^2 <= g^2 2 eps; float32 QR leaves
    # errors below 1.6e-7 g^2, allowed 1e-5. Entries in the subnormal range are off by up to the
    # spacing s there, which moves a Gram entry by 2 g sqrt(length) s + length s^2.
    info = torch.finfo(dtype)
    spacing = math.sqrt(length) * info.smallest_normal * info.eps
    return gain**2 * max(1e-5, 2 * info.eps) + 2 * gain * spacing + spacing**2


def assert_orthogonal_block(block: Tensor, gain: float, what: str) -> None:
    """``block`` has orthonormal rows (or columns, if taller than wide) times ``gain``."""
    rows, cols = block.shape
    w = block.detach().to(torch.float64)
    gram = w @ w.T if rows <= cols else w.T @ w
    error = float((gram - gain**2 * torch.eye(min(rows, cols), dtype=torch.float64)).abs().max())
    atol = orthogonality_atol(block.dtype, gain, max(rows, cols))
    assert error <= atol, (
        f"{what} ({rows} x {cols}) is not orthogonal times {gain:.6g}: {error:.3g}"
    )


def assert_orthogonal(weight: Tensor, ref: ConvReference, gain: float) -> None:
    blocks = [ref.block(weight, g) for g in range(ref.groups)]
    for g, block in enumerate(blocks):
        assert_orthogonal_block(block, gain, f"orthogonal: group {g}'s block")
    assert_blocks_differ(blocks, weight.dtype, "orthogonal")


def assert_delta_orthogonal(weight: Tensor, ref: ConvReference, gain: float) -> None:
    tap = centre_position(ref)
    maps = []
    for g in range(ref.groups):
        joins = ref.joins(weight, g)
        off_centre = joins.clone()
        off_centre[:, :, tap] = 0
        stray = int(torch.count_nonzero(off_centre))
        assert stray == 0, f"delta-orthogonal: {stray} weights off the centre tap {centre(ref)}"
        maps.append(joins[:, :, tap])
        assert_orthogonal_block(maps[-1], gain, f"delta-orthogonal: group {g}'s centre map")
    assert_blocks_differ(maps, weight.dtype, "delta-orthogonal")


def identity_kernel(ref: ConvReference, gain: float, dtype: torch.dtype) -> Tensor:
    """Output ``d`` of every group copies input ``d`` of the same group through the centre tap,
    for ``d`` below both per-group channel counts."""
    kernel = torch.zeros(ref.weight_shape, dtype=dtype)
    for g in range(ref.groups):
        for d in range(min(ref.per_in, ref.per_out)):
            kernel[ref.index(g, d, d, centre(ref))] = gain
    return kernel


def assert_runs_repeat(tensor: Tensor, repeats: int, what: str) -> None:
    """Every output channel equals the first of its run of ``repeats`` (ICNR's interleaving)."""
    for c in range(tensor.shape[0]):
        first = c - c % repeats
        assert torch.equal(tensor[c], tensor[first]), (
            f"ICNR {what}: output channel {c} differs from channel {first}, the first of its run "
            f"of upscale_factor**d = {repeats}"
        )


def sub_kernel(weight: Tensor, ref: ConvReference, options: dict[str, Any]) -> Tensor:
    """ICNR's independent filters: the first output channel of each run of ``r^d``."""
    return torch.stack([weight[c] for c in range(0, ref.outputs, icnr_repeats(ref, options))])


def group_blocks(
    scheme: str, ref: ConvReference, options: dict[str, Any], weight: Tensor
) -> list[Tensor]:
    """The matrix each group of a structured random scheme draws on its own: the orthogonal block,
    the delta-orthogonal centre map, or those of ICNR's sub-kernel."""
    if scheme == "orthogonal":
        return [ref.block(weight, g) for g in range(ref.groups)]
    if scheme == "delta_orthogonal":
        return [ref.joins(weight, g)[:, :, centre_position(ref)] for g in range(ref.groups)]
    if scheme == "icnr":
        sub, base_options = icnr_sub_kernel(ref, options)
        return group_blocks(base_name(options), sub, base_options, sub_kernel(weight, ref, options))
    raise KeyError(f"{scheme!r} draws no group blocks")


def assert_weights(
    scheme: str, ref: ConvReference, options: dict[str, Any], gain: float, weight: Tensor
) -> None:
    """``weight`` is what ``scheme`` draws for a layer of ``ref``'s shape: exactly, for a structured
    scheme; for an iid one, its variance and mean at ALPHA_CHECK (one check each)."""
    weight = weight.detach()
    assert tuple(weight.shape) == ref.weight_shape
    if scheme == "orthogonal":
        assert_orthogonal(weight, ref, gain)
    elif scheme == "delta_orthogonal":
        assert_delta_orthogonal(weight, ref, gain)
    elif scheme == "identity":
        wrong = int((weight != identity_kernel(ref, gain, weight.dtype)).sum())
        assert wrong == 0, (
            f"identity: {wrong} weights differ from the Dirac kernel at {centre(ref)}"
        )
    elif scheme == "zero":
        assert int(torch.count_nonzero(weight)) == 0
    elif scheme == "critical" and critical_structure(ref, options) != "normal":
        structure = critical_structure(ref, options)
        check = assert_orthogonal if structure == "orthogonal" else assert_delta_orthogonal
        check(weight, ref, critical_block_gain(ref, options, gain))
    elif scheme == "icnr":
        repeats = icnr_repeats(ref, options)
        assert_runs_repeat(weight, repeats, "weight")
        sub, base_options = icnr_sub_kernel(ref, options)
        kernel = sub_kernel(weight, ref, options)
        assert_weights(base_name(options), sub, base_options, gain, kernel)
    else:
        law = theory(scheme, ref, options, gain)
        assert law.distribution is not None
        centred = weight.to(torch.float64) - law.mean
        assert_variance_matches(centred, law.variance, law.distribution, alpha=ALPHA_CHECK)
        assert_mean_zero(centred, law.variance, law.distribution, alpha=ALPHA_CHECK)


_DEFAULT_BIAS = {"torch_default": ("torch", None), "critical": ("normal", 0.05)}


def expected_bias_init(scheme: str, options: dict[str, Any]) -> Any:
    return options.get("bias_init", _DEFAULT_BIAS.get(scheme, ("zeros", None))[0])


def expected_bias_std(scheme: str, options: dict[str, Any]) -> float:
    """The std of ``bias_init="normal"``: given, or the scheme's default with its default draw."""
    if options.get("bias_std") is not None:
        return float(options["bias_std"])
    return float(_DEFAULT_BIAS.get(scheme, ("zeros", 0.0))[1] or 0.0)


def assert_bias(scheme: str, ref: ConvReference, options: dict[str, Any], bias: Tensor) -> None:
    """The bias is what ``bias_init`` says, and ICNR's is one value per run of ``r^d`` channels."""
    bias = bias.detach()
    assert tuple(bias.shape) == (ref.outputs,)
    bias_init = expected_bias_init(scheme, options)
    if bias_init == "zeros":
        assert int(torch.count_nonzero(bias)) == 0
    elif bias_init == "torch":  # U(-1/sqrt(n), 1/sqrt(n)), n torch's fan_in; rounding may reach it
        bound = 1 / math.sqrt(ref.torch_fan_in) * (1 + torch.finfo(bias.dtype).eps)
        assert float(bias.abs().max()) <= bound
    elif isinstance(bias_init, (int, float)):
        assert torch.equal(bias, torch.full_like(bias, float(bias_init)))
    elif bias_init == "normal":  # N(0, bias_std^2), iid: variance and mean at ALPHA_CHECK
        independent = bias[:: icnr_repeats(ref, options)] if scheme == "icnr" else bias
        variance = expected_bias_std(scheme, options) ** 2
        centred = independent.to(torch.float64)
        assert_variance_matches(centred, variance, "normal", alpha=ALPHA_CHECK)
        assert_mean_zero(centred, variance, "normal", alpha=ALPHA_CHECK)
    else:
        raise AssertionError(f"no reference law for bias_init={bias_init!r}")
    if scheme == "icnr":
        assert_runs_repeat(bias, icnr_repeats(ref, options), "bias")


def torch_default_draw(
    ref: ConvReference, dtype: torch.dtype, bias: bool, generator: torch.Generator | None
) -> tuple[Tensor, Tensor | None]:
    """What a torch layer's own ``reset_parameters()`` draws: ``kaiming_uniform_(a=sqrt(5))``, then
    the bias from U(-1/sqrt(n), 1/sqrt(n)), n the fan_in torch reads off the weight's shape."""
    weight = torch.empty(ref.weight_shape, dtype=dtype)
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=generator)
    if not bias:
        return weight, None
    bound = 1 / math.sqrt(ref.torch_fan_in)
    return weight, torch.empty(ref.outputs, dtype=dtype).uniform_(
        -bound, bound, generator=generator
    )


# --- A drawn layer ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    """A layer as its constructor arguments describe it: scheme, kind, shape and options."""

    scheme: str
    kind: type[nn.Module]
    config: dict[str, Any]
    options: dict[str, Any]

    def build(self, **changes: Any) -> Any:
        arguments = {**self.config, **self.options, **changes}
        return initconv.layer_class(self.scheme, self.kind)(**arguments)

    @property
    def reference(self) -> ConvReference:
        return reference(self.kind, self.config)


def assert_matches_reference(spec: Spec, layer: Any) -> None:
    """The layer's gain, theory hooks, weights and bias agree with the reference for ``spec``."""
    ref, options = spec.reference, spec.options
    if spec.scheme not in GAIN_CHECKED_ELSEWHERE:
        gain = expected_gain(spec.scheme, options)
        assert math.isclose(layer.gain, gain, rel_tol=1e-6), (
            f"gain {layer.gain!r}, reference {gain!r}"
        )
    # The rest with the layer's own gain, now known right to 1e-6: exact arithmetic from here.
    law = theory(spec.scheme, ref, options, layer.gain)
    assert math.isclose(layer.expected_variance(), law.variance, rel_tol=1e-9, abs_tol=1e-300)
    assert math.isclose(layer.expected_mean(), law.mean, rel_tol=1e-9, abs_tol=1e-12)
    assert layer.expected_distribution() == law.distribution
    assert_weights(spec.scheme, ref, options, layer.gain, layer.weight)
    assert (layer.bias is None) == (not spec.config.get("bias", True))
    if layer.bias is not None:
        assert_bias(spec.scheme, ref, options, layer.bias)
