"""Activation specs resolve to torch's gains where torch has them, and to derived gains elsewhere."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import initconv
from initconv import _activations
from initconv._maths.quadrature import gaussian_expectation

# Reference values of g = 1 / sqrt(E[phi(z)^2]), to the 4 decimals it gives.
DERIVED_REFERENCE = {
    "gelu": 1.5335,
    "silu": 1.6765,
    "mish": 1.4868,
    "elu": 1.2452,
    "hardswish": 1.7367,
    "softplus": 1.0419,
}


@pytest.mark.parametrize(
    ("name", "param"),
    [
        ("linear", None),
        ("conv2d", None),
        ("conv_transpose2d", None),
        ("sigmoid", None),
        ("tanh", None),
        ("relu", None),
        ("leaky_relu", None),
    ],
)
def test_names_torch_knows_get_exactly_torchs_gain(name: str, param: float | None) -> None:
    assert initconv.gain(name) == nn.init.calculate_gain(name, param)  # type: ignore[arg-type]


def test_leaky_relu_instance_gets_torchs_gain_for_its_slope() -> None:
    assert initconv.gain(nn.LeakyReLU(0.2)) == nn.init.calculate_gain("leaky_relu", 0.2)


def test_selu_gets_the_self_normalizing_gain_one_not_torchs_three_quarters() -> None:
    assert nn.init.calculate_gain("selu") == 0.75
    assert initconv.gain("selu") == 1.0
    assert initconv.gain(nn.SELU) == 1.0


def test_relu_gain_is_exactly_sqrt_two() -> None:
    assert initconv.gain("relu") == math.sqrt(2)


@pytest.mark.parametrize(("name", "expected"), sorted(DERIVED_REFERENCE.items()))
def test_derived_gains_match_the_reference_values(name: str, expected: float) -> None:
    assert round(initconv.gain(name), 4) == expected


def _derived(phi: Callable[[Tensor], Tensor]) -> float:
    return _activations.derived_gain("test", phi)


@pytest.mark.parametrize(
    ("phi", "closed_form"),
    [
        (F.relu, math.sqrt(2)),
        (lambda x: F.leaky_relu(x, 0.3), math.sqrt(2 / (1 + 0.3**2))),
        (lambda x: x, 1.0),
        (F.selu, 1.0),
        # relu6 is relu up to a kink at 6, where only 2.0e-9 of the mass lies:
        # E[relu6(z)^2] = 1/2 - E[(z^2 - 36) 1{z > 6}] = 1/2 - (6 phi(6) + Q(6)) + 36 Q(6).
        (
            F.relu6,
            1
            / math.sqrt(
                0.5
                - 6 * math.exp(-18) / math.sqrt(2 * math.pi)
                + 35 * 0.5 * math.erfc(6 / math.sqrt(2))
            ),
        ),
    ],
)
def test_derived_gain_matches_closed_forms_to_1e_9(
    phi: Callable[[Tensor], Tensor], closed_form: float
) -> None:
    assert abs(_derived(phi) - closed_form) < 1e-9


def test_hardtanh_gain_matches_its_closed_form_despite_two_kinks() -> None:
    # E[hardtanh(z)^2] = E[z^2; |z| < 1] + P(|z| > 1) = (P1 - 2 phi(1)) + (1 - P1), P1 = erf(1/sqrt2).
    moment = 1 - 2 * math.exp(-0.5) / math.sqrt(2 * math.pi)
    assert abs(initconv.gain("hardtanh") - 1 / math.sqrt(moment)) < 1e-9


def test_derived_gain_makes_unit_variance_a_fixed_point_of_the_variance_map() -> None:
    for name in ("gelu", "silu", "mish", "softsign", "logsigmoid", "hardsigmoid"):
        g = initconv.gain(name)
        phi = _activations._BY_NAME[name].phi
        assert abs(g**2 * gaussian_expectation(lambda z, p=phi: p(z) ** 2) - 1) < 1e-9


@pytest.mark.parametrize(
    ("spec", "name"),
    [
        (nn.GELU, "gelu"),
        (nn.GELU(approximate="tanh"), "gelu_tanh"),
        (nn.ELU(alpha=0.5), "elu(alpha=0.5)"),
        (nn.ELU(), "elu"),
        (nn.Softplus(beta=2.0), "softplus(beta=2)"),
        (nn.Hardtanh(-2.0, 2.0), "hardtanh(min_val=-2, max_val=2)"),
        (nn.ReLU6(), "relu6"),
        (nn.PReLU(init=0.1), "prelu(init=0.1)"),
        (nn.Identity(), "linear"),
        (F.silu, "silu"),
        (torch.tanh, "tanh"),
        (torch.Tensor.relu, "relu"),
        ("swish", "silu"),
        ("identity", "linear"),
    ],
)
def test_specs_resolve_to_canonical_names(spec: object, name: str) -> None:
    assert _activations.resolve(spec).name == name  # type: ignore[arg-type]


def test_module_parameters_are_read_from_the_instance() -> None:
    assert initconv.gain(nn.ELU(alpha=0.5)) != initconv.gain(nn.ELU())
    assert initconv.gain(nn.GELU(approximate="tanh")) != initconv.gain(nn.GELU())
    assert abs(initconv.gain(nn.GELU(approximate="tanh")) - initconv.gain("gelu")) < 1e-3
    # PReLU keeps its slope as a float32 parameter.
    slope = float(torch.tensor(0.2))
    assert initconv.gain(nn.PReLU(init=0.2)) == initconv.gain(nn.LeakyReLU(slope))
    elu = 1 / math.sqrt(gaussian_expectation(lambda z: F.elu(z, 0.5) ** 2))
    assert initconv.gain(nn.ELU(alpha=0.5)) == pytest.approx(elu, abs=1e-12)


def test_plain_callable_gets_a_derived_gain() -> None:
    def cube_root(x: Tensor) -> Tensor:
        return x.sign() * x.abs() ** (1 / 3)

    # E[|z|^(2/3)] = 2^(1/3) Gamma(5/6) / sqrt(pi).
    moment = 2 ** (1 / 3) * math.gamma(5 / 6) / math.sqrt(math.pi)
    assert abs(initconv.gain(cube_root) - 1 / math.sqrt(moment)) < 1e-9


def test_every_built_in_name_has_a_finite_positive_gain() -> None:
    for name in initconv.activations():
        assert 0 < initconv.gain(name) < 3, name


def test_unknown_activation_lists_the_names_and_suggests_a_close_one() -> None:
    with pytest.raises(
        ValueError,
        match=r"activation must be one of \(.*'gelu'.*\).*, got 'gleu'; did you mean 'gelu'\?",
    ):
        initconv.gain("gleu")


def test_unknown_activation_lists_canonical_names_and_suggests_aliases_too() -> None:
    with pytest.raises(ValueError, match=r"did you mean 'swish'\?$") as caught:
        initconv.gain("Swish")
    message = str(caught.value)
    listed = message[message.index("(") : message.index(")") + 1]
    assert "'silu'" in listed
    assert "'swish'" not in listed
    assert "'conv2d'" not in listed


def test_callable_that_changes_shape_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be elementwise, but it changed the input's shape"):
        initconv.gain(lambda x: x.sum(dim=-1))


def test_callable_that_returns_nan_or_inf_is_rejected() -> None:
    with pytest.raises(ValueError, match="returned NaN or inf at z ="):
        initconv.gain(torch.log)


def test_callable_that_returns_no_tensor_is_rejected() -> None:
    with pytest.raises(TypeError, match="must return a Tensor, got float"):
        initconv.gain(lambda x: 1.0)  # type: ignore[arg-type,return-value]


def test_zero_activation_has_no_gain() -> None:
    with pytest.raises(ValueError, match="is zero for almost every input"):
        initconv.gain(lambda x: x * 0)


def test_non_module_class_and_non_callable_are_type_errors() -> None:
    with pytest.raises(TypeError, match=r"activation class must be an nn\.Module subclass"):
        initconv.gain(int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"activation must be a name, an nn\.Module class"):
        initconv.gain(3)  # type: ignore[arg-type]


def test_module_class_that_needs_arguments_is_a_type_error() -> None:
    with pytest.raises(TypeError, match=r"cannot be built without arguments.*Threshold\(\.\.\.\)"):
        initconv.gain(nn.Threshold)


def test_prelu_with_several_slopes_has_no_single_gain() -> None:
    prelu = nn.PReLU(num_parameters=2)
    with torch.no_grad():
        prelu.weight[1] = 0.5
    with pytest.raises(ValueError, match="must have one slope"):
        initconv.gain(prelu)


def test_registered_activation_is_accepted_by_name(clean_registry: None) -> None:
    initconv.register_activation("squareplus", lambda x: (x + (x * x + 4).sqrt()) / 2)
    assert "squareplus" in initconv.activations()
    conv = initconv.KaimingNormalConv2d(4, 4, 3, activation="squareplus")
    assert conv.activation == "squareplus"
    assert conv.gain == initconv.gain("squareplus")
    initconv.register_activation("fixed", torch.tanh, gain=1.5)
    assert initconv.gain("fixed") == 1.5


def test_registering_a_taken_name_is_refused_unless_overwrite(clean_registry: None) -> None:
    initconv.register_activation("mine", torch.tanh)
    with pytest.raises(ValueError, match="'mine' is already registered; pass overwrite=True"):
        initconv.register_activation("mine", torch.sigmoid)
    initconv.register_activation("mine", torch.sigmoid, overwrite=True)
    assert initconv.gain("mine") == pytest.approx(1.8462, abs=1e-4)
    with pytest.raises(ValueError, match="'relu' is a built-in activation"):
        initconv.register_activation("relu", torch.tanh, overwrite=True)


def test_gains_command_prints_a_row_per_built_in_activation(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from initconv.__main__ import main

    assert main(["gains"]) == 0
    table = capsys.readouterr().out
    assert "| relu | sqrt(2) | torch's table | 1.4142 | 1.4142 |" in table
    assert "| gelu | 1.5335 | derived | 1.5335 | - |" in table
    assert "| selu | 1.0000 | self-normalizing value (torch: 3/4) | 1.0000 | 0.7500 |" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) - 1 == len(_activations.BUILTINS)


@pytest.mark.parametrize(
    "activation",
    [
        lambda x: 1 / x,  # E[phi^2] = E[1/z^2]: infinite at 0; it returned 3.2e-8
        lambda x: 1 / x.abs().sqrt(),  # E[1/|z|]: infinite too, logarithmically
        lambda x: 1 / (x - 0.3),  # the same away from a panel edge
    ],
)
def test_an_activation_whose_second_moment_is_infinite_is_refused(
    activation: Callable[[Tensor], Tensor],
) -> None:
    with pytest.raises(
        ValueError, match=r"(has no gain: E\[phi\(z\)\^2\] cannot be computed|returned NaN or inf)"
    ):
        initconv.gain(activation)


@pytest.mark.parametrize("step", [0.3, 0.4843882834664972])
def test_a_step_is_integrated_exactly_not_at_a_narrow_dtypes_precision(step: float) -> None:
    # Its outputs 0 and 1 are exact in bfloat16, which made them look like bfloat16's rounding
    # and the step 3% off was accepted. E[1{z > s}] = 1 - Phi(s).
    expected = 1 / math.sqrt(0.5 * math.erfc(step / math.sqrt(2)))
    assert initconv.gain(lambda x: (x > step).double()) == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("step", [0.4843882834664972, 0.3, 0.1234567, 1 / 3])
def test_a_jump_near_a_panels_edge_is_integrated_to_the_tolerance(step: float) -> None:
    # 0.48438828 lies 1.3e-5 from the panel edge 31/64: between the edge and the first
    # Gauss-Legendre node of the panel and of its halves, which agreed on a value 1e-5 off.
    # E[1{|z| > s}] = 2 Phi(-s) = erfc(s / sqrt 2).
    got = gaussian_expectation(lambda z: (z.abs() > step).double())
    assert got == pytest.approx(math.erfc(step / math.sqrt(2)), rel=1e-12)


class _MetaScale(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.k = nn.Parameter(torch.ones((), device="meta"))

    def forward(self, x: Tensor) -> Tensor:
        return self.k * torch.tanh(x)


def test_an_activation_whose_parameters_are_on_meta_is_refused_naming_it() -> None:
    with pytest.raises(ValueError, match=r"activation _MetaScale.* computes on the meta device"):
        initconv.gain(_MetaScale())


def test_a_callable_gain_is_derived_on_the_cpu_under_the_meta_device() -> None:
    def scaled(x: Tensor) -> Tensor:
        return x * torch.tensor(2.0)  # a tensor made inside: meta, were the default not CPU

    with torch.device("meta"):
        value = initconv.gain(scaled)
    assert value == pytest.approx(0.5, rel=1e-12)


@pytest.mark.parametrize("size", [1e-200, 1e200])
def test_an_activation_of_extreme_size_has_its_gain(size: float) -> None:
    # E[phi^2] = size^2 underflowed to 0 ("zero for almost every input") or overflowed to inf.
    assert initconv.gain(lambda x: size * x) == pytest.approx(1 / size, rel=1e-12, abs=0)
