"""Every scheme on every layer kind it serves: real torch layers, torch's numbers where torch is
right, the stride-aware fans where it is not, and the structured schemes' layouts per kind."""

from __future__ import annotations

import copy
import inspect
import math
import pickle

import pytest
import torch
import torch.nn.functional as F
from _support import slow_except
from torch import Tensor, nn

import initconv
from initconv._layers.pairing import served_kinds
from initconv._maths.fans import KINDS
from initconv.testing import ALPHA_CHECK, check_scheme, cumulant_band, variance_band

# Constructor arguments of a small layer of each kind.
SMALL: dict[type[nn.Module], tuple[int, ...]] = {
    nn.Conv1d: (4, 8, 3),
    nn.Conv2d: (4, 8, 3),
    nn.Conv3d: (4, 8, 3),
    nn.ConvTranspose1d: (4, 8, 3),
    nn.ConvTranspose2d: (4, 8, 3),
    nn.ConvTranspose3d: (4, 8, 3),
    nn.Linear: (4, 8),
}
DIMS: dict[type[nn.Module], int] = {
    nn.Conv1d: 1,
    nn.Conv2d: 2,
    nn.Conv3d: 3,
    nn.ConvTranspose1d: 1,
    nn.ConvTranspose2d: 2,
    nn.ConvTranspose3d: 3,
    nn.Linear: 0,
}
BUILT_IN = tuple(initconv.schemes())
PAIRS = [(name, kind) for name in BUILT_IN for kind in served_kinds(initconv.schemes()[name])]


def _ids(pair: tuple[str, type[nn.Module]]) -> str:
    return f"{pair[0]}-{pair[1].__name__}"


def _layer(name: str, kind: type[nn.Module], **kwargs: object) -> nn.Module:
    layer: nn.Module = initconv.layer_class(name, kind)(*SMALL[kind], **kwargs)
    return layer


# --- Every pair is a real torch layer ------------------------------------------------------------


@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_every_pair_has_a_public_class_named_scheme_then_kind(pair: tuple[str, type]) -> None:
    name, kind = pair
    cls = initconv.layer_class(name, kind)
    assert (
        cls.__name__
        == f"{type(initconv.schemes()[name]).__name__ and initconv.schemes()[name].__name__}{kind.__name__}"
    )
    assert getattr(initconv, cls.__name__) is cls
    assert cls.__name__ in initconv.__all__
    assert issubclass(cls, kind)
    assert issubclass(cls, initconv.schemes()[name])


@pytest.mark.parametrize("pair", PAIRS, ids=_ids)
def test_every_pair_keeps_torchs_signature_argument_order_and_state_dict_keys(
    pair: tuple[str, type],
) -> None:
    name, kind = pair
    cls = initconv.layer_class(name, kind)
    ours = list(inspect.signature(cls.__init__).parameters)
    torchs = list(inspect.signature(kind.__init__).parameters)
    assert ours[: len(torchs)] == torchs
    assert ours[len(torchs) :] == ["activation", "gain", "bias_init", "seed", "options"]
    layer = cls(*SMALL[kind], seed=0)
    plain = kind(*SMALL[kind])
    assert list(layer.state_dict()) == list(plain.state_dict())
    plain.load_state_dict(layer.state_dict(), strict=True)
    layer.load_state_dict(kind(*SMALL[kind]).state_dict(), strict=True)


@pytest.mark.parametrize("kind", slow_except(KINDS, keep=KINDS[1]), ids=lambda kind: kind.__name__)
def test_every_kind_pickles_deep_copies_and_compiles_like_its_torch_layer(
    kind: type[nn.Module],
) -> None:
    layer = _layer("kaiming_normal", kind, seed=3).eval()
    x = torch.randn(2, 4, *([6] * DIMS[kind]))
    expected = layer(x)
    for clone in (pickle.loads(pickle.dumps(layer)), copy.deepcopy(layer)):
        assert type(clone) is type(layer)
        assert torch.equal(clone(x), expected)
        clone.reset_parameters()
        assert torch.equal(clone.weight, layer.weight)
    # torch.jit.script: tests/layers/test_torchscript.py. The eager backend: dynamo must capture the
    # layer whole (fullgraph); code generation does not depend on the module class, and inductor's
    # cold start (about 20 s of CPU) is the slow suite's, below. Reset: each kind compiles the same
    # forward again, and dynamo's recompile limit counts across tests.
    torch._dynamo.reset()
    compiled = torch.compile(layer, backend="eager", fullgraph=True)(x)
    assert torch.equal(compiled, expected)


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_compiles_with_the_default_backend(kind: type[nn.Module]) -> None:
    layer = _layer("kaiming_normal", kind, seed=3).eval()
    x = torch.randn(2, 4, *([6] * DIMS[kind]))
    # Inductor may sum a transposed convolution in another order: float32 rounding apart.
    torch._dynamo.reset()
    compiled = torch.compile(layer, fullgraph=True)(x)
    assert torch.allclose(compiled, layer(x), rtol=1e-5, atol=1e-6)


def test_a_scheme_without_meaning_for_a_kind_is_a_type_error_naming_the_kinds_it_serves() -> None:
    with pytest.raises(TypeError, match=r"no meaning for nn\.Linear; it serves \('Conv1d', "):
        initconv.linear("delta_orthogonal", 8, 8)
    with pytest.raises(
        TypeError, match=r"'icnr' has no meaning for nn\.ConvTranspose2d.*'Conv3d'\)"
    ):
        initconv.layer_class("icnr", nn.ConvTranspose2d)
    with pytest.raises(TypeError, match=r"no meaning for nn\.Linear"):

        class DeltaLinear(initconv.DeltaOrthogonal, initconv.InitLinear):
            pass


def test_a_scheme_is_not_a_layer_and_says_how_to_build_one() -> None:
    with pytest.raises(
        TypeError, match=r"KaimingNormal is a scheme, not a layer.*KaimingNormalConv2d"
    ):
        initconv.KaimingNormal(4, 8, 3)


@pytest.mark.parametrize(
    ("factory", "kind"),
    [
        (initconv.conv1d, nn.Conv1d),
        (initconv.conv2d, nn.Conv2d),
        (initconv.conv3d, nn.Conv3d),
        (initconv.conv_transpose1d, nn.ConvTranspose1d),
        (initconv.conv_transpose2d, nn.ConvTranspose2d),
        (initconv.conv_transpose3d, nn.ConvTranspose3d),
        (initconv.linear, nn.Linear),
    ],
)
def test_each_kind_has_a_factory_taking_the_scheme_by_name_alias_or_class(
    factory: object, kind: type[nn.Module]
) -> None:
    for scheme in ("he_normal", "kaiming_normal", initconv.KaimingNormal):
        layer = factory(scheme, *SMALL[kind], activation="gelu")  # type: ignore[operator]
        assert type(layer) is initconv.layer_class("kaiming_normal", kind)
        assert layer.activation == "gelu"


# --- torch's numbers where torch is right, the layer's fans where it is not ----------------------


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_torch_default_is_the_torch_layers_own_init_bit_for_bit_for_every_kind(
    kind: type[nn.Module],
) -> None:
    arguments = (*SMALL[kind], 1, 0) if kind is not nn.Linear else SMALL[kind]
    torch.manual_seed(5)
    plain = kind(*SMALL[kind])
    torch.manual_seed(5)
    ours = _layer("torch_default", kind)
    assert torch.equal(ours.weight, plain.weight)
    assert torch.equal(ours.bias, plain.bias)
    assert arguments  # the layers above used torch's defaults for everything else


@pytest.mark.parametrize(
    ("name", "function"),
    [
        ("kaiming_normal", nn.init.kaiming_normal_),
        ("kaiming_uniform", nn.init.kaiming_uniform_),
        ("xavier_normal", nn.init.xavier_normal_),
        ("xavier_uniform", nn.init.xavier_uniform_),
    ],
)
@pytest.mark.parametrize("kind", [nn.Conv1d, nn.Conv3d, nn.Linear], ids=lambda k: k.__name__)
def test_where_torchs_fans_are_right_the_weights_equal_torchs_function_bit_for_bit(
    name: str, function: object, kind: type[nn.Module]
) -> None:
    # Ungrouped convolutions and linear layers: torch reads the right fans off the weight.
    torch.manual_seed(7)
    ours = _layer(name, kind, bias=False)
    torch.manual_seed(7)
    expected = function(torch.empty_like(ours.weight))  # type: ignore[operator]
    assert torch.equal(ours.weight, expected)


def test_identity_is_torchs_eye_for_linear_and_dirac_for_odd_convolutions() -> None:
    assert torch.equal(initconv.IdentityLinear(6, 4).weight, nn.init.eye_(torch.empty(4, 6)))
    for kind in (nn.Conv1d, nn.Conv3d):
        layer = _layer("identity", kind)
        assert torch.equal(layer.weight, nn.init.dirac_(torch.empty_like(layer.weight)))


@pytest.mark.parametrize(
    ("cls", "arguments", "torch_fan_in"),
    [
        (initconv.KaimingNormalConvTranspose1d, (16, 4, 4, 2), 4 * 4),
        (initconv.KaimingNormalConvTranspose2d, (16, 8, 4, 2), 8 * 16),
        (initconv.KaimingNormalConvTranspose3d, (8, 4, 2, 2), 4 * 8),
    ],
)
def test_transposed_layers_scale_torchs_draw_by_the_stride_aware_fan_in(
    cls: type[nn.Module], arguments: tuple[int, ...], torch_fan_in: int
) -> None:
    # torch swaps a transposed layer's fans (pytorch#7865): kaiming_normal_ reads fan_in as
    # (out / groups) * taps. The layer's fan_in is (in / groups) * taps / stride^d; the same
    # generator draws the same normals, scaled by the ratio of the two standard deviations.
    torch.manual_seed(11)
    ours = cls(*arguments, bias=False)
    torch.manual_seed(11)
    theirs = nn.init.kaiming_normal_(torch.empty_like(ours.weight))
    fan_in, _ = initconv.fans(ours)
    assert fan_in != torch_fan_in
    scale = math.sqrt(torch_fan_in / fan_in)
    # Two float32 products of the same normal: they differ by float rounding only.
    assert torch.allclose(
        ours.weight, theirs * scale, rtol=4 * torch.finfo(torch.float32).eps, atol=0
    )


@pytest.mark.parametrize("kind", [nn.Conv1d, nn.Conv3d], ids=lambda kind: kind.__name__)
def test_grouped_fan_out_counts_channels_per_group_where_torch_counts_them_all(
    kind: type[nn.Module],
) -> None:
    torch.manual_seed(13)
    ours = initconv.layer_class("kaiming_normal", kind)(
        8, 16, 3, groups=4, mode="fan_out", bias=False
    )
    torch.manual_seed(13)
    theirs = nn.init.kaiming_normal_(torch.empty_like(ours.weight), mode="fan_out")
    # torch's fan_out is 16 * taps; the layer's is (16 / 4) * taps: 4 times the variance.
    assert torch.allclose(
        ours.weight, theirs * 2.0, rtol=4 * torch.finfo(torch.float32).eps, atol=0
    )


# --- A transposed layer's output variance is what its fans predict -------------------------------

TRANSPOSED_CASES = [
    (nn.ConvTranspose1d, 16, 32, 4, 2, 16),
    (nn.ConvTranspose2d, 16, 16, 4, 2, 6),
    (nn.ConvTranspose3d, 8, 8, 4, 2, 4),
]


def _interior(kind: type[nn.Module], k: int, s: int, side: int, d: int) -> Tensor:
    """Output positions that every tap of the kernel reaches: each gets (k / s)^d taps per input."""
    ones = torch.ones(1, 1, *([side] * d), dtype=torch.float64)
    taps = getattr(F, f"conv_transpose{d}d")(
        ones, torch.ones(1, 1, *([k] * d), dtype=torch.float64), stride=s
    )
    return (taps == (k // s) ** d).flatten()


@pytest.mark.parametrize("case", TRANSPOSED_CASES, ids=lambda case: case[0].__name__)
def test_a_transposed_layers_output_variance_is_what_its_stride_aware_fans_predict(
    case: tuple[type[nn.Module], int, int, int, int, int],
) -> None:
    kind, inputs, outputs, k, s, side = case
    d = int(kind.__name__[-2])
    layer = initconv.layer_class("kaiming_normal", kind)(
        inputs, outputs, k, stride=s, bias=False, activation="linear", dtype=torch.float64, seed=17
    )
    fan_in, _ = initconv.fans(layer)
    variance = layer.expected_variance()  # 1 / fan_in: unit output variance is the prediction
    interior = _interior(kind, k, s, side, d)
    # A: the layer on one sample, restricted to the interior outputs. Given W, the sum S of squared
    # interior outputs over a batch of standard normal inputs is a Gaussian quadratic form whose
    # weights are the eigenvalues of A^T A: its cumulants give an exact-tailed band.
    basis = torch.eye(inputs * side**d, dtype=torch.float64).reshape(-1, inputs, *([side] * d))
    with torch.no_grad():
        a = layer(basis).reshape(len(basis), outputs, -1)[:, :, interior].reshape(len(basis), -1).T
        eigenvalues = torch.linalg.eigvalsh(a.T @ a)
        batch = 64
        x = torch.randn(
            batch, *basis.shape[1:], generator=torch.Generator().manual_seed(1), dtype=torch.float64
        )
        y = layer(x).reshape(batch, outputs, -1)[:, :, interior]
    count = batch * y[0].numel()
    moments = [float((eigenvalues**r).sum()) for r in (1, 2, 3)]
    lo_s, hi_s = cumulant_band(
        batch * moments[0], batch * 2 * moments[1], batch * 8 * moments[2], alpha=ALPHA_CHECK / 2
    )
    lo_w, hi_w = variance_band(layer.weight.numel(), "normal", alpha=ALPHA_CHECK / 2)
    # E[S | W] / count = fan_in * mean(W^2) exactly (each interior output gets every phase's taps
    # equally often), and mean(W^2) / Var(W) is in the weights' chi-square band; so the measured
    # second moment over the prediction fan_in * Var(W) = 1 is in the product of the two bands.
    predicted = fan_in * variance
    measured = float((y**2).sum()) / count
    assert moments[0] * batch / count == pytest.approx(
        fan_in * float(layer.weight.detach().pow(2).mean()), rel=1e-12
    )
    low = lo_s / (batch * moments[0]) * lo_w
    high = hi_s / (batch * moments[0]) * hi_w
    assert low <= measured / predicted <= high
    # torch's fans would predict (out / groups) * taps * Var(W): far outside the band.
    torch_fan_in = outputs * k**d
    assert not low <= measured / (torch_fan_in * variance) <= high


# --- The structured schemes, laid out per kind --------------------------------------------------


def test_identity_transposed_with_stride_one_is_the_identity_map_and_refuses_other_strides() -> (
    None
):
    layer = initconv.IdentityConvTranspose2d(8, 8, 3, padding=1, identity_gain=2.0)
    x = torch.randn(2, 8, 5, 5)
    assert torch.equal(layer(x), 2.0 * x)
    assert torch.equal(initconv.IdentityLinear(8, 8)(x[:, :, 0, 0]), x[:, :, 0, 0])
    with pytest.raises(ValueError, match=r"needs stride 1 for a transposed convolution.*\(2, 2\)"):
        initconv.IdentityConvTranspose2d(8, 8, 3, stride=2)


@pytest.mark.parametrize("groups", [1, 2])
def test_delta_orthogonal_transposed_maps_each_pixel_by_an_isometry(groups: int) -> None:
    layer = initconv.DeltaOrthogonalConvTranspose2d(
        4, 8, 3, padding=1, groups=groups, bias=False, dtype=torch.float64, seed=0
    )
    layer.check_invariants()
    x = torch.randn(3, 4, 5, 5, dtype=torch.float64)
    y = layer(x)
    # Each pixel's channel vector keeps its norm (the centre tap's columns are orthonormal).
    assert torch.allclose(y.pow(2).sum(1), x.pow(2).sum(1), rtol=1e-12, atol=0)
    with pytest.raises(
        ValueError, match=r"out_channels >= in_channels.*out_channels=4, in_channels=8"
    ):
        initconv.DeltaOrthogonalConvTranspose2d(8, 4, 3)


def test_orthogonal_transposed_upsampling_is_an_isometry_in_the_transposed_layout() -> None:
    # Stride = kernel: each input pixel scatters to its own output patch through W^T, and the
    # weight (in, out / groups * taps) has orthonormal rows when in <= out * taps.
    layer = initconv.OrthogonalConvTranspose2d(
        8, 4, 2, stride=2, bias=False, dtype=torch.float64, seed=0
    )
    layer.check_invariants()
    x = torch.randn(3, 8, 4, 4, dtype=torch.float64)
    assert torch.allclose(layer(x).pow(2).sum(), x.pow(2).sum(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_icnr_then_pixel_shuffle_starts_as_nearest_neighbour_upsampling_in_every_dimension(
    d: int,
) -> None:
    cls = initconv.layer_class("icnr", (nn.Conv1d, nn.Conv2d, nn.Conv3d)[d - 1])
    layer = cls(
        3, 2 * 2**d, 3, padding=1, upscale_factor=2, bias_init=0.5, dtype=torch.float64, seed=1
    )
    layer.check_invariants()
    x = torch.randn(2, 3, *([4] * d), dtype=torch.float64)
    up = initconv.pixel_shuffle(layer(x), 2)
    conv = getattr(F, f"conv{d}d")
    sub = conv(x, layer.weight[:: 2**d], layer.bias[:: 2**d], padding=1)
    for dim in range(2, 2 + d):
        sub = sub.repeat_interleave(2, dim=dim)
    # The same sums, but each convolution may take another summation order: float64 rounding.
    assert torch.allclose(up, sub, rtol=1e-12, atol=1e-12)


def test_pixel_shuffle_is_torchs_in_two_dimensions() -> None:
    x = torch.randn(2, 12, 3, 5)
    assert torch.equal(initconv.PixelShuffle(2)(x), nn.PixelShuffle(2)(x))
    with pytest.raises(
        ValueError, match=r"channels \(12\) must be divisible by upscale_factor\*\*3 = 27"
    ):
        initconv.pixel_shuffle(torch.randn(1, 12, 2, 2, 2), 3)


# --- A scheme written once serves every kind -----------------------------------------------------


class _QuarterHe(initconv.Scheme):
    """He normal at a quarter of the variance: Var(W) = g^2 / (4 fan_in)."""

    default_activation = "relu"

    def configure(self, *, shrink: float = 4.0) -> None:
        self.shrink = shrink

    def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
        weight.normal_(0.0, self.gain / math.sqrt(self.shrink * self.fan_in), generator=generator)

    def expected_variance(self) -> float:
        return self.gain**2 / (self.shrink * self.fan_in)

    def expected_distribution(self) -> str:
        return "normal"


def test_a_users_scheme_written_once_passes_check_scheme_on_conv1d_conv3d_transposed_and_linear() -> (
    None
):
    report = check_scheme(
        _QuarterHe, kinds=("conv1d", "conv3d", "conv_transpose2d", "linear"), activation="gelu"
    )
    assert report.kinds == (nn.Conv1d, nn.Conv3d, nn.ConvTranspose2d, nn.Linear)
    assert "variance" in report.checks


def test_a_users_scheme_that_misstates_a_transposed_fan_fails_check_scheme() -> None:
    class TorchFans(_QuarterHe):
        """Draws with torch's swapped transposed fan_in, claims the stride-aware one."""

        def init_weight(self, weight: Tensor, generator: torch.Generator | None) -> None:
            torch_fan_in = weight.shape[1] * math.prod(weight.shape[2:])
            std = self.gain / math.sqrt(self.shrink * torch_fan_in)
            weight.normal_(0.0, std, generator=generator)

    check_scheme(TorchFans, kinds=("conv2d", "linear"))  # right where torch's fans are right
    with pytest.raises(AssertionError, match="variance does not match"):
        check_scheme(TorchFans, kinds=("conv_transpose2d",))


def test_a_users_scheme_pickles_from_the_class_made_for_it() -> None:
    layer = initconv.conv_transpose1d(_QuarterHe, 4, 8, 3, shrink=2.0, seed=4)
    clone = pickle.loads(pickle.dumps(layer))
    assert type(clone) is type(layer) is initconv.layer_class(_QuarterHe, nn.ConvTranspose1d)
    assert (clone.shrink, torch.equal(clone.weight, layer.weight)) == (2.0, True)
    assert isinstance(clone, nn.ConvTranspose1d)
    assert isinstance(clone, _QuarterHe)


# --- Model-level tools on every kind -------------------------------------------------------------


def _mixed() -> nn.Sequential:
    return nn.Sequential(
        initconv.KaimingNormalConv1d(2, 8, 3, padding=1),
        nn.ReLU(),
        initconv.KaimingNormalConvTranspose1d(8, 8, 2, stride=2),
        nn.Tanh(),
        nn.Flatten(),
        initconv.XavierNormalLinear(8 * 16, 4),
    )


def test_seed_modules_lsuv_and_propagation_cover_every_kind() -> None:
    model = _mixed()
    seeds = initconv.seed_modules(model, 0)
    assert sorted(seeds) == ["0", "2", "5"]
    x = torch.randn(16, 2, 8, generator=torch.Generator().manual_seed(0))
    report = initconv.lsuv_(model, x)
    assert [row.name for row in report] == ["0", "2", "5"]
    assert all(abs(row.variance - 1) <= 0.02 for row in report)
    table = initconv.diagnostics.propagation(model, x)
    assert [row.name for row in table] == ["0", "2", "5"]
    assert [row.scheme for row in table] == ["kaiming_normal", "kaiming_normal", "xavier_normal"]


def test_convert_restricted_by_layers_leaves_the_other_kinds_alone() -> None:
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(24, 3))
    report = initconv.convert(model, layers=["conv1d"], reinit=False)
    assert [row.name for row in report.converted] == ["0"]
    assert type(model[3]) is nn.Linear
    with pytest.raises(TypeError, match=r"no meaning for nn\.Linear"):
        initconv.convert(model, "delta_orthogonal", layers=[nn.Linear])
    with pytest.raises(
        ValueError, match=r"kind must be one of .*'linear'.*got 'lineer'.*'linear'\?"
    ):
        initconv.convert(model, layers="lineer")
