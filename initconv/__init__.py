"""initconv: torch layers that initialise themselves correctly for their activation.

Replace ``from torch.nn import Conv2d`` with ``from initconv import KaimingNormalConv2d as Conv2d``
and declare the activation that follows each layer::

    conv = Conv2d(64, 128, 3, padding=1, activation="gelu")

Every scheme serves every layer kind it has a meaning for: ``nn.Conv1d/2d/3d``,
``nn.ConvTranspose1d/2d/3d`` and ``nn.Linear`` (``KaimingNormalConvTranspose2d``,
``XavierUniformLinear``, ...).

Wings, each a folder (imports run down this list, never up):

- ``_validate``: checks of user input and their messages, one set for the whole package.
- ``_maths/``: quadrature, zero-mean samplers, generators from seeds, orthogonality, fans, derived gains.
- ``_activations``: activation specs to a name, a gain and a function; one record per built-in.
- ``_meanfield/``: Gaussian moments, the variance and correlation maps, the critical line.
- ``_inference/``: graph nodes and their roles, the rule, symbolic and recorded inference, branches.
- ``_schemes/``: :class:`Scheme` and its registry, iid, structured, critical, bias, in-place inits.
- ``_layers/``: the reset contract, the seven kinds, pairing, the named pairs, sharding, calibration.
- ``_model/``: convert/to_torch and its report, surgery, seeding, LSUV, residual init, µP.
- ``diagnostics/``, ``testing/``, ``_cli/``: diagnostics, the statistical kit, ``python -m initconv``.
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
from initconv._model.convert import ConversionReport, convert, to_torch
from initconv._model.convert import ConversionRow as ConversionRow  # for annotations
from initconv._model.lsuv import LSUVReport, lsuv_
from initconv._model.lsuv import LSUVRow as LSUVRow  # for annotations
from initconv._model.mup import MuPReport, mup_
from initconv._model.mup import MuPRow as MuPRow  # for annotations
from initconv._model.param_groups import param_groups
from initconv._model.residual import GATE, ResidualReport, residual_init_
from initconv._model.residual import ResidualRow as ResidualRow  # for annotations
from initconv._model.seeding import module_seed, seed_modules
from initconv._schemes.base import BiasInit, Layout, Scheme, schemes
from initconv._schemes.critical import Critical
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
    "Critical",
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
    "Layout",
    "LeCunNormal",
    "LeCunUniform",
    "MuPReport",
    "Normal",
    "Orthogonal",
    "PixelShuffle",
    "ResidualReport",
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
    "mup_",
    "orthogonal_",
    "param_groups",
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
