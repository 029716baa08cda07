"""Every built-in (scheme, layer kind) pair, by name: ``<Scheme><Kind>``.

Each class is the scheme's maths on the torch layer's class: ``KaimingNormalConvTranspose2d`` is an
``nn.ConvTranspose2d`` whose ``reset_parameters()`` draws He normal with the stride-aware fans. Its
docstring is the scheme's. A pair is missing only where the scheme has no meaning for the kind
(delta-orthogonal needs a kernel; ICNR a pixel shuffle after a convolution).
"""

from __future__ import annotations

from initconv._layers.kinds import (
    InitConv1d,
    InitConv2d,
    InitConv3d,
    InitConvTranspose1d,
    InitConvTranspose2d,
    InitConvTranspose3d,
    InitLinear,
)
from initconv._schemes.critical import Critical
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

__all__ = [
    "CriticalConv1d",
    "CriticalConv2d",
    "CriticalConv3d",
    "CriticalConvTranspose1d",
    "CriticalConvTranspose2d",
    "CriticalConvTranspose3d",
    "CriticalLinear",
    "DeltaOrthogonalConv1d",
    "DeltaOrthogonalConv2d",
    "DeltaOrthogonalConv3d",
    "DeltaOrthogonalConvTranspose1d",
    "DeltaOrthogonalConvTranspose2d",
    "DeltaOrthogonalConvTranspose3d",
    "ICNRConv1d",
    "ICNRConv2d",
    "ICNRConv3d",
    "IdentityConv1d",
    "IdentityConv2d",
    "IdentityConv3d",
    "IdentityConvTranspose1d",
    "IdentityConvTranspose2d",
    "IdentityConvTranspose3d",
    "IdentityLinear",
    "KaimingNormalConv1d",
    "KaimingNormalConv2d",
    "KaimingNormalConv3d",
    "KaimingNormalConvTranspose1d",
    "KaimingNormalConvTranspose2d",
    "KaimingNormalConvTranspose3d",
    "KaimingNormalLinear",
    "KaimingUniformConv1d",
    "KaimingUniformConv2d",
    "KaimingUniformConv3d",
    "KaimingUniformConvTranspose1d",
    "KaimingUniformConvTranspose2d",
    "KaimingUniformConvTranspose3d",
    "KaimingUniformLinear",
    "LeCunNormalConv1d",
    "LeCunNormalConv2d",
    "LeCunNormalConv3d",
    "LeCunNormalConvTranspose1d",
    "LeCunNormalConvTranspose2d",
    "LeCunNormalConvTranspose3d",
    "LeCunNormalLinear",
    "LeCunUniformConv1d",
    "LeCunUniformConv2d",
    "LeCunUniformConv3d",
    "LeCunUniformConvTranspose1d",
    "LeCunUniformConvTranspose2d",
    "LeCunUniformConvTranspose3d",
    "LeCunUniformLinear",
    "NormalConv1d",
    "NormalConv2d",
    "NormalConv3d",
    "NormalConvTranspose1d",
    "NormalConvTranspose2d",
    "NormalConvTranspose3d",
    "NormalLinear",
    "OrthogonalConv1d",
    "OrthogonalConv2d",
    "OrthogonalConv3d",
    "OrthogonalConvTranspose1d",
    "OrthogonalConvTranspose2d",
    "OrthogonalConvTranspose3d",
    "OrthogonalLinear",
    "TorchDefaultConv1d",
    "TorchDefaultConv2d",
    "TorchDefaultConv3d",
    "TorchDefaultConvTranspose1d",
    "TorchDefaultConvTranspose2d",
    "TorchDefaultConvTranspose3d",
    "TorchDefaultLinear",
    "UniformConv1d",
    "UniformConv2d",
    "UniformConv3d",
    "UniformConvTranspose1d",
    "UniformConvTranspose2d",
    "UniformConvTranspose3d",
    "UniformLinear",
    "VarianceScalingConv1d",
    "VarianceScalingConv2d",
    "VarianceScalingConv3d",
    "VarianceScalingConvTranspose1d",
    "VarianceScalingConvTranspose2d",
    "VarianceScalingConvTranspose3d",
    "VarianceScalingLinear",
    "XavierNormalConv1d",
    "XavierNormalConv2d",
    "XavierNormalConv3d",
    "XavierNormalConvTranspose1d",
    "XavierNormalConvTranspose2d",
    "XavierNormalConvTranspose3d",
    "XavierNormalLinear",
    "XavierUniformConv1d",
    "XavierUniformConv2d",
    "XavierUniformConv3d",
    "XavierUniformConvTranspose1d",
    "XavierUniformConvTranspose2d",
    "XavierUniformConvTranspose3d",
    "XavierUniformLinear",
    "ZeroConv1d",
    "ZeroConv2d",
    "ZeroConv3d",
    "ZeroConvTranspose1d",
    "ZeroConvTranspose2d",
    "ZeroConvTranspose3d",
    "ZeroLinear",
]


class KaimingNormalConv1d(KaimingNormal, InitConv1d): ...


class KaimingNormalConv2d(KaimingNormal, InitConv2d): ...


class KaimingNormalConv3d(KaimingNormal, InitConv3d): ...


class KaimingNormalConvTranspose1d(KaimingNormal, InitConvTranspose1d): ...


class KaimingNormalConvTranspose2d(KaimingNormal, InitConvTranspose2d): ...


class KaimingNormalConvTranspose3d(KaimingNormal, InitConvTranspose3d): ...


class KaimingNormalLinear(KaimingNormal, InitLinear): ...


class KaimingUniformConv1d(KaimingUniform, InitConv1d): ...


class KaimingUniformConv2d(KaimingUniform, InitConv2d): ...


class KaimingUniformConv3d(KaimingUniform, InitConv3d): ...


class KaimingUniformConvTranspose1d(KaimingUniform, InitConvTranspose1d): ...


class KaimingUniformConvTranspose2d(KaimingUniform, InitConvTranspose2d): ...


class KaimingUniformConvTranspose3d(KaimingUniform, InitConvTranspose3d): ...


class KaimingUniformLinear(KaimingUniform, InitLinear): ...


class XavierNormalConv1d(XavierNormal, InitConv1d): ...


class XavierNormalConv2d(XavierNormal, InitConv2d): ...


class XavierNormalConv3d(XavierNormal, InitConv3d): ...


class XavierNormalConvTranspose1d(XavierNormal, InitConvTranspose1d): ...


class XavierNormalConvTranspose2d(XavierNormal, InitConvTranspose2d): ...


class XavierNormalConvTranspose3d(XavierNormal, InitConvTranspose3d): ...


class XavierNormalLinear(XavierNormal, InitLinear): ...


class XavierUniformConv1d(XavierUniform, InitConv1d): ...


class XavierUniformConv2d(XavierUniform, InitConv2d): ...


class XavierUniformConv3d(XavierUniform, InitConv3d): ...


class XavierUniformConvTranspose1d(XavierUniform, InitConvTranspose1d): ...


class XavierUniformConvTranspose2d(XavierUniform, InitConvTranspose2d): ...


class XavierUniformConvTranspose3d(XavierUniform, InitConvTranspose3d): ...


class XavierUniformLinear(XavierUniform, InitLinear): ...


class LeCunNormalConv1d(LeCunNormal, InitConv1d): ...


class LeCunNormalConv2d(LeCunNormal, InitConv2d): ...


class LeCunNormalConv3d(LeCunNormal, InitConv3d): ...


class LeCunNormalConvTranspose1d(LeCunNormal, InitConvTranspose1d): ...


class LeCunNormalConvTranspose2d(LeCunNormal, InitConvTranspose2d): ...


class LeCunNormalConvTranspose3d(LeCunNormal, InitConvTranspose3d): ...


class LeCunNormalLinear(LeCunNormal, InitLinear): ...


class LeCunUniformConv1d(LeCunUniform, InitConv1d): ...


class LeCunUniformConv2d(LeCunUniform, InitConv2d): ...


class LeCunUniformConv3d(LeCunUniform, InitConv3d): ...


class LeCunUniformConvTranspose1d(LeCunUniform, InitConvTranspose1d): ...


class LeCunUniformConvTranspose2d(LeCunUniform, InitConvTranspose2d): ...


class LeCunUniformConvTranspose3d(LeCunUniform, InitConvTranspose3d): ...


class LeCunUniformLinear(LeCunUniform, InitLinear): ...


class VarianceScalingConv1d(VarianceScaling, InitConv1d): ...


class VarianceScalingConv2d(VarianceScaling, InitConv2d): ...


class VarianceScalingConv3d(VarianceScaling, InitConv3d): ...


class VarianceScalingConvTranspose1d(VarianceScaling, InitConvTranspose1d): ...


class VarianceScalingConvTranspose2d(VarianceScaling, InitConvTranspose2d): ...


class VarianceScalingConvTranspose3d(VarianceScaling, InitConvTranspose3d): ...


class VarianceScalingLinear(VarianceScaling, InitLinear): ...


class UniformConv1d(Uniform, InitConv1d): ...


class UniformConv2d(Uniform, InitConv2d): ...


class UniformConv3d(Uniform, InitConv3d): ...


class UniformConvTranspose1d(Uniform, InitConvTranspose1d): ...


class UniformConvTranspose2d(Uniform, InitConvTranspose2d): ...


class UniformConvTranspose3d(Uniform, InitConvTranspose3d): ...


class UniformLinear(Uniform, InitLinear): ...


class NormalConv1d(Normal, InitConv1d): ...


class NormalConv2d(Normal, InitConv2d): ...


class NormalConv3d(Normal, InitConv3d): ...


class NormalConvTranspose1d(Normal, InitConvTranspose1d): ...


class NormalConvTranspose2d(Normal, InitConvTranspose2d): ...


class NormalConvTranspose3d(Normal, InitConvTranspose3d): ...


class NormalLinear(Normal, InitLinear): ...


class TorchDefaultConv1d(TorchDefault, InitConv1d): ...


class TorchDefaultConv2d(TorchDefault, InitConv2d): ...


class TorchDefaultConv3d(TorchDefault, InitConv3d): ...


class TorchDefaultConvTranspose1d(TorchDefault, InitConvTranspose1d): ...


class TorchDefaultConvTranspose2d(TorchDefault, InitConvTranspose2d): ...


class TorchDefaultConvTranspose3d(TorchDefault, InitConvTranspose3d): ...


class TorchDefaultLinear(TorchDefault, InitLinear): ...


class OrthogonalConv1d(Orthogonal, InitConv1d): ...


class OrthogonalConv2d(Orthogonal, InitConv2d): ...


class OrthogonalConv3d(Orthogonal, InitConv3d): ...


class OrthogonalConvTranspose1d(Orthogonal, InitConvTranspose1d): ...


class OrthogonalConvTranspose2d(Orthogonal, InitConvTranspose2d): ...


class OrthogonalConvTranspose3d(Orthogonal, InitConvTranspose3d): ...


class OrthogonalLinear(Orthogonal, InitLinear): ...


class DeltaOrthogonalConv1d(DeltaOrthogonal, InitConv1d): ...


class DeltaOrthogonalConv2d(DeltaOrthogonal, InitConv2d): ...


class DeltaOrthogonalConv3d(DeltaOrthogonal, InitConv3d): ...


class DeltaOrthogonalConvTranspose1d(DeltaOrthogonal, InitConvTranspose1d): ...


class DeltaOrthogonalConvTranspose2d(DeltaOrthogonal, InitConvTranspose2d): ...


class DeltaOrthogonalConvTranspose3d(DeltaOrthogonal, InitConvTranspose3d): ...


class IdentityConv1d(Identity, InitConv1d): ...


class IdentityConv2d(Identity, InitConv2d): ...


class IdentityConv3d(Identity, InitConv3d): ...


class IdentityConvTranspose1d(Identity, InitConvTranspose1d): ...


class IdentityConvTranspose2d(Identity, InitConvTranspose2d): ...


class IdentityConvTranspose3d(Identity, InitConvTranspose3d): ...


class IdentityLinear(Identity, InitLinear): ...


class ICNRConv1d(ICNR, InitConv1d): ...


class ICNRConv2d(ICNR, InitConv2d): ...


class ICNRConv3d(ICNR, InitConv3d): ...


class ZeroConv1d(Zero, InitConv1d): ...


class ZeroConv2d(Zero, InitConv2d): ...


class ZeroConv3d(Zero, InitConv3d): ...


class ZeroConvTranspose1d(Zero, InitConvTranspose1d): ...


class ZeroConvTranspose2d(Zero, InitConvTranspose2d): ...


class ZeroConvTranspose3d(Zero, InitConvTranspose3d): ...


class ZeroLinear(Zero, InitLinear): ...


class CriticalConv1d(Critical, InitConv1d): ...


class CriticalConv2d(Critical, InitConv2d): ...


class CriticalConv3d(Critical, InitConv3d): ...


class CriticalConvTranspose1d(Critical, InitConvTranspose1d): ...


class CriticalConvTranspose2d(Critical, InitConvTranspose2d): ...


class CriticalConvTranspose3d(Critical, InitConvTranspose3d): ...


class CriticalLinear(Critical, InitLinear): ...
