"""initconv: convolution layers that initialise themselves correctly for their activation.

Replace ``from torch.nn import Conv2d`` with ``from initconv import KaimingNormalConv2d as Conv2d``
and declare the activation that follows each layer::

    conv = Conv2d(64, 128, 3, padding=1, activation="gelu")
"""

from initconv import diagnostics as diagnostics
from initconv._activations import ActivationSpec, activations, gain, register_activation
from initconv._base import BiasInit, InitConv2d, conv2d, schemes
from initconv._convert import ConversionReport, ConversionRow, convert, to_torch
from initconv._distributed import module_seed, seed_modules
from initconv._fans import fans
from initconv._functional import (
    Distribution,
    FanMode,
    delta_orthogonal_,
    icnr_,
    identity_,
    orthogonal_,
    variance_scaling_,
)
from initconv._lsuv import LSUVReport, LSUVRow, lsuv_
from initconv._schemes import (
    GlorotNormalConv2d,
    GlorotUniformConv2d,
    HeNormalConv2d,
    HeUniformConv2d,
    KaimingNormalConv2d,
    KaimingUniformConv2d,
    LeCunNormalConv2d,
    LeCunUniformConv2d,
    NormalConv2d,
    TorchDefaultConv2d,
    UniformConv2d,
    VarianceScalingConv2d,
    XavierNormalConv2d,
    XavierUniformConv2d,
)
from initconv._structured import (
    DeltaOrthogonalConv2d,
    ICNRConv2d,
    IdentityConv2d,
    OrthogonalConv2d,
    ZeroConv2d,
)

__version__ = "0.1.0"

__all__ = [
    "ActivationSpec",
    "BiasInit",
    "ConversionReport",
    "ConversionRow",
    "DeltaOrthogonalConv2d",
    "Distribution",
    "FanMode",
    "GlorotNormalConv2d",
    "GlorotUniformConv2d",
    "HeNormalConv2d",
    "HeUniformConv2d",
    "ICNRConv2d",
    "IdentityConv2d",
    "InitConv2d",
    "KaimingNormalConv2d",
    "KaimingUniformConv2d",
    "LSUVReport",
    "LSUVRow",
    "LeCunNormalConv2d",
    "LeCunUniformConv2d",
    "NormalConv2d",
    "OrthogonalConv2d",
    "TorchDefaultConv2d",
    "UniformConv2d",
    "VarianceScalingConv2d",
    "XavierNormalConv2d",
    "XavierUniformConv2d",
    "ZeroConv2d",
    "__version__",
    "activations",
    "conv2d",
    "convert",
    "delta_orthogonal_",
    "fans",
    "gain",
    "icnr_",
    "identity_",
    "lsuv_",
    "module_seed",
    "orthogonal_",
    "register_activation",
    "schemes",
    "seed_modules",
    "to_torch",
    "variance_scaling_",
]
