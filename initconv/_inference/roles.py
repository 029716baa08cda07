"""What one step of a model's graph is to the inference rule: an activation, a weight layer, a
pass-through, a use of metadata only, or something the rule does not know.

The tables name torch's own modules, functions and tensor methods; a node of a ``torch.fx`` graph
(traced or recorded at run time) is classified by :func:`role`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, fx, nn

from initconv._activations import function_name, is_activation_module
from initconv._maths.fans import KINDS

__all__: list[str] = []


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _existing(owner: object, names: str) -> tuple[Any, ...]:
    """The attributes of ``owner`` named in ``names`` that this torch version has."""
    found = (getattr(owner, name, None) for name in _words(names))
    return tuple(value for value in found if value is not None)


def passthrough(x: Tensor) -> Tensor:
    """A norm, dropout or pooling module's own forward, as one step of a traced graph."""
    return x


# Shape-preserving or gain-preserving steps between a layer and its activation: norms, dropout,
# pooling, reshapes, padding, resampling and concatenation.
PASS_MODULES: tuple[type[nn.Module], ...] = _existing(
    nn,
    "BatchNorm1d BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d LazyBatchNorm3d "
    "SyncBatchNorm InstanceNorm1d InstanceNorm2d InstanceNorm3d LazyInstanceNorm1d "
    "LazyInstanceNorm2d LazyInstanceNorm3d LayerNorm GroupNorm LocalResponseNorm RMSNorm "
    "CrossMapLRN2d Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout "
    "MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d "
    "AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d "
    "LPPool1d LPPool2d LPPool3d FractionalMaxPool2d FractionalMaxPool3d Identity Flatten "
    "Unflatten Upsample UpsamplingNearest2d UpsamplingBilinear2d PixelShuffle PixelUnshuffle "
    "ChannelShuffle ZeroPad1d ZeroPad2d ZeroPad3d ConstantPad1d ConstantPad2d ConstantPad3d "
    "ReflectionPad1d ReflectionPad2d ReflectionPad3d ReplicationPad1d ReplicationPad2d "
    "ReplicationPad3d CircularPad1d CircularPad2d CircularPad3d",
)
# The forwards that make a module a pass-through: a subclass that overrides forward() (a norm
# that applies an activation itself) is looked into instead.
_PASS_FORWARDS = frozenset(cls.forward for cls in PASS_MODULES)
_POOL_MODULES: tuple[type[nn.Module], ...] = _existing(
    nn,
    "MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d "
    "AdaptiveAvgPool2d AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d",
)
# Layers whose output is a linear map of their input: "the next weight layer".
WEIGHT_MODULES: tuple[type[nn.Module], ...] = (*KINDS, nn.Bilinear, nn.MultiheadAttention)

# Linear reductions (sum, mean) keep the gain's meaning, as a residual add does: the activation
# after them acts on a linear map of the layer's output. amax and amin pick values, as max pooling
# (already skipped) does. std, var, norm, logsumexp and prod are not pass-throughs: their output
# is a statistic of the values, not the values.
_REDUCTIONS = "sum mean nansum nanmean amax amin"
_POOLS = (
    "adaptive_avg_pool1d adaptive_avg_pool2d adaptive_avg_pool3d adaptive_max_pool1d "
    "adaptive_max_pool2d adaptive_max_pool3d max_pool1d max_pool2d max_pool3d avg_pool1d "
    "avg_pool2d avg_pool3d"
)
_PASS_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        F,
        "batch_norm instance_norm layer_norm group_norm local_response_norm rms_norm normalize "
        "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout lp_pool1d "
        "lp_pool2d lp_pool3d interpolate upsample pad pixel_shuffle pixel_unshuffle "
        f"channel_shuffle unfold fold {_POOLS}",
    )
    + _existing(
        torch,
        "flatten unflatten reshape permute transpose swapaxes movedim squeeze unsqueeze cat concat "
        "concatenate stack chunk split tensor_split unbind narrow select roll flip add sub mul div "
        "broadcast_to "
        f"true_divide clone channel_shuffle pixel_shuffle pixel_unshuffle {_REDUCTIONS}",
    )
    + _existing(operator, "add iadd sub isub mul imul truediv itruediv getitem setitem neg pos")
    + (passthrough,)
)
_PASS_METHODS = frozenset(
    _words(
        "view view_as reshape reshape_as flatten unflatten permute transpose swapaxes movedim "
        "contiguous squeeze squeeze_ unsqueeze unsqueeze_ chunk split tensor_split unbind narrow "
        "select roll flip expand expand_as broadcast_to repeat clone to float half double bfloat16 "
        "type_as unfold "
        "add add_ sub sub_ mul mul_ div div_ true_divide neg getitem setitem detach "
        f"{_REDUCTIONS}"
    )
)
# Uses of a tensor's metadata or shape, not of its values.
_META_METHODS = frozenset(
    _words(
        "size dim numel shape dtype device ndim is_contiguous stride storage_offset element_size "
        "is_floating_point is_complex requires_grad get_device nelement layout is_cuda is_sparse "
        "data_ptr new_empty new_zeros new_ones new_full __len__ is_quantized is_meta"
    )
)
_META_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(torch, "empty_like zeros_like ones_like full_like rand_like randn_like numel")
)
_META_ATTRIBUTES = frozenset({"shape", "dtype", "device", "ndim"})
_WEIGHT_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        F,
        "conv1d conv2d conv3d conv_transpose1d conv_transpose2d conv_transpose3d linear bilinear "
        "scaled_dot_product_attention multi_head_attention_forward",
    )
    + _existing(torch, "matmul mm bmm baddbmm addmm einsum conv1d conv2d conv3d")
    + (operator.matmul,)
)
_WEIGHT_METHODS = frozenset({"matmul", "mm", "bmm"})

# Arithmetic by the kind of factor a gate branch may end as (``gates``).
_ARITHMETIC = {
    "mul": (frozenset({operator.mul, operator.imul, torch.mul}), frozenset({"mul", "mul_"})),
    "div": (
        frozenset({operator.truediv, operator.itruediv, torch.div}),
        frozenset({"div", "div_"}),
    ),
    "sub": (frozenset({operator.sub, operator.isub, torch.sub}), frozenset({"sub", "sub_"})),
}
# Statistics of a tensor (a norm's variance, a gate's pooled value) and the elementwise maths
# around them: steps of a gate branch, never of the main path.
_STATISTIC_METHODS = frozenset(
    _words(f"{_REDUCTIONS} var std norm pow sqrt rsqrt square abs reciprocal clamp clamp_min")
)
_STATISTIC_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(
        torch,
        f"{_REDUCTIONS} var std var_mean std_mean norm pow sqrt rsqrt square abs reciprocal clamp",
    )
    + _existing(F, _POOLS)
)
# Uses that only decide control flow (``if y.abs().sum() > 0``): nothing of them flows on.
_STEERING_METHODS = frozenset(
    _words(
        "gt lt ge le eq ne any all isnan isinf isfinite abs item tolist __bool__ __int__ "
        f"__float__ __index__ {_REDUCTIONS} max min"
    )
)
_STEERING_FUNCTIONS: frozenset[object] = frozenset(
    _existing(torch, f"gt lt ge le eq ne any all isnan isinf isfinite abs {_REDUCTIONS} max min")
    + _existing(operator, "gt lt ge le eq ne truth")
    + (bool,)
)

NodeRole = Literal["meta", "activation", "weight", "pass", "logits", "module", "output", "other"]

# Normalised exponentials (softmax, log-softmax, softmin): their input is logits, and the scale of
# logits is the distribution's temperature, which no gain preserves; a layer that computes logits
# is linear, as a classifier's head and attention's queries and keys (whose product is the logits
# of a softmax) are.
_LOGITS_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(F, "softmax log_softmax softmin")
    + _existing(torch, "softmax log_softmax")
    + _existing(torch.special, "softmax log_softmax")
)
_LOGITS_METHODS = frozenset({"softmax", "log_softmax"})

# Norms that divide by a statistic of their input (a batch's in training, the regime an
# initialisation serves; a sample's or a group's always): what follows them does not depend on the
# scale of the value they normalise.
_NORMALISING_MODULES: tuple[type[nn.Module], ...] = (
    nn.modules.batchnorm._BatchNorm,
    nn.modules.instancenorm._InstanceNorm,
    *_existing(nn, "LayerNorm GroupNorm RMSNorm"),
)
_NORMALISING_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(F, "batch_norm instance_norm layer_norm group_norm rms_norm")
    + _existing(torch, "batch_norm instance_norm layer_norm group_norm rms_norm")
)

# --- Elementwise maths: what an activation written out is made of -------------------------------

# Arithmetic, by the operator it applies (function, method, in-place method): a region of an
# activation (``elementwise``) evaluates a node through these, with the operands in order.
ARITHMETIC_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "add": operator.add,
    "sub": operator.sub,
    "mul": operator.mul,
    "div": operator.truediv,
    "pow": operator.pow,
}
_ARITHMETIC_FUNCTIONS: dict[object, str] = {
    operator.add: "add",
    operator.iadd: "add",
    torch.add: "add",
    operator.sub: "sub",
    operator.isub: "sub",
    torch.sub: "sub",
    operator.mul: "mul",
    operator.imul: "mul",
    torch.mul: "mul",
    operator.truediv: "div",
    operator.itruediv: "div",
    torch.div: "div",
    torch.true_divide: "div",
    operator.pow: "pow",
    operator.ipow: "pow",
    torch.pow: "pow",
}
_ARITHMETIC_METHODS = {
    "add": "add",
    "add_": "add",
    "sub": "sub",
    "sub_": "sub",
    "mul": "mul",
    "mul_": "mul",
    "div": "div",
    "div_": "div",
    "true_divide": "div",
    "pow": "pow",
    "pow_": "pow",
}
# Functions of one element each: with constants for their other arguments, a step of an
# activation written out (``0.5 * x * (1 + tanh(...))``).
_MATH = (
    "tanh sigmoid exp exp2 expm1 log log1p log2 log10 sqrt rsqrt abs square reciprocal sin cos "
    "erf erfc erfinv atan arctan sinh cosh asinh clamp clamp_min clamp_max clip neg negative "
    "softplus sign"
)
_MATH_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(torch, _MATH)
    + _existing(torch.special, "erf erfc expit")
    + _existing(F, "softplus")
    + _existing(operator, "neg pos abs")
)
_MATH_METHODS = frozenset(
    {*_words(_MATH), *(f"{name}_" for name in _words(_MATH)), "abs", "neg", "pos"}
)
# Steps that give every element its own value back, as an activation region sees them: reshapes
# that keep the order of the elements, copies, casts, and dropout (the identity in eval mode, a
# random scale of unit mean in training).
_SAME_METHODS = frozenset(
    _words(
        "view view_as reshape reshape_as flatten unflatten contiguous squeeze unsqueeze clone to "
        "float half double bfloat16 type_as detach"
    )
)
_SAME_FUNCTIONS: frozenset[Callable[..., Any]] = frozenset(
    _existing(torch, "flatten unflatten reshape squeeze unsqueeze clone detach")
    + _existing(F, "dropout dropout1d dropout2d dropout3d alpha_dropout feature_alpha_dropout")
)
_SAME_MODULES: tuple[type[nn.Module], ...] = _existing(
    nn, "Dropout Dropout1d Dropout2d Dropout3d AlphaDropout FeatureAlphaDropout Identity Flatten"
)

ElementwiseKind = Literal["activation", "arithmetic", "math", "same"]


def arithmetic(node: fx.Node) -> str | None:
    """The arithmetic ``node`` applies (``"add"``, ``"sub"``, ``"mul"``, ``"div"``, ``"pow"``)."""
    if node.op == "call_function":
        try:
            return _ARITHMETIC_FUNCTIONS.get(node.target)
        except TypeError:  # an unhashable target
            return None
    if node.op == "call_method":
        return _ARITHMETIC_METHODS.get(str(node.target))
    return None


def elementwise(node: fx.Node, root: nn.Module) -> ElementwiseKind | None:
    """What ``node`` is as a step of an activation written out: a built-in activation,
    arithmetic, a function of one element, a step that keeps each element's value, or ``None``
    (not elementwise: a norm, a reduction, a weight op, a reshape that moves elements, ...)."""
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        if is_activation_module(module):
            return "activation"
        if isinstance(module, _SAME_MODULES) and type(module).forward in _PASS_FORWARDS:
            return "same"
        return None
    if node.op not in ("call_function", "call_method"):
        return None
    if activation_name(node) is not None:
        return "activation"
    if arithmetic(node) is not None:
        return "arithmetic"
    method = node.op == "call_method"
    try:
        if node.target in (_MATH_METHODS if method else _MATH_FUNCTIONS):
            return "math"
        if node.target in (_SAME_METHODS if method else _SAME_FUNCTIONS):
            return "same"
    except TypeError:  # an unhashable target
        return None
    return None


# Gated units torch computes whole, by the functions of their halves: F.glu(y) splits y in two
# along a dimension and returns a * sigmoid(b) (Dauphin et al. 2017).
_GATED: dict[object, tuple[str, str]] = {F.glu: ("linear", "sigmoid")}


def gated_halves(node: fx.Node, root: nn.Module) -> tuple[str, str] | None:
    """The functions of the two halves, if ``node`` computes a gated unit whole (``F.glu``,
    ``nn.GLU``)."""
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        return _GATED[F.glu] if type(module) is nn.GLU else None
    if node.op == "call_function":
        try:
            return _GATED.get(node.target)
        except TypeError:
            return None
    if node.op == "call_method" and node.target == "glu":
        return _GATED[F.glu]
    return None


# --- Functions of other libraries, by what they compute -------------------------------------

# Functions that torch.fx keeps whole (``torch.fx.wrap``) in the libraries' own graphs, named by
# module and name so that no library is imported to read them. Stochastic depth (Huang et al.
# 2016) scales each sample by 0 or 1 / (1 - p): linear in its input, a pass-through as dropout
# is. An attention kernel that takes its layers' weights computes q, k, v and the output
# projection inside: its input reaches weight ops (the qkv projection), and its output is the
# output projection's (the argument named here).
# Swin's patch merging pads the feature map and interleaves its even and odd positions into the
# channels (torchvision's ``_patch_merging_pad``): a rearrangement, as a pixel unshuffle is; its
# relative position bias gathers a table's rows by each pair's relative position index and
# permutes them (``_get_relative_position_bias``), a selection of the table's values. RoI
# align samples each region of interest bilinearly and averages the samples, and RoI pooling takes
# their maximum: linear in the feature map, and a choice of its values, as pooling is.
_THIRD_PARTY_PASS = frozenset(
    {
        "torchvision.ops.stochastic_depth.stochastic_depth",
        "timm.layers.drop.drop_path",
        "timm.models.layers.drop.drop_path",
        "torchvision.models.swin_transformer._patch_merging_pad",
        "torchvision.models.swin_transformer._get_relative_position_bias",
        "torchvision.ops.roi_align.roi_align",
        "torch._ops.torchvision.roi_align",
        "torchvision.ops.roi_pool.roi_pool",
        "torch._ops.torchvision.roi_pool",
    }
)
ATTENTION_KERNELS: dict[str, str] = {
    "torch.nn.functional.multi_head_attention_forward": "out_proj_weight",
    "torchvision.models.swin_transformer.shifted_window_attention": "proj_weight",
}


def qualified_name(target: object) -> str:
    """``module.name`` of a function, as the tables above name it."""
    module = getattr(target, "__module__", None) or ""
    return f"{module}.{getattr(target, '__name__', '')}"


def attention_kernel(target: object) -> str | None:
    """The argument holding the output projection's weight, if ``target`` is an attention
    kernel that takes its layers' weights (``F.multi_head_attention_forward``)."""
    if target is F.multi_head_attention_forward:
        return ATTENTION_KERNELS["torch.nn.functional.multi_head_attention_forward"]
    return ATTENTION_KERNELS.get(qualified_name(target))


def is_pass_module(module: nn.Module) -> bool:
    """A norm, dropout, pooling or reshaping module that runs torch's own forward()."""
    return isinstance(module, PASS_MODULES) and type(module).forward in _PASS_FORWARDS


def is_weight_module(module: nn.Module) -> bool:
    """A layer whose output is a linear map of its input: a conv, linear, bilinear, attention."""
    return isinstance(module, WEIGHT_MODULES)


def is_leaf(module: nn.Module) -> bool:
    """A module whose call is one step of the rule, not looked into."""
    return (
        is_weight_module(module)
        or is_activation_module(module)
        or is_pass_module(module)
        or type(module) is nn.GLU
    )


def is_meta(op: str, target: object) -> bool:
    """Whether a call reads only the metadata of its tensor arguments."""
    if op == "call_method":
        return target in _META_METHODS
    return op == "call_function" and target in _META_FUNCTIONS


def reads_size(node: fx.Node) -> bool:
    """Whether ``node`` reads a number from a tensor's shape (``y.shape``, ``y.size(-1)``,
    ``y.numel()``, ``y.dim()``), not a tensor shaped like it (``y.new_zeros(...)``)."""
    if node.op == "call_function" and node.target is getattr:
        return len(node.args) > 1 and node.args[1] in ("shape", "ndim")
    if not is_meta(node.op, node.target):
        return False
    name = str(node.target) if node.op == "call_method" else getattr(node.target, "__name__", "")
    return not (name.startswith("new_") or name.endswith("_like"))


def is_number_arithmetic(node: fx.Node) -> bool:
    """Whether ``node`` is Python's own arithmetic or indexing (``operator``, ``math``), which
    on numbers read from a shape gives a number (``y.shape[-1] ** -0.5``)."""
    module = getattr(node.target, "__module__", None) or ""
    return node.op == "call_function" and (
        module in ("_operator", "operator", "math") or node.target in (pow, abs, min, max, round)
    )


def activation_name(node: fx.Node) -> str | None:
    """The built-in activation a method or function node calls, if it is one."""
    if node.op == "call_method":
        return function_name(getattr(Tensor, str(node.target), None))
    if node.op == "call_function":
        return function_name(node.target)
    return None


def role(node: fx.Node, root: nn.Module) -> NodeRole:
    """What ``node`` is to the rule; ``"module"`` is a module that is not a leaf."""
    if node.op == "output":
        return "output"
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        if is_activation_module(module):
            return "activation"
        if is_weight_module(module):
            return "weight"
        return "pass" if is_pass_module(module) else "module"
    if node.op not in ("call_method", "call_function"):
        return "other"
    target = node.target
    if is_meta(node.op, target) or (
        target is getattr and len(node.args) > 1 and node.args[1] in _META_ATTRIBUTES
    ):
        return "meta"
    if activation_name(node) is not None:
        return "activation"
    method = node.op == "call_method"
    if target in (_WEIGHT_METHODS if method else _WEIGHT_FUNCTIONS):
        return "weight"
    if target in (_PASS_METHODS if method else _PASS_FUNCTIONS):
        return "pass"
    if target in (_LOGITS_METHODS if method else _LOGITS_FUNCTIONS):
        return "logits"
    if not method and callable(target):
        if attention_kernel(target) is not None:
            return "weight"
        if qualified_name(target) in _THIRD_PARTY_PASS:
            return "pass"
    return "other"


def is_normalising(node: fx.Node, root: nn.Module) -> bool:
    """A norm that divides its input by a statistic of it (batch, layer, group, instance, RMS
    norm run as torch's own), so that what follows is the same at any scale of the input."""
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        return isinstance(module, _NORMALISING_MODULES) and is_pass_module(module)
    if node.op == "call_function":
        try:
            return node.target in _NORMALISING_FUNCTIONS
        except TypeError:  # an unhashable target
            return False
    return False


def is_arithmetic(node: fx.Node, name: str) -> bool:
    """Whether ``node`` is the arithmetic ``name`` (``"mul"``, ``"div"``, ``"sub"``)."""
    functions, methods = _ARITHMETIC[name]
    if node.op == "call_function":
        return node.target in functions
    return node.op == "call_method" and node.target in methods


def is_statistic(node: fx.Node, root: nn.Module) -> bool:
    """A reduction, pooling or elementwise maths of the kind a norm or gate computes."""
    if node.op == "call_method":
        return node.target in _STATISTIC_METHODS
    if node.op == "call_function":
        return node.target in _STATISTIC_FUNCTIONS
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        return isinstance(module, _POOL_MODULES) and is_pass_module(module)
    return False


_REDUCTION_NAMES = frozenset(_words(f"{_REDUCTIONS} var std var_mean std_mean norm"))


def is_reduction(node: fx.Node, root: nn.Module) -> bool:
    """A reduction or pooling: a statistic over many elements, as a norm or a gate computes."""
    if node.op == "call_method":
        return node.target in _REDUCTION_NAMES
    if node.op == "call_function":
        name = getattr(node.target, "__name__", "")
        return (name in _REDUCTION_NAMES and node.target in _STATISTIC_FUNCTIONS) or (
            node.target in _STATISTIC_FUNCTIONS and "pool" in name
        )
    if node.op == "call_module":
        module = root.get_submodule(str(node.target))
        return isinstance(module, _POOL_MODULES) and is_pass_module(module)
    return False


_TEMPLATE_METHODS = frozenset({"expand_as", "view_as", "reshape_as", "type_as"})


def is_template_use(user: fx.Node, node: fx.Node) -> bool:
    """Whether ``user`` reads only the shape or dtype of ``node``: ``g.expand_as(node)``."""
    return (
        user.op == "call_method" and user.target in _TEMPLATE_METHODS and user.args[:1] != (node,)
    )


def steers_only(node: fx.Node, budget: int = 16) -> bool:
    """Whether ``node`` and everything computed from it only decide control flow: comparisons,
    reductions, ``bool()`` and ``.item()``, with no value flowing on."""
    if budget <= 0:
        return False
    if node.op == "call_method":
        steering = node.target in _STEERING_METHODS
    else:
        steering = node.op == "call_function" and node.target in _STEERING_FUNCTIONS
    return steering and all(steers_only(user, budget - 1) for user in node.users)
