"""initconv: torch layers that initialise themselves correctly for their activation.

Replace ``from torch.nn import Conv2d`` with ``from initconv import KaimingNormalConv2d as Conv2d``
and declare the activation that follows each layer::

    conv = Conv2d(64, 128, 3, padding=1, activation="gelu")

Every scheme serves every layer kind it has a meaning for: ``nn.Conv1d/2d/3d``,
``nn.ConvTranspose1d/2d/3d`` and ``nn.Linear`` (``KaimingNormalConvTranspose2d``,
``XavierUniformLinear``, ...).

Module map (one job each; imports go down this list, never up):

- ``_validate``: checks of user input and their messages.
- ``_quadrature``, ``_fans``, ``_sharding``, ``_sampling``, ``_orthogonality``, ``_rng``: leaves
  (Gaussian expectations, fans of a layer, DTensor shards, zero-mean samplers, the orthogonality
  tolerance, seeds to generators).
- ``_derived``: the derived gain of any callable, after probing that it is elementwise.
- ``_functional``: the public in-place initialisers (``variance_scaling_``, ``orthogonal_``, ...).
- ``_activations``: activation specs to a name, a gain and a function; one record per built-in.
- ``_bias_init``: ``bias_init`` and ``bias_std``: checks, the draw and its theory.
- ``_gaussian``: Gaussian moments of an activation, for mean-field theory.
- ``_calibration``: an LSUV calibration as validated state.
- ``_scheme``: :class:`Scheme`, the hooks and theory a scheme states, and the scheme registry.
- ``_pairing``: which layer class pairs a scheme with a kind (:func:`layer_class`).
- ``_layer``: :class:`InitLayer`, the reset contract every layer keeps.
- ``_kinds``: the seven layer kinds (``InitConv2d``, ``InitLinear``, ...) and their factories.
- ``_schemes``, ``_structured``: the iid and the structured schemes, each written once.
- ``_critical``, ``_critical_scheme``: the critical line (:func:`critical`) and the
  ``"critical"`` scheme on it.
- ``_layers``: the built-in (scheme, kind) classes by name.
- ``_shuffle``: pixel shuffle in any dimension, for ICNR.
- ``_seeding``: per-layer seeds from a model seed.
- ``_steps``, ``_gates``, ``_walk``: the inference rule (what each step of a graph is, which
  branches only gate a tensor, the walk from a layer to its activation).
- ``_isolation``, ``_trace``, ``_runtime``, ``_infer``: copies to infer on, the rule on torch.fx
  graphs and on a recorded run, and inference on top of them.
- ``_surgery``, ``_report``, ``_conversion``, ``_convert``: module swaps with undo, report tables,
  the conversion report, and :func:`convert`/:func:`to_torch`.
- ``_lsuv``: LSUV calibration.
- ``_branches``, ``_residual``: residual branches read from the traced graph, and
  :func:`residual_init_` (zero, Fixup, SkipInit) on them.
- ``diagnostics``: mean-field maps, signal propagation, Jacobian spectra.
- ``testing``: the statistical kit (laws, assertions, scheme checks, Hypothesis strategies).
- ``__main__`` with ``_demo``, ``_convert_cli``, ``_gains_cli``, ``_schemes_cli``:
  ``python -m initconv``.
"""

from initconv import diagnostics
from initconv._activations import ActivationSpec, activations, gain, register_activation
from initconv._layers import pairs as _pairs
from initconv._layers.base import InitLayer
from initconv._layers.kinds import (
    InitConv1d,
    InitConv2d,
    InitConv3d,
    InitConvTranspose1d,
    InitConvTranspose2d,
    InitConvTranspose3d,
    InitLinear,
    conv1d,
    conv2d,
    conv3d,
    conv_transpose1d,
    conv_transpose2d,
    conv_transpose3d,
    linear,
)
from initconv._layers.pairing import layer_class
from initconv._layers.pairs import *  # noqa: F403  (the pairs, listed in _layers.__all__)
from initconv._layers.pixel_shuffle import PixelShuffle, pixel_shuffle
from initconv._maths.fans import fans
from initconv._maths.generators import seeded_generator
from initconv._maths.sampling import Distribution, FanMode
from initconv._meanfield.critical_line import CriticalPoint, critical
from initconv._model.convert import ConversionReport, ConversionRow, convert, to_torch
from initconv._model.lsuv import LSUVReport, LSUVRow, lsuv_
from initconv._model.residual import GATE, ResidualReport, ResidualRow, residual_init_
from initconv._model.seeding import module_seed, seed_modules
from initconv._schemes.base import BiasInit, Layout, Scheme, schemes
from initconv._schemes.critical import (
    Critical,
    CriticalConv1d,
    CriticalConv2d,
    CriticalConv3d,
    CriticalConvTranspose1d,
    CriticalConvTranspose2d,
    CriticalConvTranspose3d,
    CriticalLinear,
)
from initconv._schemes.functional import (
    delta_orthogonal_,
    icnr_,
    identity_,
    orthogonal_,
    variance_scaling_,
)
from initconv._schemes.iid import (
    KaimingNormal,
    KaimingUniform,
    LeCunNormal,
    LeCunUniform,
    Normal,
    TorchDefault,
    Uniform,
    VarianceScaling,
    XavierNormal,
    XavierUniform,
)
from initconv._schemes.structured import ICNR, DeltaOrthogonal, Identity, Orthogonal, Zero

__version__ = "0.2.0"

__all__ = [
    "GATE",
    "ICNR",
    "ActivationSpec",
    "BiasInit",
    "ConversionReport",
    "ConversionRow",
    "Critical",
    "CriticalConv1d",
    "CriticalConv2d",
    "CriticalConv3d",
    "CriticalConvTranspose1d",
    "CriticalConvTranspose2d",
    "CriticalConvTranspose3d",
    "CriticalLinear",
    "CriticalPoint",
    "DeltaOrthogonal",
    "Distribution",
    "FanMode",
    "Identity",
    "InitConv1d",
    "InitConv2d",
    "InitConv3d",
    "InitConvTranspose1d",
    "InitConvTranspose2d",
    "InitConvTranspose3d",
    "InitLayer",
    "InitLinear",
    "KaimingNormal",
    "KaimingUniform",
    "LSUVReport",
    "LSUVRow",
    "Layout",
    "LeCunNormal",
    "LeCunUniform",
    "Normal",
    "Orthogonal",
    "PixelShuffle",
    "ResidualReport",
    "ResidualRow",
    "Scheme",
    "TorchDefault",
    "Uniform",
    "VarianceScaling",
    "XavierNormal",
    "XavierUniform",
    "Zero",
    "__version__",
    "activations",
    "conv1d",
    "conv2d",
    "conv3d",
    "conv_transpose1d",
    "conv_transpose2d",
    "conv_transpose3d",
    "convert",
    "critical",
    "delta_orthogonal_",
    "diagnostics",
    "fans",
    "gain",
    "icnr_",
    "identity_",
    "layer_class",
    "linear",
    "lsuv_",
    "module_seed",
    "orthogonal_",
    "pixel_shuffle",
    "register_activation",
    "residual_init_",
    "schemes",
    "seed_modules",
    "seeded_generator",
    "to_torch",
    "variance_scaling_",
]
__all__ += _pairs.__all__
